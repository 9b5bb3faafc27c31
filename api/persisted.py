"""Automatic persisted queries: phones send a sha256 instead of the query text.

Kept in an in-process LRU, and in Redis when configured so that every worker knows them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from redis.asyncio import Redis

TTL_SECONDS = 7 * 24 * 3600


class PersistedQueries:
    def __init__(self, redis: Redis | None, prefix: str, size: int = 2048) -> None:
        self._redis = redis
        self._prefix = prefix + "apq:"
        self._local: OrderedDict[str, str] = OrderedDict()
        self._size = size

    @staticmethod
    def digest(query: str) -> str:
        return hashlib.sha256(query.encode()).hexdigest()

    async def get(self, sha256: str) -> str | None:
        query = self._local.get(sha256)
        if query is None and self._redis is not None:
            raw = await self._redis.get(self._prefix + sha256)
            query = raw.decode() if isinstance(raw, bytes) else raw
        if query is not None:
            self._remember(sha256, query)
        return query

    async def put(self, sha256: str, query: str) -> None:
        self._remember(sha256, query)
        if self._redis is not None:
            await self._redis.set(self._prefix + sha256, query, ex=TTL_SECONDS)

    def _remember(self, sha256: str, query: str) -> None:
        self._local[sha256] = query
        self._local.move_to_end(sha256)
        while len(self._local) > self._size:
            self._local.popitem(last=False)
