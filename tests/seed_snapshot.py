"""Cheaper per-test database state, the same rows as before (tests/conftest.py uses these).

- PostgreSQL: a test's clean database is one round trip on a connection kept for the run:
  every table emptied, the reference data (catalogue, charts, commodities) copied back from a snapshot
  taken once after the reset of old (empty, then ensure_catalogue/ensure_charts), the
  sequences set as that reset left them.
- The `demo` fixture: seed_demo (content=False) gives every test the same rows but for
  times, hashes' salts and the like. The first test of a backend runs it and keeps what it
  wrote (the tables it filled and their sequences, the objects it returned); the next tests
  copy those rows in, in one statement, at the same point (after the app started), when
  the tables it fills are as they were before that seed (empty, sequences untouched) and
  no scheduler runs alongside. A snapshot older than DEMO_MAX_AGE is seeded afresh, so the
  rows' times stay within seconds of the test as they were.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise

from api.settings import Settings
from models.accounts import User
from models.regions import Region

SEED_SCHEMA = "cunwu_test_seed"  # PostgreSQL: the snapshots' tables, beside public
MIGRATIONS_TABLE = "tortoise_migrations"
DEMO_MAX_AGE = 30.0  # seconds


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- PostgreSQL: the per-test reset --


async def pg_tables(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> $1 "
        "ORDER BY tablename",
        MIGRATIONS_TABLE,
    )
    return [r["tablename"] for r in rows]


async def pg_sequences(conn: asyncpg.Connection) -> dict[str, tuple[str, int | None]]:
    """Each public table's owned sequences: sequence -> (table, last value or None)."""
    rows = await conn.fetch(
        """SELECT s.relname AS seq, t.relname AS tab
        FROM pg_class s
        JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE s.relkind = 'S' AND n.nspname = 'public' AND t.relname <> $1""",
        MIGRATIONS_TABLE,
    )
    values = {
        r["sequencename"]: r["last_value"]
        for r in await conn.fetch(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
    }
    return {r["seq"]: (r["tab"], values.get(r["seq"])) for r in rows}


async def pg_counts(conn: asyncpg.Connection, tables: list[str]) -> dict[str, int]:
    if not tables:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT {i} AS i, count(*) AS n FROM public.{_q(t)}" for i, t in enumerate(tables)
    )
    return {tables[r["i"]]: r["n"] for r in await conn.fetch(sql)}


def _setvals(sequences: dict[str, tuple[str, int | None]]) -> str:
    calls = [
        f"setval('public.{_q(seq)}', {value if value is not None else 1}, "
        f"{'true' if value is not None else 'false'})"
        for seq, (_, value) in sorted(sequences.items())
    ]
    return f"SELECT {', '.join(calls)};" if calls else ""


def _copy_out(tables: list[str], prefix: str) -> str:
    """Keep these public tables' rows as SEED_SCHEMA.<prefix><table>."""
    return "".join(
        f"DROP TABLE IF EXISTS {SEED_SCHEMA}.{_q(prefix + t)}; "
        f"CREATE TABLE {SEED_SCHEMA}.{_q(prefix + t)} AS SELECT * FROM public.{_q(t)};"
        for t in tables
    )


def _copy_in(tables: list[str], prefix: str) -> str:
    return "".join(
        f"INSERT INTO public.{_q(t)} SELECT * FROM {SEED_SCHEMA}.{_q(prefix + t)};" for t in tables
    )


async def pg_reset_script(conn: asyncpg.Connection) -> str:
    """Call on a database just reset the old way: the script that brings it back to this.

    The replica role (a superuser's setting) switches off the foreign keys and the audit
    log's append-only trigger for this transaction only. DELETE, not TRUNCATE: on tables
    this small it is some 30 times faster (TRUNCATE makes new files for every table).
    """
    tables = await pg_tables(conn)
    reference = [t for t, n in (await pg_counts(conn, tables)).items() if n]
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SEED_SCHEMA};" + _copy_out(reference, "ref_"))
    return (
        "BEGIN; SET LOCAL session_replication_role = replica;"
        + "".join(f"DELETE FROM public.{_q(t)};" for t in tables)
        + _copy_in(reference, "ref_")
        + _setvals(await pg_sequences(conn))
        + "COMMIT;"
    )


# -- the demo fixture's snapshot --


@dataclass
class DemoSnapshot:
    taken: float
    tables: list[str]  # those seed_demo filled (each empty before)
    before: dict[str, Any]  # their sequences before the seed
    after: dict[str, Any]  # ... and after it (PostgreSQL: setval)
    demo: Any  # the Demo it returned: shape, ids and every field's value in memory
    values: dict[tuple[type, int], dict[str, Any]] = field(default_factory=dict)
    file: Path | None = None  # SQLite: the rows, in a database file of their own

    def fresh(self) -> bool:
        return time.monotonic() - self.taken < DEMO_MAX_AGE


def _conn() -> Any:
    return Tortoise.get_connection("default")


def _is_sqlite() -> bool:
    return _conn().capabilities.dialect == "sqlite"


async def _rows(sql: str) -> list[dict]:
    return list(await _conn().execute_query_dict(sql))


async def _all_tables() -> list[str]:
    if _is_sqlite():
        rows = await _rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            f"AND name <> '{MIGRATIONS_TABLE}' ORDER BY name"
        )
        return [r["name"] for r in rows]
    rows = await _rows(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        f"AND tablename <> '{MIGRATIONS_TABLE}' ORDER BY tablename"
    )
    return [r["tablename"] for r in rows]


async def _counts(tables: list[str]) -> dict[str, int]:
    sql = " UNION ALL ".join(
        f"SELECT {i} AS i, count(*) AS n FROM {_q(t)}" for i, t in enumerate(tables)
    )
    return {tables[r["i"]]: r["n"] for r in await _rows(sql)}


async def _sequences(tables: list[str]) -> dict[str, Any]:
    """The sequences behind these tables' ids, as a comparable dict."""
    if _is_sqlite():
        if not await _rows("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"):
            return {}
        rows = await _rows("SELECT name, seq FROM sqlite_sequence")
        return {r["name"]: r["seq"] for r in rows if r["name"] in tables}
    rows = await _rows(
        """SELECT s.relname AS seq, t.relname AS tab, q.last_value AS value
        FROM pg_class s
        JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        JOIN pg_sequences q ON q.schemaname = 'public' AND q.sequencename = s.relname
        WHERE s.relkind = 'S' AND n.nspname = 'public'"""
    )
    return {r["seq"]: (r["tab"], r["value"]) for r in rows if r["tab"] in tables}


def _table_of(key: str, value: Any) -> str:
    """sqlite_sequence is by table; PostgreSQL's sequences say theirs: (table, value)."""
    return value[0] if isinstance(value, tuple) else key


def _objects(demo: Any) -> list[Any]:
    return [demo.county, *demo.townships, *demo.villages, *demo.users.values()]


def _values(obj: Any) -> dict[str, Any]:
    fields_map = obj._meta.fields_map
    return {
        k: copy.deepcopy(v)
        for k, v in vars(obj).items()
        if k in fields_map and k not in obj._meta.fetch_fields
    }


class DemoSeeds:
    """One per backend (the run's settings); the `demo` fixture asks it for each test."""

    def __init__(self) -> None:
        self.snapshot: DemoSnapshot | None = None
        self.before: tuple[dict[str, int], dict[str, Any]] | None = None

    async def seed(self, settings: Settings, seed_demo: Any) -> Any:
        snap = self.snapshot
        # a scheduler and worker running meanwhile may write the same tables: seed for real
        if settings.jobs:
            return await seed_demo(settings, content=False)
        if snap is not None and snap.fresh() and await self._as_before(snap):
            return await self._restore(snap, settings)
        tables = await _all_tables()
        counts = await _counts(tables)
        sequences = await _sequences(tables)
        demo = await seed_demo(settings, content=False)
        if demo is None:
            return None
        after = await _counts(tables)
        filled = [t for t in tables if after[t] != counts[t]]
        if any(counts[t] for t in filled):
            self.snapshot = None  # not from empty tables: nothing to keep
            return demo
        before = {k: v for k, v in sequences.items() if _table_of(k, v) in filled}
        self.snapshot = await self._take(demo, filled, before, settings)
        return demo

    async def _as_before(self, snap: DemoSnapshot) -> bool:
        counts = await _counts(snap.tables)
        return not any(counts.values()) and await _sequences(snap.tables) == snap.before

    async def _take(
        self, demo: Any, tables: list[str], before: dict[str, Any], settings: Settings
    ) -> DemoSnapshot:
        snap = DemoSnapshot(
            taken=time.monotonic(),
            tables=tables,
            before=before,
            after=await _sequences(tables),
            demo=demo,
            values={(type(o), o.pk): _values(o) for o in _objects(demo)},
        )
        if _is_sqlite():
            snap.file = settings.data_dir / "demo-snapshot.sqlite3"
            snap.file.unlink(missing_ok=True)
            await _conn().execute_script(
                f"ATTACH DATABASE '{snap.file}' AS snap;"
                + "".join(
                    f"CREATE TABLE snap.{_q(t)} AS SELECT * FROM main.{_q(t)};" for t in tables
                )
                + "DETACH DATABASE snap;"
            )
        else:
            await _conn().execute_script(
                f"CREATE SCHEMA IF NOT EXISTS {SEED_SCHEMA};" + _copy_out(tables, "demo_")
            )
        return snap

    async def _restore(self, snap: DemoSnapshot, settings: Settings) -> Any:
        if snap.file is not None:
            # inserting the ids moves sqlite_sequence on as the seed did
            await _conn().execute_script(
                f"ATTACH DATABASE '{snap.file}' AS snap; BEGIN; PRAGMA defer_foreign_keys = ON;"
                + "".join(
                    f"INSERT INTO main.{_q(t)} SELECT * FROM snap.{_q(t)};" for t in snap.tables
                )
                + "COMMIT; DETACH DATABASE snap;"
            )
        else:
            await _conn().execute_script(
                "BEGIN; SET LOCAL session_replication_role = replica;"
                + _copy_in(snap.tables, "demo_")
                + _setvals(snap.after)
                + "COMMIT;"
            )
        assert await _sequences(snap.tables) == snap.after
        return await _rebuild(snap)


async def _rebuild(snap: DemoSnapshot) -> Any:
    """New instances of the seed's Demo, each field as the seed's objects held it."""
    loaded: dict[tuple[type, int], Any] = {}
    for model in (Region, User):
        ids = [pk for (m, pk) in snap.values if m is model]
        for obj in await model.filter(id__in=ids):
            for k, v in snap.values[(model, obj.pk)].items():
                setattr(obj, k, copy.deepcopy(v))
            loaded[(model, obj.pk)] = obj

    def new(obj: Any) -> Any:
        return loaded[(type(obj), obj.pk)]

    old = snap.demo
    return type(old)(
        county=new(old.county),
        townships=[new(o) for o in old.townships],
        villages=[new(o) for o in old.villages],
        users={k: new(o) for k, o in old.users.items()},
        people={k: new(o) for k, o in old.people.items()},
    )
