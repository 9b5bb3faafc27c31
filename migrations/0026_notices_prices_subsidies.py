from tortoise import migrations
from tortoise.migrations import operations as ops
from models.prices import CommodityCategory
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0025_deliveries')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Commodity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=40)),
                ('name_en', fields.CharField(max_length=60)),
                ('unit', fields.CharField(max_length=8)),
                ('category', fields.CharEnumField(description='GRAIN: GRAIN\nOIL: OIL\nVEGETABLE: VEGETABLE\nFRUIT: FRUIT\nLIVESTOCK: LIVESTOCK\nAQUATIC: AQUATIC\nTEA: TEA\nINPUT: INPUT\nOTHER: OTHER', enum_type=CommodityCategory, max_length=16)),
                ('sort_order', fields.IntField(default=0)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'commodity', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Market',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('region_path', fields.CharField(max_length=128)),
                ('name', fields.CharField(max_length=60)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'market', 'app': 'cunwu', 'unique_together': (('region', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MarketPrice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('commodity', fields.ForeignKeyField('cunwu.Commodity', source_field='commodity_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('market', fields.ForeignKeyField('cunwu.Market', source_field='market_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('date', fields.DateField()),
                ('price_fen', fields.IntField()),
                ('revision', fields.IntField(default=1)),
                ('recorded_by', fields.ForeignKeyField('cunwu.User', source_field='recorded_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'market_price', 'app': 'cunwu', 'unique_together': (('commodity', 'market', 'date'),), 'indexes': [Index(fields=['market_id', 'date']), Index(fields=['commodity_id', 'date'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NoticeAck',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('village', fields.ForeignKeyField('cunwu.Region', source_field='village_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('acknowledged_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notice_ack', 'app': 'cunwu', 'unique_together': (('disclosure', 'user'),), 'indexes': [Index(fields=['disclosure_id', 'village_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NoticeReminder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('cunwu.User', source_field='user_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notice_reminder', 'app': 'cunwu', 'unique_together': (('disclosure', 'user'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubsidyEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('id_hash', fields.CharField(db_index=True, max_length=64)),
                ('disclosure', fields.ForeignKeyField('cunwu.Disclosure', source_field='disclosure_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField()),
                ('table_index', fields.SmallIntField()),
                ('row_index', fields.IntField()),
            ],
            options={'table': 'subsidy_entry', 'app': 'cunwu', 'unique_together': (('disclosure', 'version', 'table_index', 'row_index'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Disclosure',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Disclosure',
            name='row_keys',
            field=fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Disclosure',
            name='tags',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='Disclosure',
            name='urgent',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Disclosure',
            name='valid_from',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='DisclosureVersion',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='DisclosureVersion',
            name='tags',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddField(
            model_name='DisclosureVersion',
            name='urgent',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='DisclosureVersion',
            name='valid_from',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='StagedCorrection',
            name='row_keys',
            field=fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='User',
            name='id_number_hash',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
        ops.AddField(
            model_name='User',
            name='id_number_set_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
