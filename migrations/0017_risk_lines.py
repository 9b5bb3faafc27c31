"""Risk hits keep the version of the lines they were found on (existing hits: their month's
working version, the only one the rules kept hits for) and the flag a confirmed one raised;
a flag says whether the supervision committee raised it."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

VERSIONS = """UPDATE risk_hit SET version = (SELECT a.version FROM monthly_account a
  WHERE a.id = risk_hit.account_id)"""


async def backfill(apps, editor) -> None:
    await editor.client.execute_script(VERSIONS)


async def nothing(apps, editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('cunwu', '0016_schedule')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Flag',
            name='by_committee',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='RiskHit',
            name='flag',
            field=fields.ForeignKeyField('cunwu.Flag', source_field='flag_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='RiskHit',
            name='version',
            field=fields.IntField(default=1),
        ),
        ops.AddIndex(
            model_name='RiskHit',
            index=Index(fields=['account_id', 'version', 'line_no']),
        ),
        ops.RunPython(backfill, nothing),
    ]
