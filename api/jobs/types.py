"""The Job node and the scheduler's status rows, for system-wide admins."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay
from graphene.types.generic import GenericScalar

from api.compiled import by_class
from api.context import Info
from api.relay import Node, register_node
from models.jobs import Job as JobModel
from models.jobs import JobStatus as JobStatusEnum
from models.jobs.scheduler import PeriodicStatus
from models.policy import SYSTEM, Action

JobStatus = graphene.Enum(
    "JobStatus",
    [(s.name, s.value) for s in JobStatusEnum],
    description="QUEUED 等待执行，RUNNING 执行中，DONE 已完成，DEAD 多次失败后放弃（可重试）",
)


async def system_admins_only(info: Info, model: Any, pk: str) -> Any:
    """A node only system-wide admins read (jobs, deliveries); NOT_FOUND, like a missing
    id, for everyone else."""
    if not info.context.viewer.can(Action.JOBS_MANAGE, SYSTEM):
        return None
    return await model.get_or_none(id=int(pk))


@register_node
class Job(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "后台任务（仅全系统管理员可见）"

    kind = graphene.String(required=True)
    payload = GenericScalar(required=True)
    status = graphene.Field(JobStatus, required=True)
    run_at = graphene.DateTime(required=True, description="最早执行时间（重试时为退避之后）")
    attempts = graphene.Int(required=True)
    max_attempts = graphene.Int(required=True)
    last_error = graphene.String()
    created_at = graphene.DateTime(required=True)
    started_at = graphene.DateTime()
    finished_at = graphene.DateTime()

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return isinstance(root, JobModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        # job payloads name objects across regions
        return await system_admins_only(info, JobModel, pk)

    @staticmethod
    def resolve_status(root: JobModel, info: Info) -> str:
        return JobStatusEnum(root.status).value

    @staticmethod
    def resolve_payload(root: JobModel, info: Info) -> Any:
        return shown_payload(root.kind, root.payload)


# Notification jobs name their recipients; a flag's steps go to its flagger and supporters,
# whom admins may never learn: the user ids are left out (counts stay, for operations).
DISPATCH, DELIVER = "notify_dispatch", "deliver"


def shown_payload(kind: str, payload: Any) -> Any:
    if not isinstance(payload, dict):
        return payload
    if kind == DISPATCH:
        rest = {k: v for k, v in payload.items() if k not in ("users", "first", "last")}
        return {**rest, "recipients": len(payload.get("users") or [])}
    if kind == DELIVER:
        return {k: v for k, v in payload.items() if k != "user_id"}
    return payload


class JobConnection(relay.Connection):
    class Meta:
        node = Job


class JobOutcome(graphene.ObjectType):
    class Meta:
        description = "定时任务最近一次运行"

    slot = graphene.DateTime(required=True, description="所属的计划时间")
    job = graphene.Field(Job, description="为该时间排入的任务（上次仍未完成时为空）")
    status = graphene.Field(JobStatus)
    started_at = graphene.DateTime()
    finished_at = graphene.DateTime()
    duration_ms = graphene.Int(description="最近一次尝试的耗时（毫秒）")
    last_error = graphene.String()


class ScheduledJob(graphene.ObjectType):
    class Meta:
        description = "定时任务：计划、最近一次运行和下一次运行"

    name = graphene.String(required=True)
    schedule = graphene.String(required=True, description="计划（APScheduler 触发器）")
    last_run = graphene.Field(JobOutcome)
    next_run = graphene.DateTime()

    @staticmethod
    def resolve_last_run(root: PeriodicStatus, info: Info) -> dict[str, Any] | None:
        if root.last_slot is None:
            return None
        job = root.last_job
        duration = None
        if job and job.started_at and job.finished_at:
            duration = int((job.finished_at - job.started_at).total_seconds() * 1000)
        return {
            "slot": root.last_slot,
            "job": job,
            "status": JobStatusEnum(job.status).value if job else None,
            "started_at": job.started_at if job else None,
            "finished_at": job.finished_at if job else None,
            "duration_ms": duration,
            "last_error": job.last_error if job else None,
        }
