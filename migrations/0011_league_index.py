from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0010_flags')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Flag',
            index=Index(fields=['region_path', 'created_at', 'region_id', 'status', 'reopened', 'due_at', 'first_response_at', 'closed_at']),
        ),
    ]
