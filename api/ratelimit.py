"""Fixed-window rate limits: in process for the embedded default, in Redis across workers.

While Redis is unreachable the Redis limiter counts in process (per worker: looser, but
still a limit) and goes back to Redis when it answers (`models.redis_guard`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

from redis.asyncio import Redis

from models.errors import RateLimited
from models.redis_guard import REDIS_DOWN, RedisGuard


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: int) -> int:
        """Count one attempt; return 0 when allowed, else the seconds until the window ends."""
        ...


class MemoryRateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._max_keys = max_keys

    async def hit(self, key: str, limit: int, window: int) -> int:
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        self._windows.move_to_end(key)
        while len(self._windows) > self._max_keys:
            self._windows.popitem(last=False)
        if count > limit:
            return max(1, int(start + window - now + 0.999))
        return 0


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str, guard: RedisGuard | None = None) -> None:
        self._guard = guard or RedisGuard(redis)
        self._prefix = prefix + "rl:"
        self.fallback = MemoryRateLimiter()

    async def hit(self, key: str, limit: int, window: int) -> int:
        redis = self._guard.client()
        if redis is None:
            return await self.fallback.hit(key, limit, window)
        name = self._prefix + key
        try:
            async with redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window, nx=True)
                pipe.ttl(name)
                count, _, ttl = await pipe.execute()
        except REDIS_DOWN as exc:
            self._guard.failed(exc)
            return await self.fallback.hit(key, limit, window)
        self._guard.succeeded()
        if count > limit:
            return max(1, int(ttl))
        return 0


async def throttle(ctx: Any, key: str, limit: int, window: int) -> None:
    """At most `limit` calls per `window` seconds for `key`, else RATE_LIMITED."""
    retry_after = await ctx.services.limiter.hit(key, limit, window)
    if retry_after:
        raise RateLimited(retry_after)
