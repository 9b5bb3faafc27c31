"""The approval each published version was made under (who and when), so the chain covers
the approval a reader is shown; versions published before keep none (their entries are of
format 1 and do not chain it)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("cunwu", "0014_identity")]

    initial = False

    operations = [
        ops.AddField(
            model_name="DisclosureVersion",
            name="approved_by_id",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="DisclosureVersion",
            name="approved_at",
            field=fields.DatetimeField(null=True),
        ),
    ]
