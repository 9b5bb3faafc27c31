"""Flags (质疑/举报): a villager questions an item; officials must answer in time.

The flagger's identity is stored here and shown only to the officials and inspectors
who cover the village (see `may_see_flag_identity` in models/policy.py); everything else
about a flag is public.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.regions import Region


class FlagReason(StrEnum):
    AMOUNT_QUESTIONED = "AMOUNT_QUESTIONED"
    RECEIPT_MISSING = "RECEIPT_MISSING"
    NOT_DISCLOSED_ON_TIME = "NOT_DISCLOSED_ON_TIME"
    CONTENT_FALSE = "CONTENT_FALSE"
    OTHER = "OTHER"


class FlagStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    INVESTIGATING = "INVESTIGATING"
    RESOLVED = "RESOLVED"
    REJECTED = "REJECTED"
    CONFIRMED = "CONFIRMED"  # the flagger accepted the resolution: closed
    REOPENED = "REOPENED"  # the flagger disagreed once: now the county's


class FlagEventKind(StrEnum):
    """A step on a flag's public timeline: the statuses it moves through, and escalation."""

    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    INVESTIGATING = "INVESTIGATING"
    RESOLVED = "RESOLVED"
    REJECTED = "REJECTED"
    CONFIRMED = "CONFIRMED"
    REOPENED = "REOPENED"
    ESCALATED = "ESCALATED"  # overdue: sent to the county by the hourly job


OPEN_STATUSES = (
    FlagStatus.SUBMITTED,
    FlagStatus.ACCEPTED,
    FlagStatus.INVESTIGATING,
    FlagStatus.REOPENED,
)


class Flag(Model):
    id = fields.IntField(primary_key=True)
    target_type = fields.CharField(max_length=32)
    target_id = fields.IntField()
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    region_path = fields.CharField(max_length=128)
    flagger: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    anonymous = fields.BooleanField(default=True)
    # Raised for the village's supervision committee by a confirmed risk hit, not by a
    # villager: `flagger` is then the member who confirmed it.
    by_committee = fields.BooleanField(default=False)
    reason_code = fields.CharEnumField(FlagReason, max_length=24)
    body = fields.TextField()
    media_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    status = fields.CharEnumField(FlagStatus, max_length=16, default=FlagStatus.SUBMITTED)
    due_at = fields.DatetimeField()  # the first official response is due by then
    first_response_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)  # resolved or rejected
    escalated_at = fields.DatetimeField(null=True)  # overdue or reopened: the county's now
    reminded_at = fields.DatetimeField(null=True)  # the officials were told it is due soon
    reopened = fields.BooleanField(default=False)
    support_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    region_id: int
    flagger_id: int

    class Meta:
        table = "flag"
        indexes = (
            ("region_path", "status", "due_at"),
            # covers the league tables' scan: no table lookups for 50k flags
            (
                "region_path",
                "created_at",
                "region_id",
                "status",
                "reopened",
                "due_at",
                "first_response_at",
                "closed_at",
            ),
            ("target_type", "target_id", "status"),
            ("status", "due_at"),
        )


class FlagSupport(Model):
    id = fields.IntField(primary_key=True)
    flag: fields.ForeignKeyRelation[Flag] = fields.ForeignKeyField(
        "cunwu.Flag", related_name="supports", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    flag_id: int
    user_id: int

    class Meta:
        table = "flag_support"
        unique_together = (("flag", "user"),)


# The public timeline: every step with its public note. `actor` is kept for the officials'
# own steps; the flagger's steps never name them in public.
class FlagEvent(Model):
    id = fields.IntField(primary_key=True)
    flag: fields.ForeignKeyRelation[Flag] = fields.ForeignKeyField(
        "cunwu.Flag", related_name="events", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)
    note = fields.TextField(null=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    by_official = fields.BooleanField(default=False)
    at = fields.DatetimeField(auto_now_add=True)

    flag_id: int
    actor_id: int | None

    class Meta:
        table = "flag_event"


class IdentityShown(StrEnum):
    """What of a flag named someone to a viewer other than that person."""

    FLAGGER = "FLAGGER"
    SUPPORTERS = "SUPPORTERS"
    AUDIT_ACTOR = "AUDIT_ACTOR"  # the actor of a flag's audit entry


# Every showing of a flagger's or supporters' identity to someone else: who saw which
# flag's, when. Listed to the inspectors covering the flag's village.
class IdentityView(Model):
    id = fields.BigIntField(primary_key=True)
    viewer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    flag: fields.ForeignKeyRelation[Flag] = fields.ForeignKeyField(
        "cunwu.Flag", related_name=False, on_delete=fields.RESTRICT
    )
    region_path = fields.CharField(max_length=128)  # the flag's: inspectors read a subtree
    shown = fields.CharEnumField(IdentityShown, max_length=16)
    at = fields.DatetimeField(auto_now_add=True)

    viewer_id: int
    flag_id: int

    class Meta:
        table = "identity_view"
        indexes = (("region_path", "id"),)


# Public holidays: days that do not count towards a response deadline.
class Holiday(Model):
    id = fields.IntField(primary_key=True)
    day = fields.DateField(unique=True)
    name = fields.CharField(max_length=40)
    workday = fields.BooleanField(default=False)  # a weekend made a working day (调休)

    class Meta:
        table = "holiday"


# League tables as computed (models.flags.stats), shared by every API worker when there is
# no Redis: one row per scope, period and level, overwritten by the refresh job.
class StatsSnapshot(Model):
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=96, unique=True)
    data = fields.TextField()  # JSON: numbers per region, nothing personal
    computed_at = fields.DatetimeField()

    class Meta:
        table = "stats_snapshot"
