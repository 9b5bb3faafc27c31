"""Make the audit log append-only in the database itself, not only in the ORM."""

from tortoise import migrations
from tortoise.migrations import operations as ops

SQLITE = [
    """CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END""",
    """CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END""",
]
POSTGRES = [
    """CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_entry is append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
       FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()""",
]
DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_entry_no_update",
        "DROP TRIGGER IF EXISTS audit_entry_no_delete",
    ],
    "postgres": [
        "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
        "DROP FUNCTION IF EXISTS audit_entry_append_only()",
    ],
}


async def _run(editor, statements) -> None:
    # execute_script: trigger bodies contain semicolons that the editor would split on.
    for sql in statements:
        await editor.client.execute_script(sql)


async def forward(apps, editor) -> None:
    dialect = editor.client.capabilities.dialect
    await _run(editor, SQLITE if dialect == "sqlite" else POSTGRES)


async def backward(apps, editor) -> None:
    dialect = editor.client.capabilities.dialect
    await _run(editor, DROP["sqlite" if dialect == "sqlite" else "postgres"])


class Migration(migrations.Migration):
    dependencies = [("cunwu", "0001_initial")]

    operations = [ops.RunPython(forward, backward)]
