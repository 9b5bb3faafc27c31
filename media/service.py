"""Store processed media: files first (content-addressed, atomic), then the row."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import anyio.to_thread
from anyio import CapacityLimiter

from media.processing import Processed, Rect, process, redact
from media.storage import Storage, media_key
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


async def mark_attached(media_ids: Iterable[int]) -> None:
    """Something published now links to these media: they become public (unless restricted)
    and the orphan clean-up leaves them alone."""
    await Media.filter(id__in=list(media_ids), attached_at=None).update(
        attached_at=datetime.now(UTC)
    )


async def delete_orphans(store: MediaStore, now: datetime | None = None) -> int:
    """Delete uploads attached to nothing after 24 h; files go when no row needs them."""
    cutoff = (now or datetime.now(UTC)) - ORPHAN_AFTER
    orphans = await Media.filter(
        attached_at=None, created_at__lt=cutoff, redactions__id__isnull=True
    ).distinct()
    for media in orphans:
        await media.delete()
        if not await Media.exists(sha256=media.sha256):
            await store.delete_files(media)
    return len(orphans)
