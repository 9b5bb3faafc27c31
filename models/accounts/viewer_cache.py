"""Signed-in viewers kept between requests: a session's user row and active grants, so a
repeated request reads no session, user or grant table (issue 16: ~2 ms a request).

Correctness before speed. An entry is used only while the shared *stamp* it was filled under
is unchanged, and every operation that changes what a viewer holds (its sessions, password,
the account's state, grants, residency, phone, ID number) calls `viewer_changed` after its
commit, which moves the stamp for every process at once:

- with Redis (several processes): a generation per user, `<prefix>viewer:<id>`, and one
  epoch for everyone, `<prefix>viewer:epoch`, both read with one MGET per request (the
  requests that ask in the same turn of the event loop share one). Each
  change writes a random value (not a counter: a Redis that lost its keys and counted again
  could repeat a value an old entry was stored under). Redis
  unreachable: no cache (the database answers); a change that could not be written moves
  the epoch as soon as this process reaches Redis again.
- without Redis: a stamp file in DATA_DIR, replaced on every change; every process of the
  host (scripts too) sees it with one stat. Any change empties the whole cache.

The stamp is read before the database is, so a fill racing a change is stored under the old
stamp and never used. An entry lives at most VIEWER_CACHE_SECONDS by the monotonic clock and
never past the token that filled it (whose expiry every request checks anyway).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterable
from copy import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from redis.asyncio import Redis

from models.accounts import User
from models.redis_guard import REDIS_DOWN, RedisGuard

if TYPE_CHECKING:
    from models.policy import Grant

log = logging.getLogger("cunwu.viewers")

Key = tuple[str, int]  # (session id, user id): both named by the access token


class Stamps(Protocol):
    """Where every process reads whether a user's viewer changed."""

    async def read(self, user_id: int) -> object | None:
        """The user's current stamp; None: unknown now, so do not use the cache."""

    async def bump(self, user_ids: Iterable[int]) -> None: ...

    async def aclose(self) -> None: ...


class FileStamps:
    """One stamp for everybody: a file replaced (a new inode) on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def read(self, user_id: int) -> object | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return (0, 0)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    async def bump(self, user_ids: Iterable[int]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".viewer-stamp-")
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(8))
            os.replace(tmp, self.path)
        except OSError:
            log.exception(
                "viewer stamp %s not written: other processes keep cached viewers "
                "up to VIEWER_CACHE_SECONDS",
                self.path,
            )

    async def aclose(self) -> None:
        pass


class RedisStamps:
    """A generation per user and one epoch, in Redis (see the module's docstring)."""

    # far longer than any entry lives: a key gone again reads as None, the stamp of an entry
    # filled before the key was first written
    KEEP_SECONDS = 24 * 3600

    def __init__(self, redis: Redis, prefix: str, guard: RedisGuard, own: bool = False) -> None:
        self.redis_guard = guard
        self.prefix = prefix
        self.epoch_key = f"{prefix}viewer:epoch"
        self.own = own  # a client of its own (scripts), closed with it
        self._redis = redis
        # a change this process could not write: everyone's entries are void once it can
        self.pending = False
        self._batch: dict[int, asyncio.Future[object | None]] | None = None
        self._reading: set[asyncio.Task[None]] = set()

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}viewer:{user_id}"

    async def read(self, user_id: int) -> object | None:
        """The user's stamp, read by one MGET shared with the other reads made in the same
        turn of the event loop: it is sent after all of them were asked, so each sees every
        change made before it asked, as a read of its own would."""
        if self._batch is None:
            self._batch = {}
            asyncio.get_running_loop().call_soon(self._send_batch)
        waiter = self._batch.get(user_id)
        if waiter is None:
            waiter = self._batch[user_id] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(waiter)

    def _send_batch(self) -> None:
        batch, self._batch = self._batch or {}, None
        task = asyncio.ensure_future(self._read_batch(batch))
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)

    async def _read_batch(self, batch: dict[int, asyncio.Future[object | None]]) -> None:
        stamps: list[object | None] = [None] * len(batch)
        try:
            stamps = await self._read_many(list(batch))
        finally:
            for waiter, stamp in zip(batch.values(), stamps, strict=True):
                if not waiter.done():
                    waiter.set_result(stamp)

    async def _read_many(self, user_ids: list[int]) -> list[object | None]:
        redis = self.redis_guard.client()
        if redis is None:
            return [None] * len(user_ids)
        try:
            if self.pending:
                await redis.set(self.epoch_key, secrets.token_hex(8))
                self.pending = False
            epoch, *generations = await redis.mget(self.epoch_key, *map(self._key, user_ids))
        except REDIS_DOWN as exc:
            self.redis_guard.failed(exc)
            return [None] * len(user_ids)
        self.redis_guard.succeeded()
        return [(epoch, generation) for generation in generations]

    async def bump(self, user_ids: Iterable[int]) -> None:
        redis = self.redis_guard.client()
        if redis is None:
            self.pending = True
            return
        try:
            async with redis.pipeline(transaction=False) as pipe:
                if self.pending:
                    pipe.set(self.epoch_key, secrets.token_hex(8))
                for user_id in user_ids:
                    pipe.set(self._key(user_id), secrets.token_hex(8), ex=self.KEEP_SECONDS)
                await pipe.execute()
        except REDIS_DOWN as exc:
            self.redis_guard.failed(exc)
            self.pending = True
            log.warning("viewer change not written to Redis: the epoch moves when it answers")
            return
        self.pending = False
        self.redis_guard.succeeded()

    async def aclose(self) -> None:
        if self.own:
            await self._redis.aclose()


@dataclass(frozen=True)
class Entry:
    user: User  # never handed out: each request gets its own copy
    grants: tuple[Grant, ...]
    stamp: object
    until: float  # time.monotonic()


class ViewerCache:
    """A bounded LRU of signed-in sessions' viewers, valid while their stamp is."""

    def __init__(self, stamps: Stamps, size: int = 10_000, seconds: float = 60.0) -> None:
        self.stamps = stamps
        self.size = size
        self.seconds = seconds
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def stamp(self, user_id: int) -> object | None:
        stamp = await self.stamps.read(user_id)
        if stamp is None:  # nobody can say what changed meanwhile: forget everything
            self._entries.clear()
        return stamp

    def get(self, key: Key, stamp: object) -> tuple[User, tuple[Grant, ...]] | None:
        entry = self._entries.get(key)
        if entry is None or entry.stamp != stamp or entry.until <= time.monotonic():
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return copy(entry.user), entry.grants

    def put(
        self, key: Key, user: User, grants: tuple[Grant, ...], stamp: object, expires_at: float
    ) -> None:
        """`expires_at`: the token's expiry (epoch seconds); the entry dies no later."""
        left = min(self.seconds, expires_at - time.time())
        if left <= 0:
            return
        self._entries[key] = Entry(copy(user), grants, stamp, time.monotonic() + left)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop_users(self, user_ids: Iterable[int]) -> None:
        gone = set(user_ids)
        for key in [k for k in self._entries if k[1] in gone]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


# This process's caches (an API process has one; tests may run two apps in one process), and
# where a process without one (a script) writes its changes.
_caches: list[ViewerCache] = []
_stamps: Stamps | None = None


def install(cache: ViewerCache) -> None:
    _caches.append(cache)


def uninstall(cache: ViewerCache) -> None:
    if cache in _caches:
        _caches.remove(cache)


def configure(stamps: Stamps | None) -> Stamps | None:
    """Where changes go when no cache is installed; returns the previous one."""
    global _stamps
    previous, _stamps = _stamps, stamps
    return previous


async def viewer_changed(*user_ids: int) -> None:
    """What these users' viewers hold changed (call after the commit): every process's
    cached viewers of them are dropped before its next request is answered."""
    ids = [u for u in user_ids if u is not None]
    if not ids:
        return
    stores: dict[int, Stamps] = {}
    for cache in _caches:
        cache.drop_users(ids)
        stores.setdefault(id(cache.stamps), cache.stamps)
    if not stores and _stamps is not None:
        stores[id(_stamps)] = _stamps
    for stamps in stores.values():
        await stamps.bump(ids)
