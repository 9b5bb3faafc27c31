from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0002_audit_append_only')]

    initial = False

    operations = [
        ops.AddField(
            model_name='RefreshToken',
            name='parent',
            field=fields.ForeignKeyField('cunwu.RefreshToken', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL),
        ),
    ]
