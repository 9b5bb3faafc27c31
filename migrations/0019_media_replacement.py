"""Redacted copies put in the place of published files: which media replaced which in which
published version, under which REDACT entry of the chain."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0018_worklist')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MediaReplacement',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entry', fields.ForeignKeyField('cunwu.LedgerEntry', source_field='entry_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('version', fields.ForeignKeyField('cunwu.DisclosureVersion', source_field='version_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('original', fields.ForeignKeyField('cunwu.Media', source_field='original_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('replacement', fields.ForeignKeyField('cunwu.Media', source_field='replacement_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'media_replacement', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
