from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0028_comment_updated_at')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Disclosure',
            name=None,
            fields=['region_path', 'published_at'],
        ),
        ops.RemoveIndex(
            model_name='Disclosure',
            name=None,
            fields=['category', 'region_id', 'published_at'],
        ),
        ops.AddIndex(
            model_name='Disclosure',
            index=Index(fields=['region_path', 'published_at', 'expires_at']),
        ),
        ops.AddIndex(
            model_name='Disclosure',
            index=Index(fields=['category', 'region_id', 'published_at', 'expires_at']),
        ),
    ]
