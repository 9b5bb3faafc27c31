"""What system-wide admins do with jobs: list them, and give a dead one another try."""

from __future__ import annotations

from datetime import datetime

from tortoise.queryset import QuerySet

from models.audit import record
from models.errors import ErrorCode, fail
from models.jobs import Job, JobStatus
from models.policy import SYSTEM, Action, Viewer


def jobs_query(viewer: Viewer, status: JobStatus | None, kind: str | None) -> QuerySet[Job]:
    # Jobs span every region (and carry their payloads): only region-less admins see them.
    viewer.require(Action.JOBS_MANAGE, SYSTEM)
    qs = Job.all()
    if status is not None:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


async def retry_job(viewer: Viewer, job_id: int, now: datetime) -> Job:
    """A dead job queued again with fresh attempts (audited)."""
    viewer.require(Action.JOBS_MANAGE, SYSTEM)
    job = await Job.select_for_update().get_or_none(id=job_id)
    if job is None:
        raise fail(ErrorCode.NOT_FOUND, "id")
    if job.status != JobStatus.DEAD:
        raise fail(ErrorCode.WRONG_STATUS, "id")
    before = {"status": job.status.value, "attempts": job.attempts, "last_error": job.last_error}
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.run_at = now
    job.finished_at = None
    await job.save(update_fields=["status", "attempts", "run_at", "finished_at"])
    await record(
        viewer, "job.retry", job, region_id=None, before=before, after={"status": "queued"}
    )
    return job
