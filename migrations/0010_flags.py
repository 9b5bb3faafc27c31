from tortoise import migrations
from tortoise.migrations import operations as ops
from models.flags import FlagReason, FlagStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0009_comments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Flag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('target_type', fields.CharField(max_length=32)),
                ('target_id', fields.IntField()),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('region_path', fields.CharField(max_length=128)),
                ('flagger', fields.ForeignKeyField('cunwu.User', source_field='flagger_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('anonymous', fields.BooleanField(default=True)),
                ('reason_code', fields.CharEnumField(description='AMOUNT_QUESTIONED: AMOUNT_QUESTIONED\nRECEIPT_MISSING: RECEIPT_MISSING\nNOT_DISCLOSED_ON_TIME: NOT_DISCLOSED_ON_TIME\nCONTENT_FALSE: CONTENT_FALSE\nOTHER: OTHER', enum_type=FlagReason, max_length=24)),
                ('body', fields.TextField(unique=False)),
                ('media_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(default=FlagStatus.SUBMITTED, description='SUBMITTED: SUBMITTED\nACCEPTED: ACCEPTED\nINVESTIGATING: INVESTIGATING\nRESOLVED: RESOLVED\nREJECTED: REJECTED\nCONFIRMED: CONFIRMED\nREOPENED: REOPENED', enum_type=FlagStatus, max_length=16)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('first_response_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reopened', fields.BooleanField(default=False)),
                ('support_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'flag', 'app': 'cunwu', 'indexes': [Index(fields=['region_path', 'status', 'due_at']), Index(fields=['target_type', 'target_id', 'status']), Index(fields=['status', 'due_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FlagEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('flag', fields.ForeignKeyField('cunwu.Flag', source_field='flag_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('note', fields.TextField(null=True, unique=False)),
                ('actor', fields.ForeignKeyField('cunwu.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('by_official', fields.BooleanField(default=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'flag_event', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FlagSupport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('flag', fields.ForeignKeyField('cunwu.Flag', source_field='flag_id', db_constraint=True, to_field='id', related_name='supports', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'flag_support', 'app': 'cunwu', 'unique_together': (('flag', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Holiday',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(unique=True)),
                ('name', fields.CharField(max_length=40)),
                ('workday', fields.BooleanField(default=False)),
            ],
            options={'table': 'holiday', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('subject_type', fields.CharField(max_length=32)),
                ('subject_id', fields.IntField()),
                ('payload', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('read_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification_event', 'app': 'cunwu', 'indexes': [Index(fields=['user_id', 'read_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
