from tortoise import migrations
from tortoise.migrations import operations as ops
from models.accounts import CodePurpose
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0022_phone_verified')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SmsCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(max_length=11)),
                ('purpose', fields.CharEnumField(description='VERIFY_PHONE: VERIFY_PHONE\nLOGIN: LOGIN\nRESET_PASSWORD: RESET_PASSWORD', enum_type=CodePurpose, max_length=16)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sms_code', 'app': 'cunwu', 'unique_together': (('phone', 'purpose'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
