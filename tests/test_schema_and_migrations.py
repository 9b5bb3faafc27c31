"""The checked-in schema and the migrations agree with the code."""

from __future__ import annotations

import pytest
from tortoise.context import TortoiseContext
from tortoise.exceptions import OperationalError, TransactionManagementError
from tortoise.migrations.autodetector import MigrationAutodetector

from api.settings import Settings
from models.audit import AuditEntry, AuditLogIsAppendOnly
from scripts.dump_schema import SCHEMA_FILE, served_schema


def test_schema_file_matches_the_served_schema():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == served_schema(), (
        "schema.graphql is stale: run `python -m scripts.dump_schema` and commit it"
    )


async def test_models_have_no_pending_migration(settings: Settings):
    config = settings.tortoise_config()
    apps = config["apps"]
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, apps).changes()
    assert [w.name for w in writers] == [], "run `tortoise makemigrations` and commit the result"


async def test_the_audit_log_is_append_only_in_the_database(app):
    entry = await AuditEntry.create(action="test", object_type="X", object_id="1")
    with pytest.raises(AuditLogIsAppendOnly):
        await entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        await entry.delete()
    # Even past the ORM's guard, the database itself refuses.
    with pytest.raises((OperationalError, TransactionManagementError, Exception)) as caught:
        await AuditEntry.filter(id=entry.id).update(action="changed")
    assert "append-only" in str(caught.value)
    with pytest.raises(Exception) as caught:
        await AuditEntry.filter(id=entry.id).delete()
    assert "append-only" in str(caught.value)
    assert (await AuditEntry.get(id=entry.id)).action == "test"
