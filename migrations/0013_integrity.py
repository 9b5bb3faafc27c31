"""Integrity: each month version's figures kept (account_version), FINANCE corrections staged
for a supervisor (staged_correction), and the content format of each chain entry.

Existing months get their working version's figures, and a published version that differs
(a staged correction) its totals from its lines with the month's opening balance; existing
entries keep format 1, so their hashes still verify."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

WORKING = """INSERT INTO account_version (account_id, version, chart_version, opening_balance_fen,
  income_fen, expense_fen, closing_balance_fen, source)
SELECT a.id, a.version, a.chart_version, a.opening_balance_fen, a.income_fen, a.expense_fen,
  a.closing_balance_fen, a.source FROM monthly_account a"""
TOTAL = """COALESCE((SELECT SUM(l.amount_fen) FROM account_line l WHERE l.account_id = a.id
  AND l.version = a.published_version AND l.direction = '%s'), 0)"""
PUBLISHED = f"""INSERT INTO account_version (account_id, version, chart_version, opening_balance_fen,
  income_fen, expense_fen, closing_balance_fen, source)
SELECT a.id, a.published_version, a.chart_version, a.opening_balance_fen, {TOTAL % "INCOME"},
  {TOTAL % "EXPENSE"}, a.opening_balance_fen + {TOTAL % "INCOME"} - {TOTAL % "EXPENSE"}, a.source
FROM monthly_account a WHERE a.published_version IS NOT NULL AND a.published_version <> a.version"""


async def backfill(apps, editor) -> None:
    for sql in (WORKING, PUBLISHED):
        await editor.client.execute_script(sql)


async def nothing(apps, editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('cunwu', '0012_finance')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccountVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('cunwu.MonthlyAccount', source_field='account_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('chart_version', fields.CharField(max_length=8)),
                ('opening_balance_fen', fields.BigIntField()),
                ('income_fen', fields.BigIntField()),
                ('expense_fen', fields.BigIntField()),
                ('closing_balance_fen', fields.BigIntField()),
                ('source', fields.CharField(max_length=16)),
            ],
            options={'table': 'account_version', 'app': 'cunwu', 'unique_together': (('account', 'version'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StagedCorrection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('tables', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('period', fields.CharField(null=True, max_length=10)),
                ('attachment_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('reason', fields.TextField(unique=False)),
                ('author', fields.ForeignKeyField('cunwu.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'staged_correction', 'app': 'cunwu', 'unique_together': (('disclosure',),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='LedgerEntry',
            name='format',
            field=fields.SmallIntField(default=1),
        ),
        ops.RunPython(backfill, nothing),
    ]
