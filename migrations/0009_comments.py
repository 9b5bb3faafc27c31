from tortoise import migrations
from tortoise.migrations import operations as ops
from models.comments import CommentStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('cunwu', '0008_search_order')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Comment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('target_type', fields.CharField(max_length=32)),
                ('target_id', fields.IntField()),
                ('region', fields.ForeignKeyField('cunwu.Region', source_field='region_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('parent', fields.ForeignKeyField('cunwu.Comment', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='replies', on_delete=OnDelete.RESTRICT)),
                ('author', fields.ForeignKeyField('cunwu.User', source_field='author_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('body', fields.TextField(unique=False)),
                ('official', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=CommentStatus.VISIBLE, description='VISIBLE: VISIBLE\nREPORTED: REPORTED\nHIDDEN: HIDDEN\nDELETED: DELETED', enum_type=CommentStatus, max_length=16)),
                ('hidden_reason', fields.TextField(null=True, unique=False)),
                ('hidden_by', fields.ForeignKeyField('cunwu.User', source_field='hidden_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('report_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('edited_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'comment', 'app': 'cunwu', 'indexes': [Index(fields=['target_type', 'target_id', 'created_at']), Index(fields=['author_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CommentReport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.ForeignKeyField('cunwu.Comment', source_field='comment_id', db_constraint=True, to_field='id', related_name='reports', on_delete=OnDelete.RESTRICT)),
                ('reporter', fields.ForeignKeyField('cunwu.User', source_field='reporter_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'comment_report', 'app': 'cunwu', 'unique_together': (('comment', 'reporter'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CommentRevision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.ForeignKeyField('cunwu.Comment', source_field='comment_id', db_constraint=True, to_field='id', related_name='revisions', on_delete=OnDelete.RESTRICT)),
                ('body', fields.TextField(unique=False)),
                ('replaced_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'comment_revision', 'app': 'cunwu', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
