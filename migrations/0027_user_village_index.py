from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0026_notices_prices_subsidies')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='User',
            name='village',
            field=fields.ForeignKeyField('cunwu.Region', source_field='village_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='residents', on_delete=OnDelete.RESTRICT),
        ),
    ]
