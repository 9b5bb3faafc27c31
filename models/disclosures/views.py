"""View counts, counted cheaply: buffered in Redis (or in process) and flushed to the rows.

While Redis is unreachable views are buffered in process and flushed with the Redis ones.
"""

from __future__ import annotations

from collections import Counter

from redis.asyncio import Redis
from tortoise.expressions import F

from models.disclosures import Disclosure
from models.redis_guard import REDIS_DOWN, RedisGuard


class ViewCounter:
    def __init__(self, redis: Redis | None, prefix: str, guard: RedisGuard | None = None) -> None:
        self._guard = guard or RedisGuard(redis)
        self._key = prefix + "views"
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

    async def flush(self) -> int:
        """Move the buffered counts into the database (run by the scheduler)."""
        counts: Counter[int] = self._local
        self._local = Counter()
        redis = self._guard.client()
        if redis is not None:
            try:
                counts.update(await self._take_from_redis(redis))
            except REDIS_DOWN as exc:  # the rest waits in Redis for the next flush
                self._guard.failed(exc)
            else:
                self._guard.succeeded()
        for disclosure_id, count in counts.items():
            await Disclosure.filter(id=disclosure_id).update(view_count=F("view_count") + count)
        return sum(counts.values())

    async def _take_from_redis(self, redis: Redis) -> dict[int, int]:
        moving = self._key + ":flushing"
        try:
            await redis.rename(self._key, moving)
        except Exception as exc:  # no key: nothing was viewed
            if "no such key" in str(exc).lower():
                return {}
            raise
        raw = await redis.hgetall(moving)
        await redis.delete(moving)
        return {int(k): int(v) for k, v in raw.items()}
