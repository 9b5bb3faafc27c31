from tortoise import migrations
from tortoise.migrations import operations as ops
from models.finance import RiskRule, RiskStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0013_account_disclosure')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RiskHit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('cunwu.MonthlyAccount', source_field='account_id', db_constraint=True, to_field='id', related_name='risk_hits', on_delete=OnDelete.CASCADE)),
                ('line_no', fields.IntField()),
                ('rule', fields.CharEnumField(description='DUPLICATE_RECEIPT: DUPLICATE_RECEIPT\nDUPLICATE_PAYMENT: DUPLICATE_PAYMENT\nNO_RECEIPT_ABOVE_THRESHOLD: NO_RECEIPT_ABOVE_THRESHOLD\nSPLIT_PAYMENTS: SPLIT_PAYMENTS\nPAYEE_IS_OFFICER: PAYEE_IS_OFFICER', enum_type=RiskRule, max_length=32)),
                ('detail', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(default=RiskStatus.OPEN, description='OPEN: OPEN\nCLEARED: CLEARED\nCONFIRMED: CONFIRMED', enum_type=RiskStatus, max_length=16)),
                ('note', fields.TextField(null=True, unique=False)),
                ('decided_by', fields.ForeignKeyField('cunwu.User', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'risk_hit', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
