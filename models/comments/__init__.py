"""Comments on published items: one level of replies, edit history, reports and moderation."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.regions import Region


class CommentStatus(StrEnum):
    VISIBLE = "VISIBLE"
    REPORTED = "REPORTED"  # hidden by three villagers' reports until an official decides
    HIDDEN = "HIDDEN"  # hidden by an official, with a public reason
    DELETED = "DELETED"  # removed by its author: a tombstone stays


class Comment(Model):
    id = fields.IntField(primary_key=True)
    target_type = fields.CharField(max_length=32)  # "Disclosure" (accounts and projects later)
    target_id = fields.IntField()
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    parent: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "cunwu.Comment", null=True, related_name="replies", on_delete=fields.RESTRICT
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    body = fields.TextField()
    official = fields.BooleanField(default=False)  # written by staff covering the item
    status = fields.CharEnumField(CommentStatus, max_length=16, default=CommentStatus.VISIBLE)
    hidden_reason = fields.TextField(null=True)
    hidden_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    report_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    # Every change a reader can see (added, edited, hidden, restored, deleted) stamps it, in
    # the transaction that writes the change: an item's delta sync reads (updated_at, id).
    updated_at = fields.DatetimeField(auto_now=True)

    region_id: int
    parent_id: int | None
    author_id: int

    class Meta:
        table = "comment"
        indexes = (
            ("target_type", "target_id", "created_at"),
            ("author_id", "created_at"),
            ("target_type", "target_id", "updated_at", "id"),
        )


class CommentRevision(Model):
    id = fields.IntField(primary_key=True)
    comment: fields.ForeignKeyRelation[Comment] = fields.ForeignKeyField(
        "cunwu.Comment", related_name="revisions", on_delete=fields.RESTRICT
    )
    body = fields.TextField()  # the text before the edit
    replaced_at = fields.DatetimeField(auto_now_add=True)

    comment_id: int

    class Meta:
        table = "comment_revision"


class CommentReport(Model):
    id = fields.IntField(primary_key=True)
    comment: fields.ForeignKeyRelation[Comment] = fields.ForeignKeyField(
        "cunwu.Comment", related_name="reports", on_delete=fields.RESTRICT
    )
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    reason = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    comment_id: int
    reporter_id: int

    class Meta:
        table = "comment_report"
        unique_together = (("comment", "reporter"),)
