from tortoise import migrations
from tortoise.migrations import operations as ops
from models.accounts import Role
from models.regions import RegionKind
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Region',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('parent', fields.ForeignKeyField('cunwu.Region', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='PROVINCE: PROVINCE\nPREFECTURE: PREFECTURE\nCOUNTY: COUNTY\nTOWNSHIP: TOWNSHIP\nVILLAGE: VILLAGE\nGROUP: GROUP', enum_type=RegionKind, max_length=16)),
                ('code', fields.CharField(null=True, unique=True, max_length=12)),
                ('name', fields.CharField(max_length=64)),
                ('path', fields.CharField(db_index=True, max_length=128)),
                ('depth', fields.SmallIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'region', 'app': 'cunwu', 'unique_together': (('parent', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('phone', fields.CharField(unique=True, max_length=11)),
                ('name', fields.CharField(max_length=40)),
                ('password_hash', fields.CharField(max_length=200)),
                ('village', fields.ForeignKeyField('cunwu.Region', source_field='village_id', null=True, db_constraint=True, to_field='id', related_name='residents', on_delete=OnDelete.RESTRICT)),
                ('residency_verified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('residency_verified_by', fields.ForeignKeyField('cunwu.User', source_field='residency_verified_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('is_active', fields.BooleanField(default=True)),
            ],
            options={'table': 'user', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('actor', fields.ForeignKeyField('cunwu.User', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('action', fields.CharField(max_length=64)),
                ('object_type', fields.CharField(max_length=32)),
                ('object_id', fields.CharField(max_length=64)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('ip', fields.CharField(null=True, max_length=45)),
                ('request_id', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'audit_entry', 'app': 'cunwu', 'indexes': [Index(fields=['object_type', 'object_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoleGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='CLERK: CLERK\nSUPERVISOR: SUPERVISOR\nOFFICIAL: OFFICIAL\nINSPECTOR: INSPECTOR\nADMIN: ADMIN', enum_type=Role, max_length=16)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', null=True, db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('granted_by', fields.ForeignKeyField('cunwu.User', source_field='granted_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('granted_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_by', fields.ForeignKeyField('cunwu.User', source_field='revoked_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'role_grant', 'app': 'cunwu', 'indexes': [Index(fields=['user_id', 'revoked_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('user_agent', fields.CharField(null=True, max_length=200)),
                ('ip', fields.CharField(null=True, max_length=45)),
            ],
            options={'table': 'session', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('session', fields.ForeignKeyField('cunwu.Session', source_field='session_id', db_constraint=True, to_field='id', related_name='refresh_tokens', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'refresh_token', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
