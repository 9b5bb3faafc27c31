"""The job queue (kind, payload, leases, attempts, a dedup key among live jobs) and the
scheduler's (job, time slot) rows that make each periodic run happen once."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.jobs import JobStatus
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0019_media_replacement')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=64)),
                ('payload', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(default=JobStatus.QUEUED, description='QUEUED: queued\nRUNNING: running\nDONE: done\nDEAD: dead', enum_type=JobStatus, max_length=8)),
                ('run_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('max_attempts', fields.IntField(default=5)),
                ('lease_owner', fields.CharField(null=True, max_length=64)),
                ('lease_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('unique_key', fields.CharField(null=True, unique=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job', 'app': 'cunwu', 'indexes': [Index(fields=['status', 'run_at']), Index(fields=['status', 'lease_expires_at']), Index(fields=['kind', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobSlot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('slot', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('job_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_slot', 'app': 'cunwu', 'unique_together': (('name', 'slot'),), 'pk_attr': 'id', 'table_description': 'One row per periodic job and time slot: the process whose insert wins enqueues it.'},
            bases=['Model'],
        ),
    ]
