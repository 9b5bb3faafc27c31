"""Plain rows for hot reads, and SQLite's reads on the loop's thread (api.sqlite_reads)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tortoise.transactions import in_transaction

import api.rows
from api import sqlite_reads
from api.rows import (
    iso_stamp,
    partial_row_class,
    query_rows,
    row_class,
    rows_by_id,
    utc_text,
)
from api.settings import Settings
from models.kept import Kept
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


def isoformat_of(text: str) -> str:
    """What a row answers for SQLite's text of a datetime column: parsed, then isoformat()."""
    return datetime.fromisoformat(text).isoformat()


def test_sqlite_stamps_in_tortoises_form_are_isoformat_with_a_t():
    fractions = ("", ".000000", ".000001", ".120000", ".999999")
    texts = [
        f"{year:04d}-{month:02d}-{day:02d} {clock}{fraction}+00:00"
        for year in (0, 1, 4, 100, 1900, 2000, 2024, 2026, 9999)
        for month in range(0, 14)
        for day in range(0, 33)
        for clock in ("00:00:00", "23:59:59")
        for fraction in fractions
    ]
    texts += [
        f"2026-05-17 {hour:02d}:{minute:02d}:{second:02d}{fraction}+00:00"
        for hour in range(26)
        for minute in range(62)
        for second in (0, 9, 30, 59, 60, 61)
        for fraction in fractions
    ]
    texts += [
        "2026-05-17T08:30:00+00:00",  # not tortoise's separator
        "2026-05-17 08:30:00+08:00",
        "2026-05-17 08:30:00Z",
        "2026-05-17 08:30:00",
        "2026-05-17 08:30:00.12+00:00",
        "2026-05-17 08:30:00+00:00\n",
        "２０２６-05-17 08:30:00+00:00",  # other digits, which fromisoformat may read
    ]
    taken = 0
    for text in texts:
        if utc_text(text) is not None:
            taken += 1
            assert isoformat_of(text) == text.replace(" ", "T", 1), text
    # taken: every real date (but 29 February) and time, with or without microseconds
    assert taken == 8 * 365 * 2 * 4 + 24 * 60 * 4 * 4  # years 1 to 9999, 4 fractions
    for text in ("2024-02-29 00:00:00+00:00", "2026-01-01 00:00:00.000000+00:00"):
        assert utc_text(text) is None  # valid, left to the parse (".000000": no fraction)


def test_tortoise_writes_aware_utc_datetimes_to_sqlite_in_that_form():
    """tortoise's sqlite3 adapter (tortoise.backends.sqlite.executor), as registered."""
    import tortoise.backends.sqlite.executor  # noqa: F401 (registers the adapter)

    adapt = sqlite3.adapters[(datetime, sqlite3.PrepareProtocol)]
    for value in (
        datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 6, 7, 1, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 4, 13, 6, 7, tzinfo=timezone(timedelta(hours=8))).astimezone(UTC),
    ):
        text = adapt(value)
        assert utc_text(text) is not None, text
        assert text.replace(" ", "T", 1) == value.isoformat()
    assert utc_text(adapt(datetime(2026, 3, 4, 5, 6, 7))) is None  # naive: no offset
    assert (
        utc_text(adapt(datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=8))))) is None
    )


async def test_a_rows_stored_text_is_served_only_while_it_is_tortoises_own(app, settings):
    county = await add_region(None, RegionKind.COUNTY, "测试县", "990100000000")
    await Region.filter(id=county.id).update(created_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    [row] = await rows_by_id(Region, [county.id])
    if not settings.is_sqlite:  # asyncpg answers datetimes: nothing to serve
        assert iso_stamp(row, "created_at") is None
        return
    assert row.__dict__["created_at"] == "2026-03-04 05:06:07+00:00"
    assert iso_stamp(row, "created_at") == row.created_at.isoformat() == "2026-03-04T05:06:07+00:00"
    assert iso_stamp(row, "created_at") is None  # converted by the read above
    assert iso_stamp(row, "name") is None  # not a datetime column
    model = await Region.get(id=county.id)
    assert iso_stamp(model, "created_at") is None  # a model instance: its attribute
    odd = row_class(Region)({"created_at": "2026-03-04 05:06:07.000000+00:00"})
    assert iso_stamp(odd, "created_at") is None
    unread = partial_row_class(Region, frozenset({"created_at"}))({"id": county.id})
    assert iso_stamp(unread, "created_at") is None  # the read raises ColumnNotRead


def test_served_texts_are_kept_within_a_bound(monkeypatch):
    monkeypatch.setattr(api.rows, "_SERVED", Kept(3))
    rows = [row_class(Region)({"created_at": f"2026-03-04 05:06:0{i}+00:00"}) for i in range(5)]
    assert [iso_stamp(r, "created_at") for r in rows] == [
        f"2026-03-04T05:06:0{i}+00:00" for i in range(5)
    ]
    assert 0 < len(api.rows._SERVED) <= 3  # emptied when full, never past the bound
    # a text never matched is not kept, whatever was kept before it
    odd = row_class(Region)({"created_at": "2026-02-29 05:06:07+00:00"})
    assert iso_stamp(odd, "created_at") is None
    assert "2026-02-29 05:06:07+00:00" not in api.rows._SERVED


def test_partial_row_classes_are_kept_within_a_bound(monkeypatch):
    monkeypatch.setattr(api.rows, "_PARTIAL_CLASSES", Kept(2))
    columns = ("name", "path", "code", "created_at")
    made = [partial_row_class(Region, frozenset({c})) for c in columns]
    assert len(api.rows._PARTIAL_CLASSES) <= 2  # a client's ever other selections
    for cls, column in zip(made, columns, strict=True):
        row = cls({"id": 1})
        with pytest.raises(api.rows.ColumnNotRead):
            getattr(row, column)
    assert partial_row_class(Region, frozenset({"code"})).absent == {"code"}
