"""Fixed-window rate limits: in process for the embedded default, in Redis across workers.

While Redis is unreachable the Redis limiter counts in process (per worker: looser, but
still a limit) and goes back to Redis when it answers (`models.redis_guard`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from ipaddress import IPv6Address, ip_address, ip_network
from typing import Any, Protocol

from redis.asyncio import Redis

from models.errors import RateLimited
from models.redis_guard import REDIS_DOWN, RedisGuard


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: int) -> int:
        """Count one attempt; return 0 when allowed, else the seconds until the window ends."""
        ...

    async def refund(self, key: str) -> None:
        """Take one counted attempt back (it turned out not to count: a successful login)."""
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

    async def refund(self, key: str) -> None:
        window = self._windows.get(key)
        if window is not None and window[1] > 0:
            self._windows[key] = (window[0], window[1] - 1)


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

    async def refund(self, key: str) -> None:
        redis = self._guard.client()
        if redis is None:
            await self.fallback.refund(key)
            return
        try:  # never below zero, never a key without its expiry
            await redis.eval(REFUND, 1, self._prefix + key)
        except REDIS_DOWN as exc:
            self._guard.failed(exc)
            await self.fallback.refund(key)
            return
        self._guard.succeeded()


REFUND = """
if tonumber(redis.call('get', KEYS[1]) or '0') > 0 then return redis.call('decr', KEYS[1]) end
return 0
"""


def address_key(ip: str | None) -> str:
    """The client's address as counted by per-address limits. An IPv6 subscriber is handed a
    whole /64 and picks any address in it, so a /64 counts as one address."""
    try:
        address = ip_address(ip or "")
    except ValueError:
        return str(ip)
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


async def count_attempt(ctx: Any, limits: list[tuple[str, int, int]]) -> list[str]:
    """Count one attempt against each (key, limit, window), or refuse it with RATE_LIMITED
    (then it counts against none). Returns the keys, for `refund` if it turns out not to count."""
    limiter = ctx.services.limiter
    counted: list[str] = []
    for key, limit, window in limits:
        counted.append(key)
        retry_after = await limiter.hit(key, limit, window)
        if retry_after:
            await refund(ctx, counted)
            raise RateLimited(retry_after)
    return counted


async def refund(ctx: Any, keys: list[str]) -> None:
    for key in keys:
        await ctx.services.limiter.refund(key)


async def throttle(ctx: Any, key: str, limit: int, window: int) -> None:
    """At most `limit` calls per `window` seconds for `key`, else RATE_LIMITED."""
    retry_after = await ctx.services.limiter.hit(key, limit, window)
    if retry_after:
        raise RateLimited(retry_after)
