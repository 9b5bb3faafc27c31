"""Idempotency keys: a retried mutation gets the first answer instead of running twice."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class IdempotentRequest(Model):
    id = fields.BigIntField(primary_key=True)
    scope = fields.CharField(max_length=80)  # whose key: "u:<user id>"
    key = fields.CharField(max_length=128)
    request_hash = fields.CharField(max_length=64)
    response = fields.TextField(null=True)  # the JSON body, once the first run finished
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "idempotent_request"
        unique_together = (("scope", "key"),)
