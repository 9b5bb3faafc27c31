from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0006_disclosures')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Disclosure',
            index=Index(fields=['category', 'region_id', 'published_at']),
        ),
        ops.AddIndex(
            model_name='Disclosure',
            index=Index(fields=['published_at', 'id']),
        ),
    ]
