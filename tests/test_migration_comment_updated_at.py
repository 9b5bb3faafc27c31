"""Migration 0028 on a database with comments in it, on SQLite and on PostgreSQL: every
existing comment gets the `updatedAt` the API served for it before (the latest of its
creation, its last edit and its newest audit entry), so clients that synced before the
upgrade miss nothing after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate as tortoise_migrate

from api.settings import Settings, sqlite_url
from models.accounts import User
from models.audit import AuditEntry
from models.comments import Comment
from models.comments.sync import changed_since
from models.regions import Region, RegionKind
from tests.conftest import RUN_ID, TEST_DATABASE_URL, on_test_server, with_database

BEFORE = "cunwu.0027_user_village_index"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def empty_database(backend_settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """A database of its own, no migration applied yet, on the run's backend."""
    if backend_settings.is_sqlite:
        yield backend_settings.with_overrides(
            data_dir=tmp_path, database_url=sqlite_url(tmp_path / "m0028.sqlite3")
        )
        return
    assert TEST_DATABASE_URL
    name = f"cunwu_test_{RUN_ID}_m0028"
    await on_test_server(f'CREATE DATABASE "{name}"')
    try:
        yield backend_settings.with_overrides(
            database_url=with_database(TEST_DATABASE_URL, name), redis_url=None
        )
    finally:
        await on_test_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


INSERT = """INSERT INTO "comment" ("target_type", "target_id", "region_id", "author_id",
  "body", "official", "status", "report_count", "created_at", "edited_at")
  VALUES ('Disclosure', 1, {region}, {author}, {body}, {false}, {status}, 0, {created}, {edited})"""


async def test_existing_comments_keep_the_updated_at_they_were_served(empty_database):
    config = empty_database.tortoise_config()
    await tortoise_migrate(config=config, target=BEFORE)
    await Tortoise.close_connections()

    # comments as 0027 kept them, with the audit entries their changes wrote
    await Tortoise.init(config=config)
    try:
        conn = Tortoise.get_connection("default")
        postgres = conn.capabilities.dialect == "postgres"
        mark = (lambda i: f"${i}") if postgres else (lambda i: "?")
        village = await Region.create(kind=RegionKind.VILLAGE, name="东溪村", path="1.", depth=2)
        author = await User.create(phone="13900000001", name="村民", password_hash="-")
        cases = {
            # body: (status, created, edited, audited times)
            "never touched": ("VISIBLE", T0, None, []),
            "added, audited": ("VISIBLE", T0, None, [T0 + timedelta(microseconds=250)]),
            "edited": ("VISIBLE", T0, T0 + timedelta(minutes=3), [T0, T0 + timedelta(minutes=3)]),
            "hidden a day later": ("HIDDEN", T0, None, [T0, T0 + timedelta(days=1)]),
            "seeded in the past": ("VISIBLE", T0 - timedelta(days=90), None, [T0]),
            "edited, then deleted": (
                "DELETED",
                T0,
                T0 + timedelta(minutes=5),
                [T0, T0 + timedelta(minutes=5), T0 + timedelta(days=2, seconds=1)],
            ),
        }
        for body, (status, created, edited, audited) in cases.items():
            await conn.execute_query(
                INSERT.format(
                    region=village.id,
                    author=author.id,
                    body=mark(1),
                    false="false" if postgres else "0",
                    status=mark(2),
                    created=mark(3),
                    edited=mark(4),
                ),
                [body, status, created, edited],
            )
            [row] = (
                await conn.execute_query(
                    f'SELECT "id" FROM "comment" WHERE "body" = {mark(1)}', [body]
                )
            )[1]
            for at in audited:
                await AuditEntry.create(
                    at=at, action="comment.x", object_type="Comment", object_id=str(row["id"])
                )
        # another object with the same id in the log does not count
        await AuditEntry.create(
            at=T0 + timedelta(days=30), action="x", object_type="Disclosure", object_id="1"
        )
    finally:
        await Tortoise.close_connections()

    await tortoise_migrate(config=config)
    await Tortoise.close_connections()

    await Tortoise.init(config=config)
    try:
        stamped = {c.body: c.updated_at for c in await Comment.all()}
        served_before = {
            body: max([created, *([edited] if edited else []), *audited])
            for body, (_, created, edited, audited) in cases.items()
        }
        assert stamped == served_before
        # and the sync reads it: the changes after a client's last sync, in keyset order
        after_day_one = await changed_since("Disclosure", 1, T0 + timedelta(hours=12), None, 10)
        assert [c.body for c in after_day_one] == ["hidden a day later", "edited, then deleted"]
        # a comment written after the upgrade is stamped by the write itself
        fresh = await Comment.create(
            target_type="Disclosure", target_id=1, region=village, author=author, body="新的"
        )
        assert abs(fresh.updated_at - datetime.now(UTC)) < timedelta(minutes=1)
    finally:
        await Tortoise.close_connections()
