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

With Redis, an API process keeps a mirror of the versions (`RedisVersions.follow`): every
bump is published with the new values, the mirror applies them, and a full read every
second catches anything a message missed. A cache hit then reads no Redis at all. The
mirror is trusted only while that loop runs (it stops being trusted three seconds after its
last full read, at once on any error or on a bump of this process that failed); reads
go to Redis until it is trusted again. Another process's write reaches a mirror within the
time a published message takes (well under a millisecond on one host), at most a second
when a message is lost.

The hash also holds a random `gen`, set when absent: a Redis that lost its data (restarted
empty, flushed) counts from 0 again, and without it an old answer kept in a process could
match the new counts.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Protocol

import orjson
from redis.asyncio import Redis

from models.redis_guard import REDIS_DOWN, RedisGuard
from models.regions import Region, path_ids

log = logging.getLogger("cunwu.cache")

ALL, SYS, EPOCH, GEN = "all", "sys", "epoch", "gen"
NO_REGION = 0  # a write for no region, as kept in a pending set


class VersionStore(Protocol):
    async def bump(self, fields: set[str]) -> None: ...

    async def read(self, fields: list[str]) -> list[int] | None:
        """The versions, or None when they cannot be known now (Redis unreachable)."""
        ...

    def peek(self, fields: Sequence[str]) -> list[int] | None:
        """The versions as this process knows them without waiting, or None when it does
        not know them for sure (then `read`)."""
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
        return self.peek(fields)

    def peek(self, fields: Sequence[str]) -> list[int] | None:
        counts = self.counts
        return [counts.get(name, 0) for name in fields]


# HINCRBY each field, then publish the new values (one round trip, in this order for every
# subscriber); `gen` is set first when the hash is new
BUMP_SCRIPT = """
redis.call('HSETNX', KEYS[1], 'gen', ARGV[1])
local out = {'gen', redis.call('HGET', KEYS[1], 'gen')}
for i = 2, #ARGV do
  out[#out + 1] = ARGV[i]
  out[#out + 1] = redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
end
redis.call('PUBLISH', KEYS[2], cjson.encode(out))
return out
"""
RESYNC_SECONDS = 1.0  # a full read of the hash this often, whatever was published
TRUST_SECONDS = 3.0  # a mirror not read in full for this long is not used


def new_generation() -> str:
    return str(secrets.randbits(62) + 1)


def hash_counts(snapshot: dict) -> dict[str, int]:
    """HGETALL's answer (bytes or str field names, text values) as name -> count."""
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in snapshot.items()}


class RedisVersions:
    """One Redis hash shared by every process: a script that HINCRBYs and publishes to bump,
    the mirror (while followed) or HMGET (one round trip) to read. A bump that fails is
    made up for by bumping `epoch` at the next success."""

    def __init__(self, redis: Redis, prefix: str, guard: RedisGuard | None = None) -> None:
        self.redis = redis
        self.key = prefix + "dv"
        self.channel = prefix + "dv:bumps"
        self.guard = guard or RedisGuard(redis)
        self.lost = False
        self.mirror: dict[str, int] = {}
        self.mirror_gen = 0
        self.trusted_until = 0.0  # monotonic time; 0: not trusted
        self._script = redis.register_script(BUMP_SCRIPT)
        self._follower: asyncio.Task[None] | None = None

    async def bump(self, fields: set[str]) -> None:
        # the guard may be shared with the API's other Redis users (their client, not ours)
        if self.guard.client() is None:
            self.lost = True
            self.distrust()
            return
        names = sorted(fields | ({EPOCH} if self.lost else set()))
        try:
            values = await self._script(
                keys=[self.key, self.channel], args=[new_generation(), *names]
            )
        except REDIS_DOWN as exc:
            self.guard.failed(exc)
            self.lost = True
            self.distrust()
            log.warning("data versions not bumped (%s): every cached answer goes at recovery", exc)
        else:
            self.guard.succeeded()
            self.lost = False
            self.apply(values)  # this process sees its own write at once

    async def read(self, fields: list[str]) -> list[int] | None:
        known = self.peek(fields)
        if known is not None:
            return known
        if self.guard.client() is None:
            return None
        redis = self.redis
        try:
            if self.lost:
                await self._script(keys=[self.key, self.channel], args=[new_generation(), EPOCH])
                self.lost = False
            values = await redis.hmget(self.key, fields)
        except REDIS_DOWN as exc:
            self.guard.failed(exc)
            return None
        self.guard.succeeded()
        return [int(v) if v is not None else 0 for v in values]

    def peek(self, fields: Sequence[str]) -> list[int] | None:
        if self.lost or time.monotonic() >= self.trusted_until:
            return None
        mirror = self.mirror
        return [mirror.get(name, 0) for name in fields]

    # -- the mirror ---------------------------------------------------------------------

    def distrust(self) -> None:
        self.trusted_until = 0.0

    def apply(self, flat: list) -> None:
        """Published (or returned) pairs name, value, `gen` first: counts only grow within a
        generation; a new one (the hash was lost) waits for the next full read."""
        mirror = self.mirror
        if int(flat[1]) != self.mirror_gen:
            self.distrust()
            return
        for i in range(2, len(flat) - 1, 2):
            name = flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])
            value = int(flat[i + 1])
            if value > mirror.get(name, 0):
                mirror[name] = value

    def went_back(self, snapshot: dict, before: dict[str, int]) -> bool:
        """Whether a full read has a count below the mirror's within one generation: never
        for a genuine hash (counts only grow), so the hash was rolled back (restored from an
        older snapshot) or the mirror took a forged message. Either way the mirror, which
        only ever takes higher counts, would no longer see writes until the counts caught
        up, and keys made from rolled-back counts could be those of older answers."""
        counts = hash_counts(snapshot)
        if counts.get(GEN, 0) != self.mirror_gen:
            return False
        return any(counts.get(name, 0) < value for name, value in before.items())

    async def full_read(self) -> None:
        # compared with the mirror as it was when the read was sent: every count in it was
        # written before, so a genuine hash holds at least as much (what this process's own
        # bumps apply meanwhile may be higher, and is no sign of anything)
        before = dict(self.mirror)
        snapshot = await self.redis.hgetall(self.key)
        if self.went_back(snapshot, before):
            before = dict(self.mirror)
            snapshot = await self.redis.hgetall(self.key)
            if self.went_back(snapshot, before):
                # a new generation: every key is new, none can be an older answer's
                log.warning("data versions went back: a new generation, every cached answer goes")
                self.distrust()
                await self.redis.hset(self.key, GEN, new_generation())
                snapshot = await self.redis.hgetall(self.key)
        self.load(snapshot)

    def load(self, snapshot: dict) -> None:
        """A full read of the hash: replaces the mirror when the generation changed."""
        counts = hash_counts(snapshot)
        gen = counts.get(GEN, 0)
        if gen != self.mirror_gen:
            self.mirror = counts
            self.mirror_gen = gen
        else:
            self.apply([x for pair in counts.items() for x in pair])
        self.trusted_until = time.monotonic() + TRUST_SECONDS

    def follow(self) -> None:
        """Keep the mirror (an API process, while its lifespan runs)."""
        if self._follower is None:
            self._follower = asyncio.create_task(self._follow(), name="data-versions-follower")

    async def stop(self) -> None:
        task, self._follower = self._follower, None
        self.distrust()
        if task is None:
            return
        # redis-py may swallow a cancellation while it connects: ask again until it ends
        # (the loop also checks `_follower` each second)
        for _ in range(20):
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=0.25)
            if done:
                break
        else:
            log.warning("data versions' mirror did not stop")
        self.distrust()

    async def _follow(self) -> None:
        delay = 0.2
        me = asyncio.current_task()
        while self._follower is me:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                # a new hash gets its generation before anyone reads it
                await self.redis.hsetnx(self.key, GEN, new_generation())
                await self.full_read()
                delay = 0.2
                loaded = time.monotonic()
                while self._follower is me:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=RESYNC_SECONDS
                    )
                    if message is not None and message.get("type") == "message":
                        self.apply(orjson.loads(message["data"]))
                    if time.monotonic() - loaded >= RESYNC_SECONDS:
                        await self.full_read()
                        loaded = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis gone or confused: reads go to Redis meanwhile
                self.distrust()
                if self._follower is not me:
                    break
                log.warning("data versions' mirror interrupted (%s): retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # closing a broken connection
                    pass


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
