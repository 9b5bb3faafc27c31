"""Upload a photo or PDF; black out parts of a photo (ID numbers, bank accounts)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import graphene
from tortoise.functions import Sum

from api.context import Context
from api.inputs import enum_value
from api.media.types import Media, MediaPurpose
from api.mutations import BaseMutation
from api.ratelimit import throttle
from api.relay import fetch_input
from api.uploads import Upload, UploadedFile
from media.processing import MediaRejected, Processed, Rect
from models.audit import record
from models.errors import Forbidden, UserError, UserErrors
from models.media import Media as MediaModel
from models.media import MediaPurpose as Purpose
from models.policy import SYSTEM, Action
from models.regions import Region as RegionModel

MAX_RECTANGLES = 50


class UploadMediaInput(graphene.InputObjectType):
    file = Upload(required=True)
    purpose = MediaPurpose(required=True)
    region_id = graphene.ID(description="所属村或乡镇；不填则为本人任职或所在的村")


async def upload_region(ctx: Context, region_id: str | None) -> RegionModel:
    if region_id:
        return await fetch_input(RegionModel, region_id, "Region", "regionId")
    viewer = ctx.viewer
    candidates = [g.region_id for g in viewer.grants if g.region_id is not None]
    if viewer.user and viewer.user.village_id:
        candidates.append(viewer.user.village_id)
    if not candidates:
        raise UserErrors(UserError("REGION_REQUIRED", "regionId"))
    return await RegionModel.get(id=candidates[0])


def may_upload(ctx: Context, region: RegionModel, purpose: Purpose) -> bool:
    viewer = ctx.viewer
    if viewer.can(Action.MEDIA_UPLOAD, region.path):
        return True
    # A verified villager may attach photos to a flag about their own village.
    return purpose == Purpose.EVIDENCE and viewer.is_verified_resident(region.id)


async def check_quota(ctx: Context, user_id: int, size: int) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    row = (
        await MediaModel.filter(uploaded_by_id=user_id, created_at__gte=since)
        .annotate(total=Sum("bytes"))
        .first()
        .values("total")
    )
    used = (row or {}).get("total") or 0
    if used + size > ctx.settings.media_daily_quota_bytes:
        raise UserErrors(UserError("QUOTA_EXCEEDED", "file"))


def processed_from(existing: MediaModel) -> Processed:
    return Processed(
        kind=str(existing.kind),
        mime_type=existing.mime_type,
        width=existing.width,
        height=existing.height,
        placeholder=existing.placeholder,
    )


class UploadMedia(BaseMutation):
    class Meta:
        name = "UploadMediaPayload"
        description = (
            "上传照片或 PDF（GraphQL multipart 请求规范，须带 GraphQL-Preflight 请求头）。"
            "同一用户重复上传同一文件时返回原记录。"
        )

    class Arguments:
        input = UploadMediaInput(required=True)

    media = graphene.Field(Media)
    login_required = True
    atomic = False  # decoding runs in a thread, outside any transaction

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user = ctx.viewer.require_user()
        upload: UploadedFile = data.file
        purpose = Purpose(enum_value(data.purpose))
        region = await upload_region(ctx, data.region_id)
        if not may_upload(ctx, region, purpose):
            raise Forbidden()
        settings = ctx.settings
        await throttle(ctx, f"upload:{user.id}", settings.media_uploads_per_hour, 3600)
        if upload.too_large:
            max_mb = settings.media_max_bytes // (1024 * 1024)
            raise UserErrors(UserError("FILE_TOO_LARGE", "file", {"max_mb": max_mb}))
        upload_sha = hashlib.sha256(upload.data).hexdigest()
        same = await MediaModel.get_or_none(
            upload_sha256=upload_sha,
            uploaded_by_id=user.id,
            region_id=region.id,
            purpose=purpose,
            redacted_from_id=None,
        )
        if same is not None:  # a retry, or the same receipt twice: nothing new
            return {"media": same}
        await check_quota(ctx, user.id, len(upload.data))

        store = ctx.services.media
        twin = await MediaModel.filter(upload_sha256=upload_sha, redacted_from_id=None).first()
        if twin is not None:  # someone uploaded these bytes before: reuse the files
            processed, sha, variant_bytes = processed_from(twin), twin.sha256, twin.variant_bytes
            restricted = twin.restricted
        else:
            try:
                processed = await store.process(upload.data)
            except MediaRejected as exc:
                raise UserErrors(UserError(exc.code, "file")) from None
            sha = await store.save_files(processed)
            variant_bytes = {name: len(blob) for name, blob in processed.variants.items()}
            restricted = False
        media = await MediaModel.create(
            sha256=sha,
            upload_sha256=upload_sha,
            kind=processed.kind,
            mime_type=processed.mime_type,
            purpose=purpose,
            width=processed.width,
            height=processed.height,
            bytes=len(upload.data),
            variant_bytes=variant_bytes,
            placeholder=processed.placeholder,
            region=region,
            uploaded_by_id=user.id,
            restricted=restricted,
        )
        return {"media": media}


class RectangleInput(graphene.InputObjectType):
    x = graphene.Int(required=True)
    y = graphene.Int(required=True)
    w = graphene.Int(required=True)
    h = graphene.Int(required=True)


class RedactMediaInput(graphene.InputObjectType):
    media_id = graphene.ID(required=True)
    rectangles = graphene.List(
        graphene.NonNull(RectangleInput),
        required=True,
        description="要涂黑的区域，按摆正后原图的像素坐标",
    )


class RedactMedia(BaseMutation):
    class Meta:
        name = "RedactMediaPayload"
        description = "涂黑照片上的身份证号、银行账号等，生成新的媒体；原图此后仅工作人员可见"

    class Arguments:
        input = RedactMediaInput(required=True)

    media = graphene.Field(Media)
    permission = Action.MEDIA_REDACT
    atomic = False

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        source = await fetch_input(MediaModel, data.media_id, "Media", "mediaId")
        cls.authorize(ctx, await ctx.region_path(source.region_id) or SYSTEM)
        if source.kind != "IMAGE":
            raise UserErrors(UserError("NOT_AN_IMAGE", "mediaId"))
        rects = [Rect(r.x, r.y, r.w, r.h) for r in data.rectangles]
        if not 1 <= len(rects) <= MAX_RECTANGLES or not all(
            r.x >= 0
            and r.y >= 0
            and r.w >= 1
            and r.h >= 1
            and r.x + r.w <= source.width
            and r.y + r.h <= source.height
            for r in rects
        ):
            raise UserErrors(UserError("INVALID_RECTANGLE", "rectangles", {"max": MAX_RECTANGLES}))
        store = ctx.services.media
        processed = await store.redact(source, rects)
        sha = await store.save_files(processed)
        original = processed.variants["original.jpg"]
        media = await MediaModel.create(
            sha256=sha,
            upload_sha256=hashlib.sha256(original).hexdigest(),
            kind="IMAGE",
            mime_type="image/jpeg",
            purpose=source.purpose,
            width=processed.width,
            height=processed.height,
            bytes=len(original),
            variant_bytes={name: len(blob) for name, blob in processed.variants.items()},
            placeholder=processed.placeholder,
            region_id=source.region_id,
            uploaded_by_id=ctx.viewer.user_id,
            redacted_from=source,
        )
        # Every upload of the same bytes is the same unredacted file: restrict them all.
        await MediaModel.filter(sha256=source.sha256).update(restricted=True)
        await record(
            ctx.viewer,
            "media.redact",
            source,
            region_id=source.region_id,
            after={"redacted_media_id": media.id, "rectangles": [vars(r) for r in rects]},
        )
        return {"media": media}
