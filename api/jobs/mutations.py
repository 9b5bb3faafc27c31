"""Admins give a dead job another try."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.jobs.types import Job
from api.mutations import BaseMutation
from api.relay import decode_id
from models.jobs.admin import retry_job
from models.policy import Action


class RetryJobInput(graphene.InputObjectType):
    id = graphene.ID(required=True)


class RetryJob(BaseMutation):
    class Meta:
        name = "RetryJobPayload"

    class Arguments:
        input = RetryJobInput(required=True)

    job = graphene.Field(Job)

    permission = Action.JOBS_MANAGE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        job = await retry_job(ctx.viewer, decode_id(data.id, "Job"), ctx.settings.clock())
        return {"job": job}
