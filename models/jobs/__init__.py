"""Jobs kept in the application's own database: the queue and the scheduler's slots.

A job row is written in the transaction of the change that causes it (an outbox), so a
rollback drops it. `unique_key` deduplicates live jobs and is cleared when a job ends.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class Job(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(JobStatus, max_length=8, default=JobStatus.QUEUED)
    run_at = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=5)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    # NULLs never collide, so only live jobs (queued or running) hold their key
    unique_key = fields.CharField(max_length=200, null=True, unique=True)
    created_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job"
        indexes = (("status", "run_at"), ("status", "lease_expires_at"), ("kind", "id"))


class JobSlot(Model):
    """One row per periodic job and time slot: the process whose insert wins enqueues it."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    slot = fields.DatetimeField()
    job_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "job_slot"
        unique_together = (("name", "slot"),)
