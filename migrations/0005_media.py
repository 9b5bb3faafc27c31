from tortoise import migrations
from tortoise.migrations import operations as ops
from models.media import MediaKind, MediaPurpose
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0004_idempotent_request')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Media',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sha256', fields.CharField(db_index=True, max_length=64)),
                ('upload_sha256', fields.CharField(max_length=64)),
                ('kind', fields.CharEnumField(description='IMAGE: IMAGE\nPDF: PDF', enum_type=MediaKind, max_length=8)),
                ('mime_type', fields.CharField(max_length=40)),
                ('purpose', fields.CharEnumField(description='RECEIPT: RECEIPT\nMEETING: MEETING\nNOTICE_BOARD: NOTICE_BOARD\nDOCUMENT: DOCUMENT\nPROJECT: PROJECT\nEVIDENCE: EVIDENCE\nOTHER: OTHER', enum_type=MediaPurpose, max_length=16)),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
                ('bytes', fields.IntField()),
                ('variant_bytes', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('placeholder', fields.CharField(null=True, max_length=7)),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('uploaded_by', fields.ForeignKeyField('cunwu.User', source_field='uploaded_by_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('redacted_from', fields.ForeignKeyField('cunwu.Media', source_field='redacted_from_id', null=True, db_constraint=True, to_field='id', related_name='redactions', on_delete=OnDelete.SET_NULL)),
                ('restricted', fields.BooleanField(default=False)),
                ('attached_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'media', 'app': 'cunwu', 'indexes': [Index(fields=['uploaded_by_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
