from tortoise import migrations
from tortoise.migrations import operations as ops
from models.disclosures import Category, Frequency, Status
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0005_media')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CatalogueItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('category', fields.CharEnumField(description='FINANCE: FINANCE\nPARTY: PARTY\nVILLAGE_AFFAIRS: VILLAGE_AFFAIRS\nFARMING: FARMING\nNOTICE: NOTICE', enum_type=Category, max_length=16)),
                ('parent', fields.ForeignKeyField('cunwu.CatalogueItem', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=200)),
                ('frequency', fields.CharEnumField(description='MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nHALF_YEARLY: HALF_YEARLY\nYEARLY: YEARLY\nIMMEDIATE: IMMEDIATE\nON_EVENT: ON_EVENT', enum_type=Frequency, max_length=16)),
                ('required', fields.BooleanField(default=False)),
                ('legal_basis', fields.CharField(null=True, max_length=200)),
                ('sort_order', fields.IntField(default=0)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'catalogue_item', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Disclosure',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('region_path', fields.CharField(max_length=128)),
                ('category', fields.CharEnumField(description='FINANCE: FINANCE\nPARTY: PARTY\nVILLAGE_AFFAIRS: VILLAGE_AFFAIRS\nFARMING: FARMING\nNOTICE: NOTICE', enum_type=Category, max_length=16)),
                ('catalogue_item', fields.ForeignKeyField('cunwu.CatalogueItem', source_field='catalogue_item_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('tables', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('period', fields.CharField(null=True, max_length=10)),
                ('attachment_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('must_read', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=Status.DRAFT, description='DRAFT: DRAFT\nPENDING_REVIEW: PENDING_REVIEW\nAPPROVED: APPROVED\nSCHEDULED: SCHEDULED\nPUBLISHED: PUBLISHED\nRETRACTED: RETRACTED', enum_type=Status, max_length=16)),
                ('version', fields.IntField(default=0)),
                ('author', fields.ForeignKeyField('cunwu.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('approved_by', fields.ForeignKeyField('cunwu.User', source_field='approved_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('publish_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('retracted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('retraction_reason', fields.TextField(null=True, unique=False)),
                ('view_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'disclosure', 'app': 'cunwu', 'indexes': [Index(fields=['region_path', 'published_at']), Index(fields=['status', 'publish_at']), Index(fields=['catalogue_item_id', 'period'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DisclosureVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField()),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('tables', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('period', fields.CharField(null=True, max_length=10)),
                ('attachments', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('reason', fields.TextField(null=True, unique=False)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('published_by', fields.ForeignKeyField('cunwu.User', source_field='published_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'disclosure_version', 'app': 'cunwu', 'unique_together': (('disclosure', 'version'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DueDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('frequency', fields.CharEnumField(description='MONTHLY: MONTHLY\nQUARTERLY: QUARTERLY\nHALF_YEARLY: HALF_YEARLY\nYEARLY: YEARLY\nIMMEDIATE: IMMEDIATE\nON_EVENT: ON_EVENT', enum_type=Frequency, max_length=16)),
                ('day', fields.SmallIntField()),
            ],
            options={'table': 'due_day', 'app': 'cunwu', 'unique_together': (('region', 'frequency'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Follow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'follow', 'app': 'cunwu', 'unique_together': (('user', 'region'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('seq', fields.IntField()),
                ('kind', fields.CharField(max_length=8)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('version', fields.ForeignKeyField('cunwu.DisclosureVersion', source_field='version_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('reason', fields.TextField(null=True, unique=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(max_length=64)),
            ],
            options={'table': 'ledger_entry', 'app': 'cunwu', 'unique_together': (('region', 'seq'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReadMark',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('read_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'read_mark', 'app': 'cunwu', 'unique_together': (('user', 'disclosure'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SearchTerm',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('term', fields.CharField(max_length=24)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('in_title', fields.BooleanField(default=False)),
            ],
            options={'table': 'search_term', 'app': 'cunwu', 'indexes': [Index(fields=['term', 'disclosure_id']), Index(fields=['disclosure_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
