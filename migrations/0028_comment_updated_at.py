"""Comments keep their own `updated_at` (delta sync derived it from the audit log until now),
indexed for an item's sync keyset (target, updated_at, id).

Existing rows get exactly the time the API served as their `updatedAt` before: the latest
of their creation, their last edit and their newest audit entry. A client that synced before
the upgrade holds a `serverTime` and cursors made of those times, so its next sync stays
exact. `created_at` alone would be wrong for them: a comment hidden or deleted after the
client's last sync would get a time before that sync's `serverTime`, and the client would
never hear of the change (a hidden comment's text would stay on its screen).
"""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

LAST_AUDITED = """(SELECT MAX(a."at") FROM "audit_entry" a
    WHERE a."object_type" = 'Comment' AND a."object_id" = CAST("comment"."id" AS VARCHAR(64)))"""
# SQLite's MAX of several values is NULL if any is; PostgreSQL's GREATEST skips NULLs.
# SQLite compares the stored ISO texts, all in UTC as tortoise writes them.
BACKFILL = {
    "sqlite": f"""UPDATE "comment" SET "updated_at" = MAX("created_at",
        COALESCE("edited_at", "created_at"), COALESCE({LAST_AUDITED}, "created_at"))""",
    "postgres": f"""UPDATE "comment" SET "updated_at" =
        GREATEST("created_at", "edited_at", {LAST_AUDITED})""",
}


class AddFilledField(ops.AddField):
    """AddField, with the column filled before it is NOT NULL. SQLite adds a NOT NULL
    column to a table with rows only with a constant default (the epoch here, never used:
    tortoise always writes the column), and tortoise would change a column there by copying
    the table without its indexes; PostgreSQL adds it nullable, fills it, then forbids NULL."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if not state_editor:
            return
        client = state_editor.client
        dialect = client.capabilities.dialect
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        sql_type = model._meta.fields_map[self.name].get_for_dialect(dialect, "SQL_TYPE")
        if dialect == "sqlite":
            await client.execute_script(
                f'ALTER TABLE "comment" ADD COLUMN "{self.name}" {sql_type} NOT NULL '
                "DEFAULT '1970-01-01 00:00:00+00:00'"
            )
            await client.execute_script(BACKFILL["sqlite"])
        else:
            await client.execute_script(f'ALTER TABLE "comment" ADD COLUMN "{self.name}" {sql_type}')
            await client.execute_script(BACKFILL["postgres"])
            await client.execute_script(
                f'ALTER TABLE "comment" ALTER COLUMN "{self.name}" SET NOT NULL'
            )


class Migration(migrations.Migration):
    dependencies = [("cunwu", "0027_user_village_index")]

    initial = False

    operations = [
        AddFilledField(
            model_name="Comment",
            name="updated_at",
            field=fields.DatetimeField(auto_now=True, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name="Comment",
            index=Index(fields=["target_type", "target_id", "updated_at", "id"]),
        ),
    ]
