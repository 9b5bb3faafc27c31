"""Flagging an item, "me too", the officials' steps and the flagger's answer to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import graphene

from api.context import Context
from api.flags.types import Flag, FlagReason
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.ratelimit import throttle
from api.relay import decode_id
from api.targets import decode_target
from models.flags import Flag as FlagModel
from models.flags import FlagReason as Reason
from models.flags.workflow import (
    accept_flag,
    confirm_resolution,
    reject_flag,
    reopen_flag,
    resolve_flag,
    start_investigation,
    submit_flag,
    support_flag,
)
from models.policy import Viewer


class FlagPayload(BaseMutation):
    class Meta:
        abstract = True

    flag = graphene.Field(Flag)
    login_required = True


class FlagIssueInput(graphene.InputObjectType):
    target_id = graphene.ID(
        required=True, description="已发布的公开事项，或已公开月份账目中的一行（AccountLine）"
    )
    reason_code = FlagReason(required=True)
    body = graphene.String(required=True)
    anonymous = graphene.Boolean(default_value=True, description="对公众匿名（默认）")
    media_ids = graphene.List(graphene.NonNull(graphene.ID), description="自己上传的照片")


class FlagIssue(FlagPayload):
    class Meta:
        name = "FlagIssuePayload"
        description = "对已发布事项提出质疑；提交前请先查看 similarFlags，相同问题可“附议”"

    class Arguments:
        input = FlagIssueInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        kind, target_id = decode_target(data.target_id)
        media_ids = [decode_id(g, "Media", "mediaIds") for g in data.media_ids or []]
        await throttle(ctx, f"flag:{ctx.viewer.user_id}", 5, 3600)
        flag = await submit_flag(
            ctx.viewer,
            target_id,
            Reason(enum_value(data.reason_code)),
            data.body,
            anonymous=bool(data.anonymous),
            media_ids=media_ids,
            response_days=ctx.settings.flag_response_days,
            target_type=kind,
        )
        return {"flag": flag}


class SupportFlagInput(graphene.InputObjectType):
    id = graphene.ID(required=True)


class SupportFlag(FlagPayload):
    class Meta:
        name = "SupportFlagPayload"
        description = "附议（“我也有同样的疑问”），每人一次"

    class Arguments:
        input = SupportFlagInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        return {"flag": await support_flag(ctx.viewer, decode_id(data.id, "Flag"))}


def step_input(name: str) -> type[graphene.InputObjectType]:
    return type(
        name,
        (graphene.InputObjectType,),
        {"id": graphene.ID(required=True), "note": graphene.String(description="公开说明")},
    )


AcceptFlagInput = step_input("AcceptFlagInput")
StartInvestigationInput = step_input("StartInvestigationInput")


class FlagStep(FlagPayload):
    """An official's step: `operation` with the flag and the input's public note."""

    class Meta:
        abstract = True

    operation: ClassVar[Callable[[Viewer, int, str | None], Awaitable[FlagModel]]]
    note_field: ClassVar[str] = "note"

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        flag = await cls.operation(ctx.viewer, decode_id(data.id, "Flag"), data.get(cls.note_field))
        return {"flag": flag}


class AcceptFlag(FlagStep):
    class Meta:
        name = "AcceptFlagPayload"
        description = "乡镇受理"

    class Arguments:
        input = AcceptFlagInput(required=True)

    operation = accept_flag


class StartInvestigation(FlagStep):
    class Meta:
        name = "StartInvestigationPayload"
        description = "开始调查"

    class Arguments:
        input = StartInvestigationInput(required=True)

    operation = start_investigation


class ResolveFlagInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    response = graphene.String(required=True, description="公开的处理结果")


class ResolveFlag(FlagStep):
    class Meta:
        name = "ResolveFlagPayload"
        description = "办结并公开答复"

    class Arguments:
        input = ResolveFlagInput(required=True)

    operation = resolve_flag
    note_field = "response"


class RejectFlagInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True, description="公开的不予受理理由")


class RejectFlag(FlagStep):
    class Meta:
        name = "RejectFlagPayload"
        description = "不予受理或驳回，须公开理由"

    class Arguments:
        input = RejectFlagInput(required=True)

    operation = reject_flag
    note_field = "reason"


class ConfirmResolutionInput(graphene.InputObjectType):
    id = graphene.ID(required=True)


class ConfirmResolution(FlagPayload):
    class Meta:
        name = "ConfirmResolutionPayload"
        description = "提出人认可处理结果"

    class Arguments:
        input = ConfirmResolutionInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        return {"flag": await confirm_resolution(ctx.viewer, decode_id(data.id, "Flag"))}


class ReopenFlagInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True)


class ReopenFlag(FlagPayload):
    class Meta:
        name = "ReopenFlagPayload"
        description = "提出人不认可处理结果，可重新提出一次，转县纪委"

    class Arguments:
        input = ReopenFlagInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        flag = await reopen_flag(ctx.viewer, decode_id(data.id, "Flag"), data.reason)
        return {"flag": flag}
