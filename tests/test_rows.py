"""Plain rows for hot reads, and SQLite's reads on the loop's thread (api.sqlite_reads)."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from tortoise.transactions import in_transaction

import api.rows
from api import sqlite_reads
from api.rows import query_rows, rows_by_id
from api.settings import Settings
from models.regions import Region, RegionKind, add_region


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests are about the short cuts themselves: on even when the suite runs without."""
    return settings.with_overrides(fast_paths=True)


async def test_rows_convert_columns_lazily_and_answer_like_the_model(app):
    county = await add_region(None, RegionKind.COUNTY, "测试县", "990100000000")
    [row] = await rows_by_id(Region, [county.id])
    assert row.id == row.pk == county.id and row.name == "测试县"
    assert isinstance(row.created_at, datetime)
    assert row.created_at == (await Region.get(id=county.id)).created_at


async def test_inline_reads_see_committed_writes_and_transactions_see_their_own(
    app, settings, caplog, monkeypatch
):
    inline = settings.is_sqlite
    assert bool(sqlite_reads._readers) is inline  # opened with the app, SQLite only
    county = await add_region(None, RegionKind.COUNTY, "测试县", "990100000000")
    calls: list[str] = []
    original = sqlite_reads.read_inline

    def spy(conn, sql, params):
        found = original(conn, sql, params)
        calls.append("inline" if found is not None else "tortoise")
        return found

    monkeypatch.setattr(api.rows, "read_inline", spy)
    assert [r.name for r in await rows_by_id(Region, [county.id])] == ["测试县"]
    async with in_transaction():
        await Region.filter(id=county.id).update(name="改名县")
        # inside the transaction the read goes to tortoise's connection: its own write
        assert [r.name for r in await rows_by_id(Region, [county.id])] == ["改名县"]
    assert [r.name for r in await rows_by_id(Region, [county.id])] == ["改名县"]
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        await query_rows(Region, 'SELECT * FROM "region"', [], inline=True)
        assert sum(1 for r in caplog.records if r.name == "tortoise.db_client") == 1
    if inline:
        assert calls == ["inline", "tortoise", "inline", "inline"]
    else:
        assert calls == []  # PostgreSQL reads are asyncpg's, on the loop already


async def test_postgresql_connections_go_back_to_the_pool_without_a_reset_round_trip(app, settings):
    if settings.is_sqlite:
        pytest.skip("asyncpg's pool only")
    from tortoise import Tortoise

    client = Tortoise.get_connection("default")
    async with client.acquire_connection() as watcher:
        async with client.acquire_connection() as worker:  # a second pooled connection
            pid = worker.get_server_pid()
            assert pid != watcher.get_server_pid()
            await worker.fetch("SELECT 'keep-session-marker'")
        # `worker` is back in the pool: a reset would have been its last statement
        last = await watcher.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
    assert "keep-session-marker" in last  # not asyncpg's "RESET ALL" on release
