"""Deliveries of notifications outside the app (SMS, WeChat), WeChat bindings, and the
WeChat access token kept where every process finds it when there is no Redis."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.accounts import User


class Channel(StrEnum):
    SMS = "SMS"
    WECHAT = "WECHAT"


class DeliveryStatus(StrEnum):
    SENDING = "SENDING"  # claimed: a send may be under way (or died before its outcome)
    RETRYING = "RETRYING"  # failed for now; the job tries again after a backoff
    SENT = "SENT"  # the provider accepted it
    FAILED = "FAILED"  # refused for good, or out of attempts
    SKIPPED = "SKIPPED"  # the channel is not available to this user (reason in last_error)


# One message for one user on one channel: one `deliver` job. `dedup_key` is the job's
# unique key, so a job run again finds its row, and a SENT row ends it.
class Delivery(Model):
    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    channel = fields.CharEnumField(Channel, max_length=8)
    provider = fields.CharField(max_length=16, default="")
    template = fields.CharField(max_length=32, default="")
    event_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    digest = fields.BooleanField(default=False)
    status = fields.CharEnumField(DeliveryStatus, max_length=8, default=DeliveryStatus.SENDING)
    provider_message_id = fields.CharField(max_length=64, null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=300, null=True)
    dedup_key = fields.CharField(max_length=200, unique=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    # the Asia/Shanghai day of a notification SMS, for the per-number daily limit
    sms_day = fields.CharField(max_length=10, null=True)
    phone = fields.CharField(max_length=11, null=True)

    user_id: int

    class Meta:
        table = "delivery"
        indexes = (("status", "id"), ("channel", "id"), ("phone", "sms_day"))


# A user's mini-program identity. One openid per user and one user per openid.
class WechatBinding(Model):
    id = fields.IntField(primary_key=True)
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "cunwu.User", related_name=False, on_delete=fields.CASCADE
    )
    openid = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()

    user_id: int

    class Meta:
        table = "wechat_binding"


# The access token when no Redis is configured: one row per app id, refreshed under a lock.
class WechatToken(Model):
    id = fields.IntField(primary_key=True)
    app_id = fields.CharField(max_length=64, unique=True)
    token = fields.CharField(max_length=600, default="")
    expires_at = fields.DatetimeField(null=True)
    refreshing_until = fields.DatetimeField(null=True)  # one refresher at a time

    class Meta:
        table = "wechat_token"
