"""Upload and redact media without GraphQL: permission, quota, processing, rows and audit.

Decoding and writing files run outside any transaction (threads and disk), the rows after.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from media.processing import MediaRejected, Processed, Rect
from media.service import MediaStore
from models.audit import record
from models.errors import ErrorCode, Forbidden, fail
from models.media import Media, MediaKind, MediaPurpose
from models.policy import Action, Viewer, may_upload_media
from models.regions import Region
from models.regions.operations import region_path

MAX_RECTANGLES = 50


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    daily_quota_bytes: int  # per uploader, over the last 24 hours


async def upload_region(viewer: Viewer, region_id: int | None, purpose: MediaPurpose) -> Region:
    """The region an upload belongs to (by default the viewer's first grant's, else their
    village), once the viewer may upload there for `purpose`; Forbidden otherwise."""
    if region_id is not None:
        region = await Region.get_or_none(id=region_id)
        if region is None:
            raise fail(ErrorCode.NOT_FOUND, "regionId")
    else:
        candidates = [g.region_id for g in viewer.grants if g.region_id is not None]
        if viewer.user and viewer.user.village_id:
            candidates.append(viewer.user.village_id)
        if not candidates:
            raise fail(ErrorCode.REGION_REQUIRED, "regionId")
        region = await Region.get(id=candidates[0])
    if not may_upload_media(viewer, region.id, region.path, purpose):
        raise Forbidden()
    return region


async def check_quota(user_id: int, size: int, daily_quota_bytes: int) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    row = (
        await Media.filter(uploaded_by_id=user_id, created_at__gte=since)
        .annotate(total=Sum("bytes"))
        .first()
        .values("total")
    )
    used = (row or {}).get("total") or 0
    if used + size > daily_quota_bytes:
        raise fail(ErrorCode.QUOTA_EXCEEDED, "file")


def processed_from(existing: Media) -> Processed:
    return Processed(
        kind=str(existing.kind),
        mime_type=existing.mime_type,
        width=existing.width,
        height=existing.height,
        placeholder=existing.placeholder,
    )


async def upload_media(
    viewer: Viewer,
    store: MediaStore,
    *,
    data: bytes,
    purpose: MediaPurpose,
    region_id: int | None,
    limits: UploadLimits,
    too_large: bool = False,
) -> Media:
    """Store an upload in its region (see `upload_region`). The same bytes from the same
    uploader for the same use return the earlier row; bytes anyone uploaded before reuse its
    files. `too_large`: the transport stopped reading at `limits.max_bytes`."""
    user = viewer.require_user()
    region = await upload_region(viewer, region_id, purpose)
    if too_large or len(data) > limits.max_bytes:
        raise fail(ErrorCode.FILE_TOO_LARGE, "file", max_mb=limits.max_bytes // (1024 * 1024))
    upload_sha = hashlib.sha256(data).hexdigest()
    same = await Media.get_or_none(
        upload_sha256=upload_sha,
        uploaded_by_id=user.id,
        region_id=region.id,
        purpose=purpose,
        redacted_from_id=None,
    )
    # A retry, or the same receipt twice: nothing new. An orphan among them gets its day
    # again; if the orphan sweep took it meanwhile (no row updated), upload anew.
    if same is not None and (
        same.attached_at is not None
        or await Media.filter(id=same.id, attached_at=None).update(created_at=datetime.now(UTC))
    ):
        return await Media.get(id=same.id)
    await check_quota(user.id, len(data), limits.daily_quota_bytes)

    twin = await Media.filter(upload_sha256=upload_sha, redacted_from_id=None).first()
    processed: Processed | None = None
    if twin is not None:  # someone uploaded these bytes before: reuse the files
        shown, sha, variant_bytes = processed_from(twin), twin.sha256, twin.variant_bytes
        restricted = twin.restricted
    else:
        processed = shown = await clean(store, data)
        sha = await store.save_files(processed)
        variant_bytes = {name: len(blob) for name, blob in processed.variants.items()}
        # Other bytes (other metadata) can clean to an original already redacted: it stays
        # restricted, or a re-upload would make the unredacted file public again.
        restricted = await Media.exists(sha256=sha, restricted=True)
    async with in_transaction():
        # The rows sharing these files, locked: an orphan sweep deleting them either finished
        # (its files are gone: written again below) or waits until this row is committed.
        await Media.filter(sha256=sha).select_for_update().only("id")  # (values() would not lock)
        if not await store.has_files(sha, variant_bytes):
            processed = shown = processed or await clean(store, data)
            sha = await store.save_files(processed)
            variant_bytes = {name: len(blob) for name, blob in processed.variants.items()}
        return await Media.create(
            sha256=sha,
            upload_sha256=upload_sha,
            kind=shown.kind,
            mime_type=shown.mime_type,
            purpose=purpose,
            width=shown.width,
            height=shown.height,
            bytes=len(data),
            variant_bytes=variant_bytes,
            placeholder=shown.placeholder,
            region=region,
            uploaded_by_id=user.id,
            restricted=restricted,
        )


async def clean(store: MediaStore, data: bytes) -> Processed:
    try:
        return await store.process(data)
    except MediaRejected as exc:
        raise fail(exc.code, "file") from None


def rectangles_fit(rects: list[Rect], width: int, height: int) -> bool:
    return 1 <= len(rects) <= MAX_RECTANGLES and all(
        r.x >= 0
        and r.y >= 0
        and r.w >= 1
        and r.h >= 1
        and r.x + r.w <= width
        and r.y + r.h <= height
        for r in rects
    )


async def redact_media(
    viewer: Viewer, store: MediaStore, media_id: int, rectangles: list[Rect]
) -> Media:
    """Black out rectangles (in the upright original's pixels) into a new media; from then on
    every upload of the unredacted bytes is restricted."""
    user = viewer.require_user()  # the redacted copy is theirs
    source = await Media.get_or_none(id=media_id)
    if source is None:
        raise fail(ErrorCode.NOT_FOUND, "mediaId")
    viewer.require(Action.MEDIA_REDACT, await region_path(source.region_id))
    if source.kind != MediaKind.IMAGE:
        raise fail(ErrorCode.NOT_AN_IMAGE, "mediaId")
    if not rectangles_fit(rectangles, source.width or 0, source.height or 0):
        raise fail(ErrorCode.INVALID_RECTANGLE, "rectangles", max=MAX_RECTANGLES)
    processed = await store.redact(source, rectangles)
    sha = await store.save_files(processed)
    original = processed.variants["original.jpg"]
    async with in_transaction():
        media = await Media.create(
            sha256=sha,
            upload_sha256=hashlib.sha256(original).hexdigest(),
            kind=MediaKind.IMAGE,
            mime_type="image/jpeg",
            purpose=source.purpose,
            width=processed.width,
            height=processed.height,
            bytes=len(original),
            variant_bytes={name: len(blob) for name, blob in processed.variants.items()},
            placeholder=processed.placeholder,
            region_id=source.region_id,
            uploaded_by_id=user.id,
            redacted_from=source,
        )
        # Every upload of the same bytes is the same unredacted file: restrict them all.
        await Media.filter(sha256=source.sha256).update(restricted=True)
        await record(
            viewer,
            "media.redact",
            source,
            region_id=source.region_id,
            after={"redacted_media_id": media.id, "rectangles": [vars(r) for r in rectangles]},
        )
    return media
