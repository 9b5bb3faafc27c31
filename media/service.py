"""Store processed media: files first (content-addressed, atomic), then the row."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import cast

import anyio.to_thread
from anyio import CapacityLimiter
from tortoise.transactions import in_transaction

from media.processing import Processed, Rect, process, redact
from media.storage import Storage, media_key
from models.disclosures import Disclosure, StagedCorrection, Status
from models.finance import AccountLine
from models.media import Media

ORPHAN_AFTER = timedelta(hours=24)


def original_name(media: Media) -> str:
    return "original.pdf" if media.kind == "PDF" else "original.jpg"


class MediaStore:
    def __init__(self, storage: Storage, max_pixels: int, threads: int = 2) -> None:
        self.storage = storage
        self.max_pixels = max_pixels
        # Decoding is CPU-bound: a few threads, so uploads cannot starve other work.
        self.limiter = CapacityLimiter(threads)

    async def process(self, data: bytes) -> Processed:
        return await anyio.to_thread.run_sync(process, data, self.max_pixels, limiter=self.limiter)

    async def redact(self, media: Media, rectangles: list[Rect]) -> Processed:
        path = self.storage.local_path(media_key(media.sha256, original_name(media)))
        assert path is not None
        data = await anyio.to_thread.run_sync(path.read_bytes)
        return await anyio.to_thread.run_sync(
            redact, data, rectangles, self.max_pixels, limiter=self.limiter
        )

    async def save_files(self, processed: Processed) -> str:
        """Write every variant under the clean original's sha256; return that sha256."""
        original = next(v for k, v in processed.variants.items() if k.startswith("original."))
        sha = hashlib.sha256(original).hexdigest()
        for name, blob in processed.variants.items():
            key = media_key(sha, name)
            if not await self.storage.exists(key):  # the same photo is stored once
                await self.storage.put(key, blob)
        return sha

    async def delete_files(self, media: Media) -> None:
        for name in media.variant_bytes:
            await self.storage.delete(media_key(media.sha256, name))

    async def has_files(self, sha256: str, names: Iterable[str]) -> bool:
        for name in names:
            if not await self.storage.exists(media_key(sha256, name)):
                return False
        return True


async def mark_attached(media_ids: Iterable[int]) -> None:
    """Something published now links to these media: they become public (unless restricted)
    and the orphan clean-up leaves them alone."""
    await Media.filter(id__in=list(media_ids), attached_at=None).update(
        attached_at=datetime.now(UTC)
    )


async def in_use_by_drafts(media_ids: list[int]) -> set[int]:
    """Which of `media_ids` a draft links to: a disclosure's working copy or staged
    correction, a month's lines (any version). Published links set `attached_at`; flag
    evidence is attached when the flag is submitted."""
    wanted = set(media_ids)
    receipts = await AccountLine.filter(receipt_id__in=media_ids).values_list(
        "receipt_id", flat=True
    )
    drafts = await Disclosure.filter(
        status__not_in=[Status.PUBLISHED, Status.RETRACTED]
    ).values_list("attachment_ids", flat=True)
    staged = await StagedCorrection.all().values_list("attachment_ids", flat=True)
    linked = {m for ids in [*drafts, *staged] for m in ids or []}
    return wanted & (set(cast(list[int], receipts)) | linked)


async def delete_orphans(
    store: MediaStore, now: datetime | None = None, *, batch: int = 500
) -> int:
    """Delete uploads attached to nothing after 24 h; files go when no row needs them.

    Never races an upload of the same files (see `upload_media`, which locks the rows
    sharing its sha256 before checking its files): per batch, one transaction locks the
    orphans (FOR UPDATE on PostgreSQL; SQLite runs one transaction at a time), checks again
    that nothing links to them, deletes their rows, deletes the files of every sha256 no row
    names any more, and commits. An upload reusing those files either waited for the lock
    (it then finds the files missing and writes them again) or committed its row first (the
    files are then kept). A crash after deleting files and before the commit leaves the rows:
    the next sweep deletes them, and an upload meanwhile writes the missing files again."""
    cutoff = (now or datetime.now(UTC)) - ORPHAN_AFTER
    candidates = cast(
        list[int],
        await Media.filter(attached_at=None, created_at__lt=cutoff, redactions__id__isnull=True)
        .distinct()
        .values_list("id", flat=True),
    )
    deleted = 0
    for start in range(0, len(candidates), batch):
        deleted += await delete_batch(store, candidates[start : start + batch], cutoff)
    return deleted


async def delete_batch(store: MediaStore, ids: list[int], cutoff: datetime) -> int:
    async with in_transaction():
        rows = await (
            Media.filter(id__in=ids, attached_at=None, created_at__lt=cutoff)
            .select_for_update()
            .order_by("id")
        )
        redacted = await Media.filter(redacted_from_id__in=[m.id for m in rows]).values_list(
            "redacted_from_id", flat=True
        )
        keep = await in_use_by_drafts([m.id for m in rows]) | set(cast(list[int], redacted))
        doomed = [m for m in rows if m.id not in keep]
        if not doomed:
            return 0
        await Media.filter(id__in=[m.id for m in doomed]).delete()
        shas = {m.sha256 for m in doomed}
        still = set(await Media.filter(sha256__in=list(shas)).values_list("sha256", flat=True))
        gone: set[str] = set()
        for media in doomed:
            if media.sha256 not in still and media.sha256 not in gone:
                gone.add(media.sha256)
                await store.delete_files(media)
    return len(doomed)
