from tortoise import migrations
from tortoise.migrations import operations as ops
from models.deliveries import Channel, DeliveryStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0024_notify_prefs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharEnumField(description='SMS: SMS\nWECHAT: WECHAT', enum_type=Channel, max_length=8)),
                ('provider', fields.CharField(default='', max_length=16)),
                ('template', fields.CharField(default='', max_length=32)),
                ('event_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('digest', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=DeliveryStatus.SENDING, description='SENDING: SENDING\nRETRYING: RETRYING\nSENT: SENT\nFAILED: FAILED\nSKIPPED: SKIPPED', enum_type=DeliveryStatus, max_length=8)),
                ('provider_message_id', fields.CharField(null=True, max_length=64)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('dedup_key', fields.CharField(unique=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sms_day', fields.CharField(null=True, max_length=10)),
                ('phone', fields.CharField(null=True, max_length=11)),
            ],
            options={'table': 'delivery', 'app': 'cunwu', 'indexes': [Index(fields=['status', 'id']), Index(fields=['channel', 'id']), Index(fields=['phone', 'sms_day'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatBinding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('openid', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'wechat_binding', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app_id', fields.CharField(unique=True, max_length=64)),
                ('token', fields.CharField(default='', max_length=600)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refreshing_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'wechat_token', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
