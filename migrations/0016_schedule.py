"""Scheduled work: flags reminded once before their deadline, scheduled notices sent once per
region and period, league tables shared by every worker, view-count batches applied once."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0015_version_approval')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ScheduledNotice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=32)),
                ('region_id', fields.IntField()),
                ('period', fields.CharField(max_length=10)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'scheduled_notice', 'app': 'cunwu', 'unique_together': (('kind', 'region_id', 'period'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StatsSnapshot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=96)),
                ('data', fields.TextField(unique=False)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stats_snapshot', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ViewFlush',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('applied_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'view_flush', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Flag',
            name='reminded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
