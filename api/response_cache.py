"""Anonymous query answers, kept and served again until a write changes what they read.

What is kept: the answer to a query operation asked without an Authorization header, that
has no `errors`, reads no root field in UNCACHED_ROOTS (`disclosure` counts a view,
`verifyLedger` looks for tampering no write recorded) and is at most
`response_cache_entry_bytes`. Signed-in requests never read or fill it: their
answers may hold personal fields (readByMe, the viewer's own rows).

The key: sha256 of the document text, the variables (keys sorted), the operation name, the
language (zh or en, as the endpoint picks it), the time window (answers that change with
time alone: a notice expiring, a flag falling overdue) and the data versions the answer
depends on (models.data_versions):

- each root field that names a region (`regionId`, `villageId`, `parentId`, or `region(id:)`)
  depends on that region and its ancestors: a county notice bumps the county, read by the
  village's feed; a village publication bumps the village, its township and county. A
  write recorded for a sibling region that changes this region's answer would be missed:
  none does today (a write is recorded for the region of the object it changes);
- anything else (no region argument, a null one, an id of another kind, a region not
  found, a variable left to its default) depends on `all`, which every write bumps;
- on SQLite, also SQLite's `PRAGMA data_version` of a connection of our own: it changes
  whenever any other connection commits, this process's or a script's.

The ETag of a public GET answer is taken from the key, so a client's If-None-Match is
answered 304 before anything is executed, and a write changes it. Redis when configured
(versions in one hash, bodies with a TTL, a bounded in-process copy in front); while Redis
does not answer nothing is served from the cache (a version might be missed) and requests
run as usual. PostgreSQL without Redis keeps no cache: another process's writes (a
script's) could not be seen.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import sqlite3
import struct
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
)
from redis.asyncio import Redis

from models import data_versions
from models.data_versions import ALL, EPOCH, GEN, SYS
from models.jobs.queue import utc_now
from models.redis_guard import REDIS_DOWN, RedisGuard

log = logging.getLogger("cunwu.cache")

REGION_ARGUMENTS = frozenset({"regionId", "villageId", "parentId"})
# Root fields whose resolvers do more than read: never answered from the cache.
UNCACHED_ROOTS = frozenset(
    {
        "disclosure",  # counts a view
        "verifyLedger",  # looks for changes made behind the API's back: no version has them
    }
)
MAX_VARIABLES_BYTES = 8 * 1024  # bigger variables: answered, not kept
GZIP_MIN_BYTES = 1000  # as the GZip middleware (api.app): smaller bodies go as they are
MAX_REGION_ID = 2**31  # region ids are 32-bit integers
PLANS_LIMIT = 512  # query texts of up to max_query_chars each


@dataclass(frozen=True)
class Plan:
    """What a cacheable operation's key needs: its document's digest and where each root
    field's region comes from (None: the operation depends on `all`)."""

    digest: str
    regions: tuple[tuple[str, str], ...] | None  # ("var", name) or ("lit", global id)
    declared: frozenset[str] = frozenset()  # the operation's variables


NOT_CACHEABLE = Plan("", None)


@dataclass(frozen=True)
class Keyed:
    """A cache key and what it was computed from (api.cache_hits checks them again)."""

    key: str
    names: tuple[str, ...]
    versions: tuple[int, ...]
    window: int
    external: int


def plan_for(query: str, document: DocumentNode, operation: OperationDefinitionNode) -> Plan:
    if operation.operation != OperationType.QUERY:
        return NOT_CACHEABLE
    fields = root_field_nodes(document, operation)
    if any(node.name.value in UNCACHED_ROOTS for node in fields):
        return NOT_CACHEABLE
    digest = hashlib.sha256(query.encode()).hexdigest()
    declared = frozenset(d.variable.name.value for d in operation.variable_definitions or ())
    sources: list[tuple[str, str]] = []
    for node in fields:
        if node.name.value.startswith("__"):
            continue  # introspection reads the schema, no data
        found = False
        for argument in node.arguments:
            name = argument.name.value
            if name in REGION_ARGUMENTS or (node.name.value == "region" and name == "id"):
                value = argument.value
                if isinstance(value, VariableNode):
                    sources.append(("var", value.name.value))
                elif isinstance(value, StringValueNode):
                    sources.append(("lit", value.value))
                else:
                    return Plan(digest, None, declared)
                found = True
        if not found:
            return Plan(digest, None, declared)
    return Plan(digest, tuple(sources), declared)


def root_field_nodes(document: DocumentNode, operation: OperationDefinitionNode) -> list[FieldNode]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    found: list[FieldNode] = []
    pending = list(operation.selection_set.selections)
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode):
            found.append(node)
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)
    return found


def region_ids(plan: Plan, variables: dict[str, Any]) -> set[int] | None:
    """The regions an answer depends on, None when they cannot be told (then `all`)."""
    if plan.regions is None:
        return None
    from api.relay import from_global_id  # api.relay imports the schema's context

    ids: set[int] = set()
    for kind, value in plan.regions:
        global_id = variables.get(value) if kind == "var" else value
        if not isinstance(global_id, str):
            return None
        try:
            type_name, pk = from_global_id(global_id)
            if type_name != "Region" or not pk.isascii() or not pk.isdigit():
                return None
            if not 0 < int(pk) < MAX_REGION_ID:
                return None  # no such region: the answer says so, under `all`
            ids.add(int(pk))
        except Exception:  # not a global id: the answer is an error, never kept
            return None
    return ids


@dataclass
class Entry:
    body: bytes
    gzipped: bytes | None  # None: too small to compress

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + 200

    def pack(self) -> bytes:
        return struct.pack(">I", len(self.body)) + self.body + (self.gzipped or b"")

    @classmethod
    def unpack(cls, raw: bytes) -> Entry:
        (length,) = struct.unpack(">I", raw[:4])
        return cls(raw[4 : 4 + length], raw[4 + length :] or None)

    @classmethod
    def of(cls, body: bytes) -> Entry:
        if len(body) < GZIP_MIN_BYTES:
            return cls(body, None)
        return cls(body, gzip.compress(body, compresslevel=6, mtime=0))


class Bodies:
    """A bounded in-process LRU of entries, by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, Entry] = OrderedDict()

    def get(self, key: str) -> Entry | None:
        entry = self._items.get(key)
        if entry is not None:
            self._items.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= old.size
        self._items[key] = entry
        self.size += entry.size
        while self.size > self.max_bytes and self._items:
            _, dropped = self._items.popitem(last=False)
            self.size -= dropped.size

    def __len__(self) -> int:
        return len(self._items)


class DataVersionProbe:
    """SQLite's `PRAGMA data_version` on a connection of its own, read on the loop's thread
    (a few microseconds: it reads the WAL index in shared memory, no statement of ours
    commits on this connection, so any change is another connection's commit)."""

    def __init__(self, filename: str) -> None:
        self.connection = sqlite3.connect(
            filename, isolation_level=None, check_same_thread=False, timeout=0.05
        )
        self.connection.execute("PRAGMA query_only = ON")

    def read(self) -> int | None:
        try:
            return int(self.connection.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None  # busy or locked: unknown, so no cache for this request

    def close(self) -> None:
        self.connection.close()


class ResponseCache:
    def __init__(
        self,
        *,
        max_bytes: int,
        entry_bytes: int,
        ttl_seconds: int,
        window_seconds: int,
        redis: Redis | None = None,
        prefix: str = "cunwu:",
        guard: RedisGuard | None = None,
        probe: DataVersionProbe | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.bodies = Bodies(max_bytes)
        self.clock = clock
        self.closed = False
        self.entry_bytes = entry_bytes
        self.ttl_seconds = ttl_seconds
        self.window_seconds = max(1, window_seconds)
        self.redis = redis
        self.prefix = prefix + "rc:"
        self.guard = guard or RedisGuard(redis)
        self.probe = probe
        self.plans: dict[tuple[str, str | None], Plan] = {}
        self.hits = 0
        self.misses = 0

    def known_plan(self, query: str, operation_name: str | None) -> Plan | None:
        return self.plans.get((query, operation_name))

    def remember_plan(self, query: str, operation_name: str | None, plan: Plan) -> None:
        if len(self.plans) >= PLANS_LIMIT:
            self.plans.clear()
        self.plans[(query, operation_name)] = plan

    async def key(
        self,
        plan: Plan,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        lang: str,
        now: float,
    ) -> Keyed | None:
        """The answer's key with the data versions of now; None: not to be cached."""
        store = data_versions.current()
        if store is None:
            return None
        if variables and not plan.declared.issuperset(variables):
            return None  # variables the operation does not use: one more key for nothing
        canonical = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
        if len(canonical) > MAX_VARIABLES_BYTES:
            return None
        ids = region_ids(plan, variables or {})
        fields = None
        if ids is not None:
            try:
                fields = await data_versions.region_fields(sorted(ids))
            except Exception:  # the database fails: the execution will say so, uncached
                log.exception("regions of a cache key not read")
                return None
        names = [GEN, EPOCH, SYS, *sorted(fields)] if fields is not None else [GEN, EPOCH, ALL]
        versions = await store.read(names)
        if versions is None:
            return None
        external = 0
        if self.probe is not None:
            read = self.probe.read()
            if read is None:
                return None
            external = read
        window = int(now) // self.window_seconds
        material = b"\x00".join(
            [
                plan.digest.encode(),
                canonical,
                (operation_name or "").encode(),
                lang.encode(),
                str(window).encode(),
                ",".join(f"{n}={v}" for n, v in zip(names, versions, strict=True)).encode(),
                str(external).encode(),
            ]
        )
        digest = hashlib.sha256(material).hexdigest()
        return Keyed(digest, tuple(names), tuple(versions), window, external)

    def still(self, keyed: Keyed, now: float) -> bool:
        """Whether an answer kept under `keyed` is still the answer, without waiting: the
        same window and versions (as this process knows them now) and, on SQLite, no commit
        since. False when any of it cannot be known at once."""
        if self.closed or int(now) // self.window_seconds != keyed.window:
            return False
        store = data_versions.current()
        if store is None or store.peek(keyed.names) != list(keyed.versions):
            return False
        if self.probe is not None:
            return self.probe.read() == keyed.external
        return True

    async def get(self, key: str) -> Entry | None:
        entry = self.bodies.get(key)
        if entry is None and self.redis is not None:
            redis = self.guard.client()
            if redis is None:
                return None
            try:
                raw = await redis.get(self.prefix + key)
            except REDIS_DOWN as exc:
                self.guard.failed(exc)
                return None
            self.guard.succeeded()
            if isinstance(raw, bytes):  # our client does not decode replies
                entry = Entry.unpack(raw)
                self.bodies.put(key, entry)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    async def put(self, key: str, body: bytes) -> Entry | None:
        if len(body) > self.entry_bytes:
            return None
        entry = Entry.of(body)
        self.bodies.put(key, entry)
        if self.redis is not None:
            redis = self.guard.client()
            if redis is not None:
                try:
                    await redis.set(self.prefix + key, entry.pack(), ex=self.ttl_seconds)
                except REDIS_DOWN as exc:
                    self.guard.failed(exc)
                else:
                    self.guard.succeeded()
        return entry

    def close(self) -> None:
        self.closed = True
        if self.probe is not None:
            self.probe.close()
            self.probe = None
