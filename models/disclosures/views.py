"""View counts, counted cheaply: buffered in Redis (or in process) and flushed to the rows."""

from __future__ import annotations

from collections import Counter

from redis.asyncio import Redis
from tortoise.expressions import F

from models.disclosures import Disclosure


class ViewCounter:
    def __init__(self, redis: Redis | None, prefix: str) -> None:
        self._redis = redis
        self._key = prefix + "views"
        self._local: Counter[int] = Counter()

    async def hit(self, disclosure_id: int) -> None:
        if self._redis is not None:
            await self._redis.hincrby(self._key, str(disclosure_id), 1)
        else:
            self._local[disclosure_id] += 1

    async def pending(self, ids: list[int]) -> dict[int, int]:
        if self._redis is None:
            return {i: self._local[i] for i in ids}
        values = await self._redis.hmget(self._key, [str(i) for i in ids])
        return {i: int(v or 0) for i, v in zip(ids, values, strict=True)}

    async def flush(self) -> int:
        """Move the buffered counts into the database (run by the scheduler)."""
        if self._redis is None:
            counts, self._local = dict(self._local), Counter()
        else:
            moving = self._key + ":flushing"
            try:
                await self._redis.rename(self._key, moving)
            except Exception as exc:  # no key: nothing was viewed
                if "no such key" in str(exc).lower():
                    return 0
                raise
            raw = await self._redis.hgetall(moving)
            await self._redis.delete(moving)
            counts = {int(k): int(v) for k, v in raw.items()}
        for disclosure_id, count in counts.items():
            await Disclosure.filter(id=disclosure_id).update(view_count=F("view_count") + count)
        return sum(counts.values())
