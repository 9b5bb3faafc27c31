"""Every test runs on a real SQLite file, and on PostgreSQL + Redis when TEST_* are set.

A run makes its own PostgreSQL database and Redis key prefix, so runs never meet.
SQLite tests each get a copy of a migrated template file; PostgreSQL tests empty the tables
and copy the reference data back, one statement on a connection kept for the run
(tests/seed_snapshot.py). A copy of a template database per test (CREATE DATABASE ...
TEMPLATE) measured slower: each DROP DATABASE waits for a checkpoint of the whole server.
The `demo` fixture copies in the rows of its last seed_demo while they are fresh (same rows,
same ids; see tests/seed_snapshot.py for when it seeds for real).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from starlette.config import Config
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE

from api.app import create_app
from api.database import migrate
from api.settings import Settings, sqlite_url
from models.catalogue_data import ensure_catalogue
from models.chart_data import ensure_charts
from models.prices.commodity_data import ensure_commodities
from tests.client import GQL
from tests.seed_snapshot import DemoSeeds, pg_reset_script

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("CUNWU_REQUIRE_SERVICES") == "1"
RUN_ID = uuid.uuid4().hex[:10]
# `.ci/run` runs the suite a second time with the short cuts off (graphql-core's executor)
FAST_PATHS = Config(environ=os.environ)("CUNWU_FAST_PATHS", cast=bool, default=True)
# ... on one half only (CUNWU_TEST_BACKEND=postgres), to stay inside CI's time
ONLY_BACKEND = os.environ.get("CUNWU_TEST_BACKEND")
# per PostgreSQL database: a connection kept for the run and the script that resets it
RESETS: dict[str, tuple[asyncpg.Connection, str]] = {}
DEMO_SEEDS: dict[str, DemoSeeds] = {}  # per backend: the demo fixture's snapshot


SERVICES_MISSING = pytest.StashKey[int]()
HOW_TO_RUN_SERVICES = (
    "set TEST_DATABASE_URL and TEST_REDIS_URL to run it, e.g. "
    "TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test "
    "TEST_REDIS_URL=redis://127.0.0.1:6379/0 make test"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the services, leave the PostgreSQL + Redis half out and say so once."""
    if ONLY_BACKEND:
        other = [item for item in items if _backend(item) not in (None, ONLY_BACKEND)]
        items[:] = [item for item in items if item not in other]
        config.hook.pytest_deselected(items=other)
    if TEST_DATABASE_URL and TEST_REDIS_URL:
        return
    postgres = [item for item in items if _backend(item) == "postgres"]
    if not postgres:
        return
    config.stash[SERVICES_MISSING] = len(postgres)
    items[:] = [item for item in items if _backend(item) != "postgres"]
    config.hook.pytest_deselected(items=postgres)


def _backend(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("backend_settings") if callspec else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """CI (CUNWU_REQUIRE_SERVICES=1) fails when the PostgreSQL + Redis half did not run."""
    if REQUIRE_SERVICES and SERVICES_MISSING in session.config.stash and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    missing = config.stash.get(SERVICES_MISSING, 0)
    if not missing:
        return
    if REQUIRE_SERVICES:
        terminalreporter.write_line(
            f"FAILED: CUNWU_REQUIRE_SERVICES=1, but the PostgreSQL + Redis half "
            f"({missing} tests) did not run: {HOW_TO_RUN_SERVICES}",
            red=True,
            bold=True,
        )
    else:
        terminalreporter.write_line(
            f"PostgreSQL + Redis half skipped ({missing} tests): {HOW_TO_RUN_SERVICES}",
            yellow=True,
        )


def base_settings(tmp: Path, **overrides: object) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp,
        media_root=tmp / "media",
        secret_key="test-secret-key-for-the-suite-" + RUN_ID * 2,
        demo=False,
        argon2_time_cost=1,  # cheap hashes keep the suite fast; production uses the defaults
        argon2_memory_kib=1024,  # 8 MiB cost some 6 ms a hash, thousands of times a run
        fast_paths=FAST_PATHS,
        jobs=False,  # tests that need the scheduler and a worker turn them on
        **overrides,
    )


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def pg_admin(url: str) -> asyncpg.Connection:
    dsn = url.replace("postgres://", "postgresql://", 1)
    return await asyncpg.connect(dsn)


async def on_test_server(statement: str) -> None:
    """One statement on TEST_DATABASE_URL's server (CREATE or DROP DATABASE)."""
    admin = await pg_admin(TEST_DATABASE_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def backend_settings(request, tmp_path_factory) -> AsyncIterator[Settings]:
    tmp = tmp_path_factory.mktemp(request.param)
    # tortoise caches INSERT statements per connection name and table, not per dialect.
    EXECUTOR_CACHE.clear()
    if request.param == "sqlite":
        settings = base_settings(tmp, database_url=sqlite_url(tmp / "cunwu.sqlite3"))
        await migrate(settings)
        yield settings
        return
    name = f"cunwu_test_{RUN_ID}"
    await on_test_server(f'CREATE DATABASE "{name}"')
    settings = base_settings(
        tmp,
        database_url=with_database(TEST_DATABASE_URL, name),
        redis_url=TEST_REDIS_URL,
        redis_prefix=f"cunwu-test-{RUN_ID}:",
    )
    reset: asyncpg.Connection | None = None
    try:
        await migrate(settings)
        # the per-test reset of old, once; then one script repeats its result per test
        await Tortoise.init(config=settings.tortoise_config())
        try:
            await Tortoise.get_connection("default").execute_script(EMPTY_THE_DATABASE)
            await ensure_catalogue()
            await ensure_charts()
            await ensure_commodities()
        finally:
            await Tortoise.close_connections()
        reset = await pg_admin(settings.database_url)
        RESETS[settings.database_url] = (reset, await pg_reset_script(reset))
        yield settings
    finally:
        RESETS.pop(settings.database_url, None)
        if reset is not None:
            await reset.close()
        await flush_redis(settings)
        await on_test_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def flush_redis(settings: Settings) -> None:
    if not settings.redis_url:
        return
    redis = Redis.from_url(settings.redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=settings.redis_prefix + "*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


# Empties every table but the migration log and restarts the sequences, in one round trip.
# DELETE, not TRUNCATE: on tables this small it is some 30 times faster (TRUNCATE makes new
# files for every table and index). The replica role (a superuser's setting) switches off the
# foreign keys and the audit log's append-only trigger for this transaction only. Run once per
# run (then the ensure_* reference data): tests/seed_snapshot.py's script repeats the result.
EMPTY_THE_DATABASE = """
DO $$
DECLARE
    target regclass;
BEGIN
    SET LOCAL session_replication_role = replica;
    FOR target IN
        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'tortoise_migrations'
    LOOP
        EXECUTE format('DELETE FROM %s', target);
    END LOOP;
    FOR target IN
        SELECT s.oid FROM pg_class s
        JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE s.relkind = 'S' AND n.nspname = 'public' AND t.relname <> 'tortoise_migrations'
    LOOP
        PERFORM setval(target, 1, false);
    END LOOP;
END $$
"""


@pytest.fixture
async def settings(backend_settings: Settings, tmp_path: Path) -> Settings:
    """A clean database for each test."""
    if backend_settings.is_sqlite:
        template = backend_settings.data_dir / "cunwu.sqlite3"
        shutil.copy(template, tmp_path / "cunwu.sqlite3")
        return backend_settings.with_overrides(
            data_dir=tmp_path,
            media_root=tmp_path / "media",
            database_url=sqlite_url(tmp_path / "cunwu.sqlite3"),
        )
    conn, script = RESETS[backend_settings.database_url]
    await conn.execute(script)
    await flush_redis(backend_settings)
    return backend_settings.with_overrides(media_root=tmp_path / "media")


@pytest.fixture
async def app(settings: Settings):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GQL:
    return GQL(client)


@pytest.fixture
async def demo(app, settings: Settings):
    """seed_demo(content=False), or the same rows copied from its last run (seed_snapshot)."""
    from scripts.seed_demo import seed_demo

    key = "sqlite" if settings.is_sqlite else settings.database_url
    return await DEMO_SEEDS.setdefault(key, DemoSeeds()).seed(settings, seed_demo)
