"""The disclosure workflow's mutations: each decodes its input and calls one operation of
models.disclosures.workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import graphene

from api.context import Context
from api.disclosures.types import Category, ColumnKind, Disclosure, FarmingTag, Urgency
from api.inputs import datetime_arg, enum_value
from api.mutations import BaseMutation
from api.relay import decode_id
from models.disclosures import Category as Cat
from models.disclosures import workflow
from models.errors import BadUserInput, ErrorCode, fail
from models.policy import Action


class ColumnInput(graphene.InputObjectType):
    key = graphene.String(required=True)
    label = graphene.String(required=True)
    kind = ColumnKind(required=True)


class TableInput(graphene.InputObjectType):
    title = graphene.String()
    columns = graphene.List(graphene.NonNull(ColumnInput), required=True)
    rows = graphene.List(graphene.NonNull(graphene.List(graphene.String)), required=True)


def content_fields(required: bool) -> dict[str, Any]:
    return {
        "title": graphene.String(required=required),
        "body": graphene.String(required=required),
        "tables": graphene.List(graphene.NonNull(TableInput)),
        "period": graphene.String(description="2026-03、2026-Q1、2026-H1 或 2026"),
        "attachment_ids": graphene.List(graphene.NonNull(graphene.ID), description="按顺序"),
        "catalogue_item_id": graphene.ID(),
        "must_read": graphene.Boolean(),
        "tags": graphene.List(graphene.NonNull(FarmingTag), description="农技信息"),
        "urgency": Urgency(description="农技信息：URGENT 仅用于病虫害或天气预警"),
        "valid_from": graphene.DateTime(description="农技信息的生效时间"),
        "expires_at": graphene.DateTime(description="通知、农技信息的到期时间"),
    }


CreateDisclosureInput = type(
    "CreateDisclosureInput",
    (graphene.InputObjectType,),
    {
        "region_id": graphene.ID(required=True),
        "category": Category(required=True),
        **content_fields(required=True),
    },
)
UpdateDisclosureInput = type(
    "UpdateDisclosureInput",
    (graphene.InputObjectType,),
    {"id": graphene.ID(required=True), **content_fields(required=False)},
)
CorrectDisclosureInput = type(
    "CorrectDisclosureInput",
    (graphene.InputObjectType,),
    {
        "id": graphene.ID(required=True),
        "reason": graphene.String(required=True),
        **{
            k: v
            for k, v in content_fields(required=False).items()
            if k not in ("catalogue_item_id", "must_read")
        },
    },
)


def table_values(table: Any) -> dict[str, Any]:
    return {
        "title": table.title,
        "columns": [
            {"key": c.key, "label": c.label, "kind": enum_value(c.kind)} for c in table.columns
        ],
        "rows": table.rows,
    }


def stored_time(at: datetime | None, field: str) -> datetime | None:
    """A time to keep, in UTC: one that leaves the calendar there (9999-12-31T23:00-05:00)
    or that no database keeps is INVALID_DATE, not a crash when it is converted."""
    try:
        return datetime_arg(at)
    except BadUserInput:
        raise fail(ErrorCode.INVALID_DATE, field) from None


def content_values(data: Any) -> dict[str, Any]:
    """The content fields given, as plain values (global ids decoded, times in UTC)."""
    content = {
        name: data.get(name)
        for name in ("title", "body", "period", "must_read")
        if data.get(name) is not None
    }
    for name, field in (("valid_from", "validFrom"), ("expires_at", "expiresAt")):
        if data.get(name) is not None:
            content[name] = stored_time(data.get(name), field)
    if data.get("tags") is not None:
        content["tags"] = [enum_value(t) for t in data.tags]
    if data.get("urgency") is not None:
        content["urgent"] = enum_value(data.urgency) == "URGENT"
    if data.get("tables") is not None:
        content["tables"] = [table_values(t) for t in data.tables]
    if data.get("catalogue_item_id") is not None:
        content["catalogue_item_id"] = decode_id(
            data.catalogue_item_id, "CatalogueItem", "catalogueItemId"
        )
    if data.get("attachment_ids") is not None:
        content["attachment_ids"] = [
            decode_id(g, "Media", "attachmentIds") for g in data.attachment_ids
        ]
    return content


class DisclosurePayload(BaseMutation):
    class Meta:
        abstract = True

    disclosure = graphene.Field(Disclosure)
    permission = Action.DISCLOSURE_EDIT


class CreateDisclosure(DisclosurePayload):
    class Meta:
        name = "CreateDisclosurePayload"
        description = "起草公开事项（草稿仅本村工作人员和上级干部可见）"

    class Arguments:
        input = CreateDisclosureInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure = await workflow.create_disclosure(
            ctx.viewer,
            decode_id(data.region_id, "Region", "regionId"),
            Cat(enum_value(data.category)),
            content_values(data),
        )
        return {"disclosure": disclosure}


class UpdateDisclosure(DisclosurePayload):
    class Meta:
        name = "UpdateDisclosurePayload"
        description = "修改草稿（已提交审核或已发布的不能修改）"

    class Arguments:
        input = UpdateDisclosureInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        disclosure = await workflow.update_disclosure(
            ctx.viewer, disclosure_id, content_values(data)
        )
        return {"disclosure": disclosure}


def id_input(name: str) -> type[graphene.InputObjectType]:
    """`{id}` inputs, one named type per mutation so each can grow on its own."""
    return type(name, (graphene.InputObjectType,), {"id": graphene.ID(required=True)})


SubmitDisclosureInput = id_input("SubmitDisclosureInput")
ApproveDisclosureInput = id_input("ApproveDisclosureInput")
MarkDisclosureReadInput = id_input("MarkDisclosureReadInput")


class SubmitDisclosure(DisclosurePayload):
    class Meta:
        name = "SubmitDisclosurePayload"
        description = "提交审核（财务公开须经村务监督委员会审核）"

    class Arguments:
        input = SubmitDisclosureInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        return {"disclosure": await workflow.submit_disclosure(ctx.viewer, disclosure_id)}


class ApproveDisclosure(DisclosurePayload):
    class Meta:
        name = "ApproveDisclosurePayload"
        description = (
            "村务监督委员会成员审核通过（不能审核自己起草的）；"
            "对已发布的财务公开，审核他人提交的更正并作为新版本发布"
        )

    class Arguments:
        input = ApproveDisclosureInput(required=True)

    permission = Action.DISCLOSURE_APPROVE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        return {"disclosure": await workflow.approve_disclosure(ctx.viewer, disclosure_id)}


class PublishDisclosureInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    publish_at = graphene.DateTime(description="定时发布；不填或已过则立即发布")


class PublishDisclosure(DisclosurePayload):
    class Meta:
        name = "PublishDisclosurePayload"
        description = "发布（财务公开须先审核通过）；发布的内容进入本村哈希链，不可再改"

    class Arguments:
        input = PublishDisclosureInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure = await workflow.publish_disclosure(
            ctx.viewer, decode_id(data.id, "Disclosure"), stored_time(data.publish_at, "publishAt")
        )
        return {"disclosure": disclosure}


class CorrectDisclosure(DisclosurePayload):
    class Meta:
        name = "CorrectDisclosurePayload"
        description = (
            "更正已发布的事项：发布带原因的新版本，旧版本仍可查看；"
            "财务公开的更正须经监督委员会审核后才公开，月度账目须更正该月账目"
        )

    class Arguments:
        input = CorrectDisclosureInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        disclosure = await workflow.correct_disclosure(
            ctx.viewer, disclosure_id, data.reason, content_values(data)
        )
        return {"disclosure": disclosure}


class RetractDisclosureInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True)


class RetractDisclosure(DisclosurePayload):
    class Meta:
        name = "RetractDisclosurePayload"
        description = "撤回：记录保留并公开撤回原因"

    class Arguments:
        input = RetractDisclosureInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        disclosure = await workflow.retract_disclosure(ctx.viewer, disclosure_id, data.reason)
        return {"disclosure": disclosure}
