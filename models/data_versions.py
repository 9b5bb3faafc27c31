"""Data versions: counters that every committed write bumps, for the response cache.

A write recorded for a region bumps the region and each of its ancestors (a publication in a
village bumps the village, its township and its county), the counter `all`, and the
counter `epoch` never. A write for no region bumps `sys` and `all`. A reader that depends
on a region reads the versions of that region and its ancestors plus `sys`; a reader that
cannot say which regions it depends on reads `all`. Every key also holds `epoch`, bumped
when a bump may have been lost (Redis unreachable at the time): every answer is then new.

`models.audit.record` (and `record_many`) calls `touched`: inside a transaction the region is
kept in the transaction's pending set and bumped only after the outermost transaction
commits (api.compat hooks tortoise's transaction contexts); a rollback bumps nothing.
Outside a transaction the bump is immediate, and once more when the request ends
(`request_writes`): the write it records may come after the record.

The store is installed by `api.database.open_db` (so scripts and jobs bump the same
versions as the API): Redis when configured, else this process's counters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Protocol

from redis.asyncio import Redis

from models.redis_guard import REDIS_DOWN, RedisGuard
from models.regions import Region, path_ids

log = logging.getLogger("cunwu.cache")

ALL, SYS, EPOCH = "all", "sys", "epoch"
NO_REGION = 0  # a write for no region, as kept in a pending set


class VersionStore(Protocol):
    async def bump(self, fields: set[str]) -> None: ...

    async def read(self, fields: list[str]) -> list[int] | None:
        """The versions, or None when they cannot be known now (Redis unreachable)."""
        ...


class MemoryVersions:
    """One process's counters (SQLite without Redis: other processes' writes are seen
    through SQLite's data_version, api.response_cache)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def bump(self, fields: set[str]) -> None:
        for name in fields:
            self.counts[name] = self.counts.get(name, 0) + 1

    async def read(self, fields: list[str]) -> list[int] | None:
        counts = self.counts
        return [counts.get(name, 0) for name in fields]


class RedisVersions:
    """One Redis hash shared by every process: HINCRBY to bump, HMGET (one round trip) to
    read. A bump that fails is made up for by bumping `epoch` at the next success."""

    def __init__(self, redis: Redis, prefix: str, guard: RedisGuard | None = None) -> None:
        self.redis = redis
        self.key = prefix + "dv"
        self.guard = guard or RedisGuard(redis)
        self.lost = False

    async def bump(self, fields: set[str]) -> None:
        # the guard may be shared with the API's other Redis users (their client, not ours)
        if self.guard.client() is None:
            self.lost = True
            return
        redis = self.redis
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for name in sorted(fields | ({EPOCH} if self.lost else set())):
                    pipe.hincrby(self.key, name, 1)
                await pipe.execute()
        except REDIS_DOWN as exc:
            self.guard.failed(exc)
            self.lost = True
            log.warning("data versions not bumped (%s): every cached answer goes at recovery", exc)
        else:
            self.guard.succeeded()
            self.lost = False

    async def read(self, fields: list[str]) -> list[int] | None:
        if self.guard.client() is None:
            return None
        redis = self.redis
        try:
            if self.lost:
                await redis.hincrby(self.key, EPOCH, 1)
                self.lost = False
            values = await redis.hmget(self.key, fields)
        except REDIS_DOWN as exc:
            self.guard.failed(exc)
            return None
        self.guard.succeeded()
        return [int(v) if v is not None else 0 for v in values]


class Pending(set[int]):
    """The regions written in one outermost transaction; `closed` once it has ended (a task
    it started may still write: that write is bumped at once)."""

    closed = False


_stores: list[VersionStore] = []  # the installed stores, the last one used
_pending: ContextVar[Pending | None] = ContextVar("data_versions_pending", default=None)
_request: ContextVar[set[int] | None] = ContextVar("data_versions_request", default=None)
_paths: dict[int, str] = {}  # region id -> path; regions never move


def install(store: VersionStore) -> None:
    _stores.append(store)
    _paths.clear()  # a database opened anew (tests empty theirs): its regions read again


def uninstall(store: VersionStore) -> None:
    if store in _stores:
        _stores.remove(store)


def current() -> VersionStore | None:
    return _stores[-1] if _stores else None


async def region_fields(region_ids: Iterable[int]) -> set[str] | None:
    """`r:<id>` for each region and its ancestors; None when one is unknown."""
    fields: set[str] = set()
    missing = [rid for rid in region_ids if rid not in _paths]
    if missing:
        for rid, path in await Region.filter(id__in=missing).values_list("id", "path"):
            _paths[rid] = path
    for rid in region_ids:
        path = _paths.get(rid)
        if path is None:
            return None
        fields.update(f"r:{ancestor}" for ancestor in path_ids(path))
    return fields


async def bump(region_ids: set[int]) -> None:
    """Bump the versions of these regions (NO_REGION: a write for no region)."""
    store = current()
    if store is None or not region_ids:
        return
    fields = {ALL}
    if NO_REGION in region_ids:
        fields.add(SYS)
    try:
        known = await region_fields([rid for rid in region_ids if rid != NO_REGION])
    except Exception:  # the write is committed: its bump must not fail, it only widens
        log.exception("regions of a write not found: every cached answer goes")
        known = None
    fields |= known if known is not None else {SYS, EPOCH}
    await store.bump(fields)


async def touched(region_id: int | None) -> None:
    """A write for this region (None: for none): bumped when it is committed."""
    rid = region_id if region_id is not None else NO_REGION
    pending = _pending.get()
    if pending is not None and not pending.closed:
        pending.add(rid)
        return
    request = _request.get()
    if request is not None:
        request.add(rid)
    await bump({rid})


def begin() -> Token:
    """An outermost transaction begins: the writes recorded in it wait for its commit."""
    return _pending.set(Pending())


def end(token: Token) -> set[int]:
    """The outermost transaction has ended: the regions its writes touched."""
    pending = _pending.get() or Pending()
    pending.closed = True
    _pending.reset(token)
    return set(pending)


@contextmanager
def request_writes() -> Iterator[set[int]]:
    """The regions written outside any transaction during a request, bumped again at its end."""
    written: set[int] = set()
    token = _request.set(written)
    try:
        yield written
    finally:
        _request.reset(token)
