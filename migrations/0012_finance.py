from tortoise import migrations
from tortoise.migrations import operations as ops
from models.finance import AccountStatus, Direction, RiskRule, RiskStatus, SubjectClass
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0011_league_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccountSubject',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chart_version', fields.CharField(max_length=8)),
                ('code', fields.CharField(max_length=16)),
                ('name', fields.CharField(max_length=40)),
                ('subject_class', fields.CharEnumField(description='ASSET: ASSET\nLIABILITY: LIABILITY\nEQUITY: EQUITY\nCOST: COST\nINCOME: INCOME\nEXPENSE: EXPENSE', enum_type=SubjectClass, max_length=16)),
                ('debit_normal', fields.BooleanField()),
                ('sort_order', fields.IntField(default=0)),
            ],
            options={'table': 'account_subject', 'app': 'cunwu', 'unique_together': (('chart_version', 'code'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MonthlyAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('village', fields.ForeignKeyField('cunwu.Region', source_field='village_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('year', fields.SmallIntField()),
                ('month', fields.SmallIntField()),
                ('chart_version', fields.CharField(max_length=8)),
                ('opening_balance_fen', fields.BigIntField()),
                ('income_fen', fields.BigIntField()),
                ('expense_fen', fields.BigIntField()),
                ('closing_balance_fen', fields.BigIntField()),
                ('status', fields.CharEnumField(default=AccountStatus.DRAFT, description='DRAFT: DRAFT\nPENDING_REVIEW: PENDING_REVIEW\nAPPROVED: APPROVED\nPUBLISHED: PUBLISHED', enum_type=AccountStatus, max_length=16)),
                ('uploaded_by', fields.ForeignKeyField('cunwu.User', source_field='uploaded_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('approved_by', fields.ForeignKeyField('cunwu.User', source_field='approved_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField(default=1)),
                ('published_version', fields.IntField(null=True)),
                ('correction_reason', fields.TextField(null=True, unique=False)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'monthly_account', 'app': 'cunwu', 'unique_together': (('village', 'year', 'month'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AccountLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('cunwu.MonthlyAccount', source_field='account_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('line_no', fields.IntField()),
                ('date', fields.DateField()),
                ('direction', fields.CharEnumField(description='INCOME: INCOME\nEXPENSE: EXPENSE', enum_type=Direction, max_length=8)),
                ('subject_code', fields.CharField(max_length=16)),
                ('amount_fen', fields.BigIntField()),
                ('counterparty', fields.CharField(max_length=100)),
                ('summary', fields.CharField(max_length=200)),
                ('receipt', fields.ForeignKeyField('cunwu.Media', source_field='receipt_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField(default=1)),
            ],
            options={'table': 'account_line', 'app': 'cunwu', 'unique_together': (('account', 'version', 'line_no'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
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
        ops.AddField(
            model_name='DisclosureVersion',
            name='source_version',
            field=fields.IntField(null=True),
        ),
    ]
