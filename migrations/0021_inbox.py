"""Per-user sequence numbers for notifications: existing rows numbered in id order, each
user's counter set to their last number."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

NUMBER = """UPDATE notification_event SET seq = (SELECT COUNT(*) FROM notification_event e
  WHERE e.user_id = notification_event.user_id AND e.id <= notification_event.id);
INSERT INTO notification_counter (user_id, last_seq)
  SELECT user_id, MAX(seq) FROM notification_event GROUP BY user_id"""


async def backfill(apps, editor) -> None:
    await editor.client.execute_script(NUMBER)


async def nothing(apps, editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('cunwu', '0020_jobs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='NotificationCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.IntField()),
                ('last_seq', fields.IntField(default=0)),
            ],
            options={'table': 'notification_counter', 'app': 'cunwu', 'unique_together': (('user_id',),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='NotificationEvent',
            name='seq',
            field=fields.IntField(default=0),
        ),
        ops.RunPython(backfill, nothing),
        ops.AddConstraint(
            model_name='NotificationEvent',
            constraint=UniqueConstraint(fields=('user_id', 'seq'), name=None),
        ),
    ]
