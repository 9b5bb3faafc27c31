from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0012_finance')]

    initial = False

    operations = [
        ops.AddField(
            model_name='MonthlyAccount',
            name='disclosure',
            field=fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT),
        ),
    ]
