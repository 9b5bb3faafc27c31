"""Upload a photo or PDF; black out parts of a photo (ID numbers, bank accounts)."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.inputs import enum_value
from api.media.types import Media, MediaPurpose
from api.mutations import BaseMutation
from api.ratelimit import throttle
from api.relay import decode_id
from api.uploads import Upload, UploadedFile
from media.operations import UploadLimits, upload_media, upload_region
from media.processing import Rect
from models.disclosures.redaction import redact_everywhere
from models.media import MediaPurpose as Purpose
from models.policy import Action


class UploadMediaInput(graphene.InputObjectType):
    file = Upload(required=True)
    purpose = MediaPurpose(required=True)
    region_id = graphene.ID(description="所属村或乡镇；不填则为本人任职或所在的村")


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
        region_id = decode_id(data.region_id, "Region", "regionId") if data.region_id else None
        # Who may upload where is answered before the rate limit counts the attempt.
        region = await upload_region(ctx.viewer, region_id, purpose)
        settings = ctx.settings
        await throttle(ctx, f"upload:{user.id}", settings.media_uploads_per_hour, 3600)
        media = await upload_media(
            ctx.viewer,
            ctx.services.media,
            data=upload.data,
            purpose=purpose,
            region_id=region.id,
            limits=UploadLimits(settings.media_max_bytes, settings.media_daily_quota_bytes),
            too_large=upload.too_large,
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
    reason = graphene.String(
        description="遮挡原因（照片已公开时必填）：遮挡后的副本替换各处已公开的原图，原因记入哈希链"
    )


class RedactMedia(BaseMutation):
    class Meta:
        name = "RedactMediaPayload"
        description = (
            "涂黑照片上的身份证号、银行账号等，生成新的媒体；原图此后仅工作人员可见。"
            "照片已公开的，副本替换各处公开的原图，并在哈希链上记下替换"
        )

    class Arguments:
        input = RedactMediaInput(required=True)

    media = graphene.Field(Media)
    permission = Action.MEDIA_REDACT
    atomic = False

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        media_id = decode_id(data.media_id, "Media", "mediaId")
        rects = [Rect(r.x, r.y, r.w, r.h) for r in data.rectangles]
        media = await redact_everywhere(
            ctx.viewer, ctx.services.media, media_id, rects, data.reason
        )
        return {"media": media}
