"""Notification events: recorded now, delivered by the notifications channels later."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import User


class NotificationEvent(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    seq = fields.IntField(default=0)  # per user, 1, 2, 3 …: taken from NotificationCounter
    kind = fields.CharField(max_length=32)  # FLAG_STATUS, FLAG_ESCALATED, FLAG_ASSIGNED, …
    subject_type = fields.CharField(max_length=32)
    subject_id = fields.IntField()
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    read_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "notification_event"
        indexes = (("user_id", "read_at"),)
        unique_together = (("user_id", "seq"),)


# The last sequence number handed to each user: an insert bumps the row (locking it until
# commit on PostgreSQL), so concurrent notifications for one user never share a number.
class NotificationCounter(Model):
    id = fields.IntField(primary_key=True)
    user_id = fields.IntField()  # a user's id: unique below (the upsert's conflict target)
    last_seq = fields.IntField(default=0)

    class Meta:
        table = "notification_counter"
        unique_together = (("user_id",),)


# A scheduled notice sent once per region and period (a clerk reminder, a township report):
# the unique row is claimed in the transaction that records the notifications.
class ScheduledNotice(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    region_id = fields.IntField()
    period = fields.CharField(max_length=10)
    sent_at = fields.DatetimeField()

    class Meta:
        table = "scheduled_notice"
        unique_together = (("kind", "region_id", "period"),)


# A user's choice for one notification category where it differs from the defaults
# (notifications/preferences.py): NULL on a channel means "the default", so a better default
# reaches everyone who never chose, and the fan-out and routing read few rows.
class NotificationPreference(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    category = fields.CharField(max_length=16)  # MY_FLAGS, REPLIES, NEW_DISCLOSURES, …
    sms = fields.CharField(max_length=9, null=True)  # IMMEDIATE, DIGEST, OFF
    wechat = fields.CharField(max_length=9, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    user_id: int

    class Meta:
        table = "notification_preference"
        unique_together = (("user_id", "category"),)


# A disclosure category (FINANCE, PARTY, …) whose new disclosures a user does not want to hear of.
class DisclosureMute(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    category = fields.CharField(max_length=16)

    user_id: int

    class Meta:
        table = "disclosure_mute"
        unique_together = (("user_id", "category"),)


# One row per published version fanned out, claimed in the transaction that records its
# events: a fan-out job run twice finds the row and records nothing.
class DisclosureFanout(Model):
    id = fields.BigIntField(primary_key=True)
    disclosure_id = fields.IntField()
    version = fields.IntField()
    recipients = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "disclosure_fanout"
        unique_together = (("disclosure_id", "version"),)


# One digest per user and Beijing day, claimed with the deliveries it enqueues; `last_event_id`
# is the watermark: the next digest starts after it.
class DigestRun(Model):
    id = fields.BigIntField(primary_key=True)
    user_id = fields.IntField()
    day = fields.CharField(max_length=10)  # 2026-12-07, Asia/Shanghai
    last_event_id = fields.BigIntField()
    events = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "digest_run"
        unique_together = (("user_id", "day"),)
        indexes = (("user_id", "last_event_id"),)


# An event whose immediate deliveries were enqueued, claimed with them: a dispatch run again
# after those jobs finished (their unique keys released) enqueues nothing twice.
class RoutedEvent(Model):
    id = fields.BigIntField(primary_key=True)
    event_id = fields.BigIntField(unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "routed_event"
