"""Uploaded photos and PDFs. Files are content-addressed: the same bytes are stored once."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.regions import Region


class MediaKind(StrEnum):
    IMAGE = "IMAGE"
    PDF = "PDF"


class MediaPurpose(StrEnum):
    RECEIPT = "RECEIPT"
    MEETING = "MEETING"
    NOTICE_BOARD = "NOTICE_BOARD"
    DOCUMENT = "DOCUMENT"
    PROJECT = "PROJECT"
    EVIDENCE = "EVIDENCE"  # a villager's photo attached to a flag
    OTHER = "OTHER"


class Media(Model):
    id = fields.IntField(primary_key=True)
    # sha256 of the stored clean original: names the folder that holds every variant.
    sha256 = fields.CharField(max_length=64, db_index=True)
    upload_sha256 = fields.CharField(max_length=64)  # of the bytes as uploaded
    kind = fields.CharEnumField(MediaKind, max_length=8)
    mime_type = fields.CharField(max_length=40)
    purpose = fields.CharEnumField(MediaPurpose, max_length=16)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    bytes = fields.IntField()  # of the upload, counted against the uploader's quota
    variant_bytes: fields.JSONField[dict[str, int]] = fields.JSONField(
        default=dict
    )  # file name -> size
    placeholder = fields.CharField(max_length=7, null=True)
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    uploaded_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    redacted_from: fields.ForeignKeyNullableRelation[Media] = fields.ForeignKeyField(
        "cunwu.Media", null=True, related_name="redactions", on_delete=fields.SET_NULL
    )
    # Set once a redacted copy exists: the unredacted file is then for staff eyes only.
    restricted = fields.BooleanField(default=False)
    # Set when something published links to it (a published disclosure or month, a submitted
    # flag): from then on the public sees it (unless restricted); before, only staff.
    attached_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    region_id: int
    uploaded_by_id: int
    redacted_from_id: int | None

    class Meta:
        table = "media"
        indexes = (("uploaded_by_id", "created_at"),)
