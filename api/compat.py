"""The one place that reaches below the documented APIs of graphql-core, graphene, tortoise-orm,
aiosqlite and asyncpg; the short cuts call these small functions instead.

Each shim says what it relies on. All were checked against graphql-core 3.2.14, graphene 3.4.3,
tortoise-orm 1.1.9 (pypika-tortoise 0.6.5), aiosqlite 0.22.1 and asyncpg 0.32.0. A recogniser
that meets a shape it does not know answers None, so the caller takes the general way; the
probes below turn a recogniser off when the library function it stands for reads differently,
and tests/test_compat.py fails when one stops recognising what the installed version builds,
so that an upgrade cannot slow the fast path down unnoticed.
"""

from __future__ import annotations

import inspect
import logging
from functools import partial
from types import SimpleNamespace
from typing import Any

from graphene.relay.node import GlobalID
from graphene.types.resolver import dict_or_attr_resolver
from graphql.execution.execute import ExecutionContext, get_field_def
from graphql.pyutils import Path
from tortoise import Tortoise
from tortoise.backends.base.client import (
    BaseDBAsyncClient,
    TransactionalDBClient,
    TransactionContextPooled,
)
from tortoise.backends.sqlite.client import SqliteTransactionContext
from tortoise.connection import get_connections
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models import data_versions

log = logging.getLogger("cunwu.compat")

# --- graphql-core -------------------------------------------------------------------------

# graphql-core 3.2's executor class (`graphql.execution.execute`), subclassed by
# api.execution; graphql-core 3.3 reshapes these methods, hence the signature check below.
CoreExecutionContext = ExecutionContext
# The methods api.execution overrides or calls, with their 3.2 parameters.
EXECUTOR_HOOKS = {
    "execute_fields": ("self", "parent_type", "source_value", "path", "fields"),
    "execute_field": ("self", "parent_type", "source", "field_nodes", "path"),
    "complete_value": ("self", "return_type", "field_nodes", "info", "path", "result"),
    "complete_object_value": ("self", "return_type", "field_nodes", "info", "path", "result"),
    "complete_list_value": ("self", "return_type", "field_nodes", "info", "path", "result"),
    "handle_field_error": ("self", "error", "return_type", "path"),
    "collect_subfields": ("self", "return_type", "field_nodes"),
    "build_resolve_info": ("self", "field_def", "field_nodes", "parent_type", "path"),
}


def executor_hooks_match() -> bool:
    """Whether graphql-core's executor still has the methods the short cuts hook into."""
    for name, params in EXECUTOR_HOOKS.items():
        method = getattr(ExecutionContext, name, None)
        if method is None or tuple(inspect.signature(method).parameters) != params:
            log.warning("graphql-core's ExecutionContext.%s changed: no fast paths", name)
            return False
    return True


def field_definition(schema: Any, parent_type: Any, node: Any) -> Any:
    """`get_field_def`: a module function in graphql-core 3.2 (a method from 3.3 on)."""
    return get_field_def(schema, parent_type, node)


# Path(prev, key, typename) without the Python-level __new__ of a NamedTuple (3.2's Path).
new_path = partial(tuple.__new__, Path)


def resolve_info(ec: Any, field_def: Any, nodes: Any, parent_type: Any, path: Any) -> Any:
    """The GraphQLResolveInfo graphql-core 3.2 gives a resolver (`build_resolve_info`)."""
    return ec.build_resolve_info(field_def, nodes, parent_type, path)


def collect_subfields(ec: Any, return_type: Any, nodes: Any) -> dict[str, list[Any]]:
    """graphql-core 3.2's per-request cached field collection (`collect_subfields`)."""
    return ec.collect_subfields(return_type, nodes)


def has_middleware(ec: Any) -> bool:
    """graphql-core 3.2 keeps the middleware as `middleware_manager` (None without)."""
    return ec.middleware_manager is not None


def is_token_limit(error: Any) -> bool:
    """The parser gave up on the document's size: graphql-core 3.2 up to 3.2.6 says "token
    limit", later ones "Document contains more than N tokens. Parsing aborted." (and "is
    nested too deeply" past the recursion limit)."""
    message = error.message
    return "token limit" in message or message.endswith(
        ("tokens. Parsing aborted.", "nested too deeply. Parsing aborted.")
    )


# --- graphene -----------------------------------------------------------------------------


def _reads_plainly() -> bool:
    """graphene 3.4's default resolver: `root.get(name, default)` on a dict, else
    `getattr(root, name, default)`, which is what the short cuts do in its place."""
    try:
        return (
            dict_or_attr_resolver("a", 0, {"a": 1}, None) == 1
            and dict_or_attr_resolver("a", 2, {}, None) == 2
            and dict_or_attr_resolver("a", 0, SimpleNamespace(a=3), None) == 3
            and dict_or_attr_resolver("a", 4, SimpleNamespace(), None) == 4
        )
    except Exception:
        return False


def _encodes_plainly() -> bool:
    """graphene 3.4's relay id: the node's `to_global_id(parent type name, parent read)`."""

    class Node:
        @staticmethod
        def to_global_id(type_name: str, value: Any) -> Any:
            return (type_name, value)

    info = SimpleNamespace(parent_type=SimpleNamespace(name="T"))
    try:
        return GlobalID.id_resolver(lambda root, info: 7, Node, None, info) == (
            "T",
            7,
        ) and GlobalID.id_resolver(lambda r, i: 8, Node, None, info, parent_type_name="U") == (
            "U",
            8,
        )
    except Exception:
        return False


READS_PLAINLY = _reads_plainly()
ENCODES_PLAINLY = READS_PLAINLY and _encodes_plainly()


def attribute_read(resolve: Any) -> tuple[str, Any] | None:
    """(attribute, default) when the resolver is graphene's default: graphene 3.4 binds
    `functools.partial(dict_or_attr_resolver, name, default)` (graphene.types.schema)."""
    if (
        READS_PLAINLY
        and isinstance(resolve, partial)
        and resolve.func is dict_or_attr_resolver
        and len(resolve.args) == 2
        and not resolve.keywords
        and isinstance(resolve.args[0], str)
    ):
        return resolve.args
    return None


def global_id_read(resolve: Any) -> tuple[tuple[str, Any], str | None, Any] | None:
    """For a relay `id` over a plain read: the read, the type named in the id when fixed,
    and the Node class that encodes it. graphene 3.4 binds `partial(GlobalID.id_resolver,
    parent_resolver, node, parent_type_name=...)` (graphene.relay.node)."""
    if not (
        ENCODES_PLAINLY
        and isinstance(resolve, partial)
        and resolve.func is GlobalID.id_resolver
        and len(resolve.args) == 2
        and set(resolve.keywords) <= {"parent_type_name"}
    ):
        return None
    read = attribute_read(resolve.args[0])
    of = resolve.keywords.get("parent_type_name")
    if read is None or not (of is None or isinstance(of, str)):
        return None
    return read, of, resolve.args[1]


def graphene_type(named: Any) -> Any:
    """The graphene class behind a GraphQL type: graphene 3.4's `GrapheneGraphQLType`s
    carry it as `graphene_type` (None for types graphene did not build)."""
    return getattr(named, "graphene_type", None)


def graphene_type_name(cls: Any) -> str:
    """A graphene type's GraphQL name: graphene 3.4 keeps its options in `_meta`."""
    return cls._meta.name


# --- tortoise-orm -------------------------------------------------------------------------


async def init_tortoise(config: dict[str, Any]) -> Any:
    """Connections for the whole process: tortoise 1.x keeps its context per task unless
    `_enable_global_fallback` (what its FastAPI integration passes); requests run in other
    tasks than the lifespan that opened the database."""
    guard_sqlite_begin()  # and PostgreSQL's pooled BEGIN
    return await Tortoise.init(config=config, _enable_global_fallback=True)


async def _sqlite_enter(self: Any) -> Any:
    """tortoise 1.1's `SqliteTransactionContext.__aenter__` takes the one connection's lock
    (`_trxlock`), then awaits `begin()` (a COMMIT and a BEGIN on aiosqlite's thread). A task
    cancelled there (a stopping worker, a request timeout) leaves `__aenter__` by an
    exception, so `__aexit__` never releases the lock and every later query waits for ever.
    The same steps; on any failure after the lock, a BEGIN the thread may still run is
    rolled back (its queue runs in order) and the lock released."""
    await self._trxlock.acquire()
    try:
        await self.ensure_connection()
        self.token = get_connections().set(self.connection_name, self.connection)
        try:
            await self.connection.begin()
        except BaseException:
            get_connections().reset(self.token)
            raise
        _VERSION_TOKENS[id(self)] = data_versions.begin()
    except BaseException:
        try:
            if self.connection._connection is not None:
                await self.connection._connection.rollback()
        finally:
            self._trxlock.release()
        raise
    return self.connection


async def _pooled_enter(self: Any) -> Any:
    """tortoise 1.1's `TransactionContextPooled.__aenter__` (PostgreSQL) acquires a pool
    connection, then awaits `begin()`. A task cancelled there leaves by an exception, so
    `__aexit__` never hands the connection back: the pool loses it for good (and closing the
    pool waits for it). The same steps; on a failure after the acquire the connection, its
    state unknown, is closed and released (the pool opens a fresh one)."""
    await self.ensure_connection()
    pool = self.client._parent._pool
    self.client._connection = await pool.acquire()
    self.token = get_connections().set(self.connection_name, self.client)
    try:
        await self.client.begin()
    except BaseException:
        get_connections().reset(self.token)
        connection = self.client._connection
        try:
            connection.terminate()
        finally:
            await pool.release(connection)
        raise
    _VERSION_TOKENS[id(self)] = data_versions.begin()
    return self.client


# The pending-writes token of each open outermost transaction (the contexts have __slots__).
_VERSION_TOKENS: dict[int, Any] = {}


def _bump_after_commit(original: Any) -> Any:
    """tortoise 1.1's outermost transaction contexts commit (or roll back) in `__aexit__`:
    after it, the data versions of the regions the transaction's writes recorded are bumped
    (models.data_versions) when it committed; a rollback, or a failed commit, bumps nothing.
    Bumping before the commit would let a reader keep pre-commit data under new versions."""

    async def __aexit__(self: Any, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        token = _VERSION_TOKENS.pop(id(self), None)
        try:
            await original(self, exc_type, exc_val, exc_tb)
        finally:
            regions = data_versions.end(token) if token is not None else set()
        if exc_type is None and regions:
            await data_versions.bump(regions)

    __aexit__.__wrapped__ = original  # type: ignore[attr-defined]
    return __aexit__


def guard_sqlite_begin() -> None:
    SqliteTransactionContext.__aenter__ = _sqlite_enter  # type: ignore[method-assign]
    TransactionContextPooled.__aenter__ = _pooled_enter  # type: ignore[method-assign]
    for cls in (SqliteTransactionContext, TransactionContextPooled):
        if not hasattr(cls.__aexit__, "__wrapped__"):  # once, however often tortoise starts
            cls.__aexit__ = _bump_after_commit(cls.__aexit__)  # type: ignore[method-assign]


def db_columns(model: type[Model]) -> list[tuple[str, Any]]:
    """(column, field) of each stored field: tortoise 1.x's `_meta.fields_db_projection`
    (field name → column) and `_meta.fields_map` (field name → field)."""
    meta = model._meta
    return [(column, meta.fields_map[name]) for name, column in meta.fields_db_projection.items()]


def table_name(model: type[Model]) -> str:
    """tortoise 1.x's `_meta.db_table`."""
    return model._meta.db_table


def parameterized_sql(qs: QuerySet) -> tuple[str, list[Any]]:
    """The statement tortoise would run for `qs`, with its parameters: what `QuerySet.sql()`
    does in tortoise 1.x (`_choose_db_if_not_chosen`, `_make_query`), keeping the values
    pypika's `get_parameterized_sql` returns beside the text."""
    qs._choose_db_if_not_chosen()
    qs._make_query()
    sql, params = qs.query.get_parameterized_sql()
    return sql, list(params)


def in_transaction(conn: BaseDBAsyncClient) -> bool:
    """Inside `in_transaction()`, tortoise 1.x's `get_connection` answers the transaction's
    client, a `TransactionalDBClient` (tortoise.backends.base.client)."""
    return isinstance(conn, TransactionalDBClient)


def sqlite_filename(conn: BaseDBAsyncClient) -> str:
    """The database file of tortoise 1.x's `SqliteClient` (its `filename`)."""
    return getattr(conn, "filename", "")


async def fetch_tuples(
    conn: BaseDBAsyncClient, sql: str, params: list[Any]
) -> tuple[tuple[str, ...], list[Any]]:
    """Column names and records, without tortoise copying each record into a dict.
    PostgreSQL: tortoise 1.x's asyncpg client lends the asyncpg connection itself; its
    Records iterate their values. SQLite: under tortoise's lock (it waits out a transaction
    on the one connection), aiosqlite 0.22's `_execute(fn, ...)` runs `fn` on its worker
    thread with `_conn`, the sqlite3 connection (names and tuples straight from the cursor:
    dict(sqlite3.Row) looks every column up by name)."""
    async with conn.acquire_connection() as connection:
        if conn.capabilities.dialect != "sqlite":
            records = await connection.fetch(sql, *params)
            return (tuple(records[0].keys()) if records else ()), records
        return await connection._execute(_sqlite_fetch, connection._conn, sql, params)


def _sqlite_fetch(connection: Any, sql: str, params: list[Any]) -> tuple[tuple[str, ...], list]:
    cursor = connection.execute(sql, params)
    return tuple(d[0] for d in cursor.description), cursor.fetchall()


# --- asyncpg ------------------------------------------------------------------------------


async def keep_session(connection: Any) -> None:
    """asyncpg's pool runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL` on every release: a second round trip for every query. The app keeps no session
    state (no advisory locks, cursors, LISTEN or SET), and asyncpg still rolls back a
    transaction left open before calling this."""


def without_pool_reset(connection: dict[str, Any]) -> dict[str, Any]:
    """tortoise 1.x passes credentials it does not know to `asyncpg.create_pool`
    (base_postgres client's `extra`); asyncpg ≥ 0.30 calls `reset(connection)` on release
    in place of its reset statement."""
    connection["credentials"]["reset"] = keep_session
    return connection
