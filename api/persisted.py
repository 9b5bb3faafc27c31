"""Automatic persisted queries: phones send a sha256 instead of the query text.

Kept in an in-process LRU, and in Redis when configured so that every worker knows them
(while Redis is unreachable, in the LRU only).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from redis.asyncio import Redis

from models.redis_guard import REDIS_DOWN, RedisGuard

TTL_SECONDS = 7 * 24 * 3600


class PersistedQueries:
    def __init__(
        self, redis: Redis | None, prefix: str, size: int = 2048, guard: RedisGuard | None = None
    ) -> None:
        self._guard = guard or RedisGuard(redis)
        self._prefix = prefix + "apq:"
        self._local: OrderedDict[str, str] = OrderedDict()
        self._size = size

    @staticmethod
    def digest(query: str) -> str:
        return hashlib.sha256(query.encode()).hexdigest()

    async def get(self, sha256: str) -> str | None:
        query = self._local.get(sha256)
        redis = self._guard.client() if query is None else None
        if redis is not None:
            try:
                raw = await redis.get(self._prefix + sha256)
            except REDIS_DOWN as exc:
                self._guard.failed(exc)
            else:
                self._guard.succeeded()
                query = raw.decode() if isinstance(raw, bytes) else raw
        if query is not None:
            self._remember(sha256, query)
        return query

    async def put(self, sha256: str, query: str) -> None:
        self._remember(sha256, query)
        redis = self._guard.client()
        if redis is not None:
            try:
                await redis.set(self._prefix + sha256, query, ex=TTL_SECONDS)
            except REDIS_DOWN as exc:
                self._guard.failed(exc)
            else:
                self._guard.succeeded()

    def _remember(self, sha256: str, query: str) -> None:
        self._local[sha256] = query
        self._local.move_to_end(sha256)
        while len(self._local) > self._size:
            self._local.popitem(last=False)
