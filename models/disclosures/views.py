"""View counts, counted cheaply: buffered in Redis (or in process) and flushed to the rows.

While Redis is unreachable views are buffered in process and flushed with the Redis ones;
the app flushes its in-process buffer when it shuts down, so a restart loses no views.

A flush takes Redis's buffered counts exactly once, even with several processes flushing at
the same time and a crash at any point:
- one MULTI renames the live hash to a batch key of its own and adds that key to the set of
  batches: atomic, so each hit lands in exactly one batch, and two flushes never take the
  same hits; later hits start a new live hash;
- a batch's counts and a `ViewFlush` row named after the batch commit in one transaction;
  only then are the batch key and its set member removed;
- every flush applies each batch in the set, its own and any a crashed flush left: a batch
  whose `ViewFlush` row exists (the crash came after the commit, or another process got
  there first) is only removed, never counted again.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.disclosures import ViewFlush
from models.redis_guard import REDIS_DOWN, RedisGuard, as_text
from models.sql import Params, is_postgres

log = logging.getLogger("cunwu.views")
KEEP_FLUSHES = timedelta(days=7)  # applied batch names kept against a late retry
CHUNK = 500  # disclosures per UPDATE


async def add_views(counts: dict[int, int]) -> None:
    """Add each disclosure's count in one UPDATE per chunk of disclosures."""
    conn = Tortoise.get_connection("default")
    items = sorted((i, c) for i, c in counts.items() if c)
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        params = Params(is_postgres(conn))
        cases = " ".join(f"WHEN {params(i)} THEN {params(c)}" for i, c in chunk)
        ids = params.many([i for i, _ in chunk])
        await conn.execute_query(
            f"UPDATE disclosure SET view_count = view_count + CASE id {cases} ELSE 0 END "
            f"WHERE id IN ({ids})",
            params.values,
        )


class ViewCounter:
    def __init__(self, redis: Redis | None, prefix: str, guard: RedisGuard | None = None) -> None:
        self._guard = guard or RedisGuard(redis)
        self._key = prefix + "views"
        self._batch_prefix = prefix + "views:batch:"
        self._batches = prefix + "views:batches"
        self._local: Counter[int] = Counter()

    async def hit(self, disclosure_id: int) -> None:
        redis = self._guard.client()
        if redis is not None:
            try:
                await redis.hincrby(self._key, str(disclosure_id), 1)
            except REDIS_DOWN as exc:
                self._guard.failed(exc)
            else:
                self._guard.succeeded()
                return
        self._local[disclosure_id] += 1

    async def pending(self, ids: list[int]) -> dict[int, int]:
        counts = {i: self._local[i] for i in ids}
        redis = self._guard.client()
        if redis is None:
            return counts
        try:
            values = await redis.hmget(self._key, [str(i) for i in ids])
        except REDIS_DOWN as exc:
            self._guard.failed(exc)
            return counts
        self._guard.succeeded()
        return {i: counts[i] + int(v or 0) for i, v in zip(ids, values, strict=True)}

    async def flush(self, *, now: datetime | None = None) -> int:
        """Move the buffered counts into the database (run by the scheduler every minute, and
        by the app as it shuts down); returns the number of views written."""
        now = now or datetime.now(UTC)
        local, self._local = self._local, Counter()
        try:
            await add_views(local)
        except BaseException:
            self._local.update(local)  # kept for the next flush
            raise
        total = sum(local.values())
        redis = self._guard.client()
        if redis is not None:
            try:
                total += await self._flush_redis(redis, now)
            except REDIS_DOWN as exc:  # the rest waits in Redis for the next flush
                self._guard.failed(exc)
            else:
                self._guard.succeeded()
        return total

    async def _flush_redis(self, redis: Redis, now: datetime) -> int:
        await self.take(redis)
        total = 0
        for member in sorted(await redis.smembers(self._batches)):
            total += await self.apply_batch(redis, as_text(member), now)
        await ViewFlush.filter(applied_at__lt=now - KEEP_FLUSHES).delete()
        return total

    async def take(self, redis: Redis) -> str:
        """Rename the live hash to a new batch and register it, atomically."""
        batch = uuid.uuid4().hex
        async with redis.pipeline(transaction=True) as pipe:
            pipe.rename(self._key, self._batch_prefix + batch)
            pipe.sadd(self._batches, batch)
            renamed, _ = await pipe.execute(raise_on_error=False)
        if isinstance(renamed, redis_errors.ResponseError):  # no live hash: nothing viewed
            await redis.srem(self._batches, batch)
        elif isinstance(renamed, Exception):
            raise renamed
        return batch

    async def apply_batch(self, redis: Redis, batch: str, now: datetime) -> int:
        """Write one batch's counts once, then forget the batch."""
        key = self._batch_prefix + batch
        counts = {int(k): int(v) for k, v in (await redis.hgetall(key)).items()}
        if counts:
            try:
                async with in_transaction():
                    await ViewFlush.create(id=batch, applied_at=now)
                    await add_views(counts)
            except IntegrityError:  # applied already: a crash after the commit, or a twin
                counts = {}
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.srem(self._batches, batch)
            await pipe.execute()
        return sum(counts.values())
