"""Admins' view of the job queue and the scheduler."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Info
from api.inputs import enum_value
from api.jobs.mutations import RetryJob
from api.jobs.periodic import active_periodic
from api.jobs.types import JobConnection, JobStatus, ScheduledJob
from api.relay import connection_args, keyset_page
from models.jobs import JobStatus as JobStatusEnum
from models.jobs.admin import jobs_query
from models.jobs.scheduler import status
from models.policy import SYSTEM, Action


class JobQueries(graphene.ObjectType):
    jobs = graphene.Field(
        JobConnection,
        required=True,
        status=JobStatus(),
        kind=graphene.String(),
        **connection_args(),
        description="后台任务，最新在前（全系统管理员）",
    )
    scheduler_status = graphene.List(
        graphene.NonNull(ScheduledJob),
        required=True,
        description="每个定时任务的最近一次运行和下一次运行（全系统管理员）",
    )

    @staticmethod
    async def resolve_jobs(
        root: Any,
        info: Info,
        status: Any = None,
        kind: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        wanted = JobStatusEnum(enum_value(status)) if status is not None else None
        qs = jobs_query(info.context.viewer, wanted, kind)
        return await keyset_page(qs, first, after, descending=True)

    @staticmethod
    async def resolve_scheduler_status(root: Any, info: Info) -> Any:
        info.context.viewer.require(Action.JOBS_MANAGE, SYSTEM)
        return await status(active_periodic(), info.context.settings.clock())


class JobMutations(graphene.ObjectType):
    retry_job = RetryJob.Field(description="把放弃的任务重新排队（全系统管理员；记入审计日志）")
