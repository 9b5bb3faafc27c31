"""Disclosures (公开事项): the catalogue of what must be published, drafts, immutable
published versions, the per-region hash chain, the search index, follows and read marks."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.media import Media
from models.regions import Region


class Category(StrEnum):
    FINANCE = "FINANCE"
    PARTY = "PARTY"
    VILLAGE_AFFAIRS = "VILLAGE_AFFAIRS"
    FARMING = "FARMING"
    NOTICE = "NOTICE"


class Frequency(StrEnum):
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    HALF_YEARLY = "HALF_YEARLY"
    YEARLY = "YEARLY"
    IMMEDIATE = "IMMEDIATE"  # major matters: at once, no calendar due date
    ON_EVENT = "ON_EVENT"


# Frequencies with calendar periods (2026-03, 2026-Q1, 2026-H1, 2026) and due days.
PERIODIC = (Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.HALF_YEARLY, Frequency.YEARLY)


# What a piece of farming information is about; searched by tag.
class FarmingTag(StrEnum):
    CROP = "CROP"
    LIVESTOCK = "LIVESTOCK"
    PEST = "PEST"
    POLICY = "POLICY"
    WEATHER = "WEATHER"


class Status(StrEnum):
    DRAFT = "DRAFT"
    PENDING_REVIEW = "PENDING_REVIEW"
    APPROVED = "APPROVED"
    SCHEDULED = "SCHEDULED"
    PUBLISHED = "PUBLISHED"
    RETRACTED = "RETRACTED"


class CatalogueItem(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    category = fields.CharEnumField(Category, max_length=16)
    parent: fields.ForeignKeyNullableRelation[CatalogueItem] = fields.ForeignKeyField(
        "cunwu.CatalogueItem", null=True, related_name="children", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=200)
    frequency = fields.CharEnumField(Frequency, max_length=16)
    # Counted by the compliance view: every village must publish it every period.
    required = fields.BooleanField(default=False)
    legal_basis = fields.CharField(max_length=200, null=True)
    sort_order = fields.IntField(default=0)
    active = fields.BooleanField(default=True)

    parent_id: int | None

    class Meta:
        table = "catalogue_item"


# The day of the month after a period ends by which its items are due; set on a region,
# inherited by everything below it.
class DueDay(Model):
    id = fields.IntField(primary_key=True)
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.CASCADE
    )
    frequency = fields.CharEnumField(Frequency, max_length=16)
    day = fields.SmallIntField()

    region_id: int

    class Meta:
        table = "due_day"
        unique_together = (("region", "frequency"),)


class Disclosure(Model):
    id = fields.IntField(primary_key=True)
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    region_path = fields.CharField(max_length=128)  # copied: feeds select a subtree by range
    category = fields.CharEnumField(Category, max_length=16)
    catalogue_item: fields.ForeignKeyNullableRelation[CatalogueItem] = fields.ForeignKeyField(
        "cunwu.CatalogueItem", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    # The working copy: what the next publication will contain.
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    tables: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    period = fields.CharField(max_length=10, null=True)
    attachment_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    must_read = fields.BooleanField(default=False)
    # Farming information: tags (FarmingTag values, sorted, comma-joined), an urgent warning
    # (delivered at once on every channel a reader has not turned off), valid from; notices
    # and farming information: leave the feed after `expires_at` but stay readable.
    tags = fields.CharField(max_length=64, default="")
    urgent = fields.BooleanField(default=False)
    valid_from = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    # Keyed hashes (HMAC) of the ID numbers in `tables`, per table per row (None where a row
    # holds none): never served, copied to `subsidy_entry` on publication (我的补贴).
    row_keys: fields.JSONField[list[list[str | None]]] = fields.JSONField(default=list)

    status = fields.CharEnumField(Status, max_length=16, default=Status.DRAFT)
    version = fields.IntField(default=0)  # published versions so far
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    approved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    approved_at = fields.DatetimeField(null=True)
    publish_at = fields.DatetimeField(null=True)
    first_published_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(null=True)  # of the current version: feed order
    retracted_at = fields.DatetimeField(null=True)
    retraction_reason = fields.TextField(null=True)
    view_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    region_id: int
    catalogue_item_id: int | None
    author_id: int
    approved_by_id: int | None

    class Meta:
        table = "disclosure"
        indexes = (
            # A feed page's two OR branches: the region's subtree, and the notices from the
            # regions above it. `expires_at` too, so that the page's live-notice test is read
            # off the index, not from each candidate's row (a quarter of the ids' statement).
            ("region_path", "published_at", "expires_at"),
            ("category", "region_id", "published_at", "expires_at"),
            ("published_at", "id"),
            ("status", "publish_at"),
            ("catalogue_item_id", "period"),
        )


class DisclosureVersion(Model):
    id = fields.IntField(primary_key=True)
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name="versions", on_delete=fields.RESTRICT
    )
    version = fields.IntField()
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    tables: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    period = fields.CharField(max_length=10, null=True)
    attachments: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(
        default=list
    )  # [{"id": media id, "sha256": ...}]
    reason = fields.TextField(null=True)  # why this correction was made
    # Which version of a linked record it publishes (a monthly account's lines).
    source_version = fields.IntField(null=True)
    # As on the disclosure when this version was published (chained from format 4).
    tags = fields.CharField(max_length=64, default="")
    urgent = fields.BooleanField(default=False)
    valid_from = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField()
    published_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    # The approval this version was published under, as served and chained.
    approved_by_id = fields.IntField(null=True)
    approved_at = fields.DatetimeField(null=True)

    disclosure_id: int
    published_by_id: int

    class Meta:
        table = "disclosure_version"
        unique_together = (("disclosure", "version"),)


# A FINANCE correction waiting for a supervisor: the public keeps the published version.
class StagedCorrection(Model):
    id = fields.IntField(primary_key=True)
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name=False, on_delete=fields.CASCADE
    )
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    tables: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    period = fields.CharField(max_length=10, null=True)
    attachment_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    row_keys: fields.JSONField[list[list[str | None]]] = fields.JSONField(default=list)
    reason = fields.TextField()
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    disclosure_id: int
    author_id: int

    class Meta:
        table = "staged_correction"
        unique_together = (("disclosure",),)


class LedgerEntry(Model):
    id = fields.IntField(primary_key=True)
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    seq = fields.IntField()
    kind = fields.CharField(max_length=8)  # PUBLISH, RETRACT or REDACT
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name=False, on_delete=fields.RESTRICT
    )
    version: fields.ForeignKeyNullableRelation[DisclosureVersion] = fields.ForeignKeyField(
        "cunwu.DisclosureVersion", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    reason = fields.TextField(null=True)  # a retraction's or a redaction's
    at = fields.DatetimeField()
    # How its content is recomputed (models.disclosures.ledger.FORMAT): 1 before the month's
    # figures, author and must-read were chained. Changing it changes the hash's input.
    format = fields.SmallIntField(default=1)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    region_id: int
    disclosure_id: int
    version_id: int | None

    class Meta:
        table = "ledger_entry"
        unique_together = (("region", "seq"),)


# A redacted copy put in the place of a published file: in which published version, which
# media replaced which, under which REDACT entry (it chains both files' hashes). The chain
# reads these to recompute what each earlier entry covered before the replacement.
class MediaReplacement(Model):
    id = fields.IntField(primary_key=True)
    entry: fields.ForeignKeyRelation[LedgerEntry] = fields.ForeignKeyField(
        "cunwu.LedgerEntry", related_name=False, on_delete=fields.RESTRICT
    )
    version: fields.ForeignKeyRelation[DisclosureVersion] = fields.ForeignKeyField(
        "cunwu.DisclosureVersion", related_name=False, on_delete=fields.RESTRICT
    )
    original: fields.ForeignKeyRelation[Media] = fields.ForeignKeyField(
        "cunwu.Media", related_name=False, on_delete=fields.RESTRICT
    )
    replacement: fields.ForeignKeyRelation[Media] = fields.ForeignKeyField(
        "cunwu.Media", related_name=False, on_delete=fields.RESTRICT
    )

    entry_id: int
    version_id: int
    original_id: int
    replacement_id: int

    class Meta:
        table = "media_replacement"


# Bigram index for Chinese search: every two-character window of titles and bodies.
# Each term row carries its disclosure's publication time, so "newest first" is an index
# range scan that stops after one page, however common the word.
class SearchTerm(Model):
    id = fields.IntField(primary_key=True)
    term = fields.CharField(max_length=24)
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name=False, on_delete=fields.CASCADE
    )
    in_title = fields.BooleanField(default=False)
    published_at = fields.DatetimeField(null=True)

    disclosure_id: int

    class Meta:
        table = "search_term"
        indexes = (("term", "published_at", "disclosure_id", "in_title"), ("disclosure_id", "term"))


class Follow(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    user_id: int
    region_id: int

    class Meta:
        table = "follow"
        unique_together = (("user", "region"),)


class ReadMark(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name=False, on_delete=fields.CASCADE
    )
    read_at = fields.DatetimeField(auto_now_add=True)

    user_id: int
    disclosure_id: int

    class Meta:
        table = "read_mark"
        unique_together = (("user", "disclosure"),)


# One row per batch of view counts taken from Redis and added to the disclosures, written in
# the same transaction: a batch retried after a crash is never counted twice.
class ViewFlush(Model):
    id = fields.CharField(max_length=40, primary_key=True)
    applied_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "view_flush"


class ReturnKind(StrEnum):
    DISCLOSURE = "DISCLOSURE"  # a submitted disclosure, back to DRAFT
    CORRECTION = "CORRECTION"  # a staged FINANCE correction, kept for the clerk to redo
    MONTH = "MONTH"  # an uploaded month (or its correction), to upload again


# A supervisor's "send back, because…": kept for good (the audit log has it too). A note is
# current while what it sent back is unchanged: the disclosure not resubmitted
# (`closed_at`), the month not uploaded again (`month_version`), the staged correction not
# replaced (`staged_id`).
class ReturnNote(Model):
    id = fields.IntField(primary_key=True)
    village: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(ReturnKind, max_length=16)
    disclosure: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "cunwu.Disclosure", null=True, related_name=False, on_delete=fields.CASCADE
    )
    account: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "cunwu.MonthlyAccount", null=True, related_name=False, on_delete=fields.CASCADE
    )
    month_version = fields.IntField(null=True)
    staged_id = fields.IntField(null=True)
    reason = fields.TextField()
    returned_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    closed_at = fields.DatetimeField(null=True)

    village_id: int
    disclosure_id: int | None
    account_id: int | None
    returned_by_id: int
    author_id: int

    class Meta:
        table = "return_note"
        indexes = (("village_id", "closed_at"),)


# A resident's "I have read it" on a must-read notice, with the village they lived in then:
# the publishing officials count these per village.
class NoticeAck(Model):
    id = fields.IntField(primary_key=True)
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name=False, on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    village: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    acknowledged_at = fields.DatetimeField()

    disclosure_id: int
    user_id: int
    village_id: int

    class Meta:
        table = "notice_ack"
        unique_together = (("disclosure", "user"),)
        indexes = (("disclosure_id", "village_id"),)


# A must-read notice re-sent by SMS to a resident who had not acknowledged it: once each.
class NoticeReminder(Model):
    id = fields.IntField(primary_key=True)
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name=False, on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    sent_at = fields.DatetimeField()

    disclosure_id: int
    user_id: int

    class Meta:
        table = "notice_reminder"
        unique_together = (("disclosure", "user"),)


# One published table row that names a person by ID number, by the keyed hash of that
# number (never the number): `mySubsidies` finds a villager's rows by their own hash.
class SubsidyEntry(Model):
    id = fields.IntField(primary_key=True)
    id_hash = fields.CharField(max_length=64, db_index=True)
    disclosure: fields.ForeignKeyRelation[Disclosure] = fields.ForeignKeyField(
        "cunwu.Disclosure", related_name=False, on_delete=fields.RESTRICT
    )
    version = fields.IntField()
    table_index = fields.SmallIntField()
    row_index = fields.IntField()

    disclosure_id: int

    class Meta:
        table = "subsidy_entry"
        unique_together = (("disclosure", "version", "table_index", "row_index"),)
