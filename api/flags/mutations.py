"""Flagging an item, "me too", the officials' steps and the flagger's answer to them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import graphene
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from api.context import Context
from api.flags.types import Flag, FlagReason
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.ratelimit import throttle
from api.relay import decode_id, fetch_input
from media.service import mark_attached
from models.accounts import Role
from models.audit import record
from models.errors import Forbidden, UserError, UserErrors
from models.flags import Flag as FlagModel
from models.flags import FlagEvent, FlagSupport
from models.flags import FlagReason as Reason
from models.flags import FlagStatus as Status
from models.flags.audience import followers, staff_above
from models.flags.deadlines import due_after
from models.media import Media
from models.policy import Action
from models.targets import load_published_target, require_participant
from models.text import clean_reason, clean_text
from notifications.events import notify

BODY_MIN, BODY_MAX, NOTE_MAX, MAX_PHOTOS = 5, 2000, 1000, 9


class FlagPayload(BaseMutation):
    class Meta:
        abstract = True

    flag = graphene.Field(Flag)
    login_required = True


class FlagIssueInput(graphene.InputObjectType):
    target_id = graphene.ID(required=True)
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
        target = await load_published_target(data.target_id)
        await require_participant(ctx, target.region_path)
        user_id = ctx.viewer.user_id
        await throttle(ctx, f"flag:{user_id}", 5, 3600)
        body = clean_text(data.body, "body", BODY_MIN, BODY_MAX, "INVALID_FLAG_BODY")
        photo_ids = [decode_id(g, "Media", "mediaIds") for g in data.media_ids or []]
        if len(photo_ids) > MAX_PHOTOS:
            raise UserErrors(UserError("TOO_MANY_ATTACHMENTS", "mediaIds", {"max": MAX_PHOTOS}))
        owned = await Media.filter(id__in=photo_ids, uploaded_by_id=user_id).count()
        if owned != len(set(photo_ids)):
            raise UserErrors(UserError("NOT_FOUND", "mediaIds"))
        now = datetime.now(UTC)
        flag = await FlagModel.create(
            target_type="Disclosure",
            target_id=target.id,
            region_id=target.region_id,
            region_path=target.region_path,
            flagger_id=user_id,
            anonymous=bool(data.anonymous),
            reason_code=Reason(enum_value(data.reason_code)),
            body=body,
            media_ids=list(dict.fromkeys(photo_ids)),
            due_at=await due_after(now, ctx.settings.flag_response_days),
        )
        await FlagEvent.create(flag=flag, kind="SUBMITTED", actor_id=user_id)
        await mark_attached(photo_ids)
        await record(
            ctx.viewer,
            "flag.submit",
            flag,
            region_id=flag.region_id,
            after={"target": target.id, "reason": str(flag.reason_code)},
        )
        await notify(await staff_above(flag, Role.OFFICIAL), "FLAG_ASSIGNED", "Flag", flag.id)
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
        flag = await fetch_input(FlagModel, data.id, "Flag", "id")
        await require_participant(ctx, flag.region_path, "id")
        if flag.flagger_id == ctx.viewer.user_id:
            raise UserErrors(UserError("OWN_FLAG", "id"))
        try:
            await FlagSupport.create(flag=flag, user_id=ctx.viewer.user_id)
        except IntegrityError:  # once per user: a second time changes nothing
            return {"flag": flag}
        await FlagModel.filter(id=flag.id).update(support_count=F("support_count") + 1)
        await flag.refresh_from_db(fields=["support_count"])
        return {"flag": flag}


def step_input(name: str) -> type[graphene.InputObjectType]:
    return type(
        name,
        (graphene.InputObjectType,),
        {"id": graphene.ID(required=True), "note": graphene.String(description="公开说明")},
    )


AcceptFlagInput = step_input("AcceptFlagInput")
StartInvestigationInput = step_input("StartInvestigationInput")


class FlagStep(FlagPayload):
    """An official's step: from one of `sources` to `target`, with a public note."""

    class Meta:
        abstract = True

    sources: ClassVar[tuple[Status, ...]] = ()
    target: ClassVar[Status]
    note_field: ClassVar[str] = "note"
    note_required: ClassVar[bool] = False

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        flag = await fetch_input(FlagModel, data.id, "Flag", "id")
        action = Action.FLAG_HANDLE_ESCALATED if flag.escalated_at else Action.FLAG_HANDLE
        ctx.viewer.require(action, flag.region_path)
        if flag.status not in cls.sources:
            raise UserErrors(UserError("WRONG_STATUS", "id", {"status": str(flag.status)}))
        raw = data.get(cls.note_field)
        note = clean_reason(raw, cls.note_field, NOTE_MAX) if cls.note_required or raw else None
        before = str(flag.status)
        now = datetime.now(UTC)
        flag.status = cls.target
        flag.first_response_at = flag.first_response_at or now
        if cls.target in (Status.RESOLVED, Status.REJECTED):
            flag.closed_at = now
        await flag.save()
        await FlagEvent.create(
            flag=flag,
            kind=str(cls.target),
            note=note,
            actor_id=ctx.viewer.user_id,
            by_official=True,
        )
        await record(
            ctx.viewer,
            f"flag.{cls.target.lower()}",
            flag,
            region_id=flag.region_id,
            before={"status": before},
            after={"status": str(flag.status), "note": note},
        )
        await notify(await followers(flag), "FLAG_STATUS", "Flag", flag.id, status=str(flag.status))
        return {"flag": flag}


class AcceptFlag(FlagStep):
    class Meta:
        name = "AcceptFlagPayload"
        description = "乡镇受理"

    class Arguments:
        input = AcceptFlagInput(required=True)

    sources = (Status.SUBMITTED, Status.REOPENED)
    target = Status.ACCEPTED


class StartInvestigation(FlagStep):
    class Meta:
        name = "StartInvestigationPayload"
        description = "开始调查"

    class Arguments:
        input = StartInvestigationInput(required=True)

    sources = (Status.ACCEPTED,)
    target = Status.INVESTIGATING


class ResolveFlagInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    response = graphene.String(required=True, description="公开的处理结果")


class ResolveFlag(FlagStep):
    class Meta:
        name = "ResolveFlagPayload"
        description = "办结并公开答复"

    class Arguments:
        input = ResolveFlagInput(required=True)

    sources = (Status.ACCEPTED, Status.INVESTIGATING)
    target = Status.RESOLVED
    note_field = "response"
    note_required = True


class RejectFlagInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True, description="公开的不予受理理由")


class RejectFlag(FlagStep):
    class Meta:
        name = "RejectFlagPayload"
        description = "不予受理或驳回，须公开理由"

    class Arguments:
        input = RejectFlagInput(required=True)

    sources = (Status.SUBMITTED, Status.ACCEPTED, Status.INVESTIGATING, Status.REOPENED)
    target = Status.REJECTED
    note_field = "reason"
    note_required = True


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
        flag = await fetch_input(FlagModel, data.id, "Flag", "id")
        if flag.flagger_id != ctx.viewer.user_id:
            raise Forbidden()
        if flag.status != Status.RESOLVED:
            raise UserErrors(UserError("WRONG_STATUS", "id", {"status": str(flag.status)}))
        flag.status = Status.CONFIRMED
        await flag.save()
        await FlagEvent.create(flag=flag, kind="CONFIRMED", actor_id=ctx.viewer.user_id)
        await record(ctx.viewer, "flag.confirm", flag, region_id=flag.region_id)
        await notify(await followers(flag), "FLAG_STATUS", "Flag", flag.id, status="CONFIRMED")
        return {"flag": flag}


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
        flag = await fetch_input(FlagModel, data.id, "Flag", "id")
        if flag.flagger_id != ctx.viewer.user_id:
            raise Forbidden()
        if flag.status not in (Status.RESOLVED, Status.REJECTED) or flag.reopened:
            raise UserErrors(UserError("WRONG_STATUS", "id", {"status": str(flag.status)}))
        reason = clean_reason(data.reason, high=NOTE_MAX)
        now = datetime.now(UTC)
        flag.status, flag.reopened, flag.closed_at = Status.REOPENED, True, None
        flag.escalated_at = flag.escalated_at or now
        await flag.save()
        await FlagEvent.create(flag=flag, kind="REOPENED", note=reason, actor_id=flag.flagger_id)
        await record(
            ctx.viewer, "flag.reopen", flag, region_id=flag.region_id, after={"reason": reason}
        )
        await notify(await staff_above(flag, Role.INSPECTOR), "FLAG_ESCALATED", "Flag", flag.id)
        await notify(await followers(flag), "FLAG_STATUS", "Flag", flag.id, status="REOPENED")
        return {"flag": flag}
