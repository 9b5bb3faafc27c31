from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0007_feed_indexes')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='SearchTerm',
            name=None,
            fields=['term', 'disclosure_id'],
        ),
        ops.RemoveIndex(
            model_name='SearchTerm',
            name=None,
            fields=['disclosure_id'],
        ),
        ops.AddField(
            model_name='SearchTerm',
            name='published_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='SearchTerm',
            index=Index(fields=['term', 'published_at', 'disclosure_id', 'in_title']),
        ),
        ops.AddIndex(
            model_name='SearchTerm',
            index=Index(fields=['disclosure_id', 'term']),
        ),
    ]
