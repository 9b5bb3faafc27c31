"""Work lists: the supervisor's send-back notes (ReturnNote), and the voucher number a line
keeps from an accounting package's export (AccountLine.voucher_no)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.disclosures import ReturnKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0017_risk_lines')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReturnNote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('village', fields.ForeignKeyField('cunwu.Region', source_field='village_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='DISCLOSURE: DISCLOSURE\nCORRECTION: CORRECTION\nMONTH: MONTH', enum_type=ReturnKind, max_length=16)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('account', fields.ForeignKeyField('cunwu.MonthlyAccount', source_field='account_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('month_version', fields.IntField(null=True)),
                ('staged_id', fields.IntField(null=True)),
                ('reason', fields.TextField(unique=False)),
                ('returned_by', fields.ForeignKeyField('cunwu.User', source_field='returned_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('author', fields.ForeignKeyField('cunwu.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'return_note', 'app': 'cunwu', 'indexes': [Index(fields=['village_id', 'closed_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AccountLine',
            name='voucher_no',
            field=fields.CharField(default='', max_length=32),
        ),
    ]
