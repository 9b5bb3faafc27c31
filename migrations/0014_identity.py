from tortoise import migrations
from tortoise.migrations import operations as ops
from models.flags import IdentityShown
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0013_integrity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdentityView',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('viewer', fields.ForeignKeyField('cunwu.User', source_field='viewer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('flag', fields.ForeignKeyField('cunwu.Flag', source_field='flag_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('region_path', fields.CharField(max_length=128)),
                ('shown', fields.CharEnumField(description='FLAGGER: FLAGGER\nSUPPORTERS: SUPPORTERS\nAUDIT_ACTOR: AUDIT_ACTOR', enum_type=IdentityShown, max_length=16)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'identity_view', 'app': 'cunwu', 'indexes': [Index(fields=['region_path', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
