"""The disclosure workflow: draft → (review → approval) → publish; correct; retract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import graphene

from api.context import Context
from api.disclosures.types import Category, ColumnKind, Disclosure
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.relay import decode_id, fetch_input
from models.audit import record
from models.disclosures import CatalogueItem as ItemModel
from models.disclosures import Category as Cat
from models.disclosures import Disclosure as DisclosureModel
from models.disclosures import Frequency, Status, publishing
from models.disclosures.periods import parse_period
from models.disclosures.tables import clean_tables
from models.errors import Forbidden, UserError, UserErrors
from models.media import Media as MediaModel
from models.policy import Action
from models.regions import Region as RegionModel
from models.regions import RegionKind, covers
from models.text import clean_reason

TITLE_MAX, BODY_MAX, MAX_ATTACHMENTS = 200, 20_000, 20
VILLAGE_ONLY = {Cat.FINANCE, Cat.PARTY, Cat.VILLAGE_AFFAIRS}
PERIODIC = {Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.HALF_YEARLY, Frequency.YEARLY}


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


async def apply_content(
    disclosure: DisclosureModel, region: RegionModel, data: Any, errors: list[UserError]
) -> None:
    """Validate the given content fields and set them on the working copy."""
    if data.get("title") is not None:
        title = " ".join(data.title.split())
        if not 1 <= len(title) <= TITLE_MAX:
            errors.append(UserError("INVALID_TITLE", "title", {"max": TITLE_MAX}))
        disclosure.title = title
    if data.get("body") is not None:
        if len(data.body) > BODY_MAX:
            errors.append(UserError("BODY_TOO_LONG", "body", {"max": BODY_MAX}))
        disclosure.body = data.body.strip()
    if data.get("tables") is not None:
        disclosure.tables = clean_tables(data.tables, errors)
    if data.get("must_read") is not None:
        disclosure.must_read = bool(data.must_read) and disclosure.category == Cat.NOTICE
    if data.get("catalogue_item_id") is not None:
        item = await fetch_input(
            ItemModel, data.catalogue_item_id, "CatalogueItem", "catalogueItemId"
        )
        if item.category != disclosure.category or not item.active:
            errors.append(UserError("CATALOGUE_MISMATCH", "catalogueItemId"))
        disclosure.catalogue_item_id = item.id
    if data.get("period") is not None:
        disclosure.period = data.period.strip() or None
    if data.get("attachment_ids") is not None:
        disclosure.attachment_ids = await attachment_ids(region, data.attachment_ids, errors)
    await check_period(disclosure, errors)


async def edit_content(disclosure: DisclosureModel, data: Any) -> RegionModel:
    """Apply the input's content fields to a disclosure's working copy, or refuse them all."""
    region = await RegionModel.get(id=disclosure.region_id)
    errors: list[UserError] = []
    await apply_content(disclosure, region, data, errors)
    if errors:
        raise UserErrors(*errors)
    return region


async def check_period(disclosure: DisclosureModel, errors: list[UserError]) -> None:
    period = parse_period(disclosure.period) if disclosure.period else None
    if disclosure.period and period is None:
        errors.append(UserError("INVALID_PERIOD", "period"))
        return
    if disclosure.catalogue_item_id:
        item = await ItemModel.get(id=disclosure.catalogue_item_id)
        if item.frequency in PERIODIC and (period is None or period.frequency != item.frequency):
            example = PERIOD_EXAMPLES.get(item.frequency, "2026")
            errors.append(UserError("PERIOD_REQUIRED", "period", {"example": example}))


PERIOD_EXAMPLES = {
    Frequency.MONTHLY: "2026-03",
    Frequency.QUARTERLY: "2026-Q1",
    Frequency.HALF_YEARLY: "2026-H1",
    Frequency.YEARLY: "2026",
}


async def attachment_ids(
    region: RegionModel, global_ids: list[str], errors: list[UserError]
) -> list[int]:
    if len(global_ids) > MAX_ATTACHMENTS:
        errors.append(UserError("TOO_MANY_ATTACHMENTS", "attachmentIds", {"max": MAX_ATTACHMENTS}))
        return []
    ids = [decode_id(g, "Media", "attachmentIds") for g in global_ids]
    media = {m.id: m for m in await MediaModel.filter(id__in=ids).select_related("region")}
    for mid in ids:
        m = media.get(mid)
        if m is None:
            errors.append(UserError("NOT_FOUND", "attachmentIds"))
        elif m.restricted:  # the unredacted receipt: attach its redacted copy instead
            errors.append(UserError("ATTACHMENT_RESTRICTED", "attachmentIds"))
        elif not (covers(region.path, m.region.path) or covers(m.region.path, region.path)):
            errors.append(UserError("ATTACHMENT_ELSEWHERE", "attachmentIds"))
    return list(dict.fromkeys(ids))


async def load_disclosure(ctx: Context, global_id: str, action: Action) -> DisclosureModel:
    disclosure = await fetch_input(DisclosureModel, global_id, "Disclosure", "id")
    ctx.viewer.require(action, await ctx.region_path(disclosure.region_id))
    return disclosure


def require_status(disclosure: DisclosureModel, *allowed: Status) -> None:
    if disclosure.status not in allowed:
        raise UserErrors(UserError("WRONG_STATUS", "id", {"status": str(disclosure.status)}))


def snapshot(d: DisclosureModel) -> dict[str, Any]:
    return {"status": str(d.status), "title": d.title, "version": d.version, "period": d.period}


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
        region = await fetch_input(RegionModel, data.region_id, "Region", "regionId")
        cls.authorize(ctx, region.path)
        category = Cat(enum_value(data.category))
        if category in VILLAGE_ONLY and region.kind != RegionKind.VILLAGE:
            raise UserErrors(UserError("CATEGORY_REGION_KIND", "regionId"))
        disclosure = DisclosureModel(
            region=region,
            region_path=region.path,
            category=category,
            title="",
            body="",
            author_id=ctx.viewer.user_id,
            status=Status.DRAFT,
        )
        errors: list[UserError] = []
        await apply_content(disclosure, region, data, errors)
        if errors:
            raise UserErrors(*errors)
        await disclosure.save()
        await record(
            ctx.viewer,
            "disclosure.create",
            disclosure,
            region_id=region.id,
            after=snapshot(disclosure),
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
        disclosure = await load_disclosure(ctx, data.id, cls.permission)
        require_status(disclosure, Status.DRAFT)
        before = snapshot(disclosure)
        region = await edit_content(disclosure, data)
        await disclosure.save()
        await record(
            ctx.viewer,
            "disclosure.update",
            disclosure,
            region_id=region.id,
            before=before,
            after=snapshot(disclosure),
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
        disclosure = await load_disclosure(ctx, data.id, cls.permission)
        require_status(disclosure, Status.DRAFT)
        disclosure.status = Status.PENDING_REVIEW
        await disclosure.save()
        await record(ctx.viewer, "disclosure.submit", disclosure, region_id=disclosure.region_id)
        return {"disclosure": disclosure}


class ApproveDisclosure(DisclosurePayload):
    class Meta:
        name = "ApproveDisclosurePayload"
        description = "村务监督委员会成员审核通过（不能审核自己起草的）"

    class Arguments:
        input = ApproveDisclosureInput(required=True)

    permission = Action.DISCLOSURE_APPROVE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure = await load_disclosure(ctx, data.id, cls.permission)
        if disclosure.author_id == ctx.viewer.user_id:
            raise Forbidden()  # the two-person rule
        require_status(disclosure, Status.PENDING_REVIEW)
        disclosure.status = Status.APPROVED
        disclosure.approved_by_id = ctx.viewer.user_id
        disclosure.approved_at = datetime.now(UTC)
        await disclosure.save()
        await record(ctx.viewer, "disclosure.approve", disclosure, region_id=disclosure.region_id)
        return {"disclosure": disclosure}


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
        disclosure = await load_disclosure(ctx, data.id, cls.permission)
        require_status(
            disclosure, Status.DRAFT, Status.PENDING_REVIEW, Status.APPROVED, Status.SCHEDULED
        )
        if disclosure.category == Cat.FINANCE and disclosure.approved_by_id is None:
            raise UserErrors(UserError("NEEDS_APPROVAL", "id"))
        errors: list[UserError] = []
        await check_period(disclosure, errors)
        if errors:
            raise UserErrors(*errors)
        publish_at = data.publish_at
        if publish_at is not None and publish_at.tzinfo is None:
            publish_at = publish_at.replace(tzinfo=UTC)
        if publish_at is not None and publish_at > datetime.now(UTC) + timedelta(seconds=30):
            disclosure.status = Status.SCHEDULED
            disclosure.publish_at = publish_at
            await disclosure.save()
            await record(
                ctx.viewer,
                "disclosure.schedule",
                disclosure,
                region_id=disclosure.region_id,
                after={"publish_at": publish_at.isoformat()},
            )
            return {"disclosure": disclosure}
        version = await publishing.publish(disclosure, ctx.viewer.user_id)
        await record(
            ctx.viewer,
            "disclosure.publish",
            disclosure,
            region_id=disclosure.region_id,
            after={"version": version.version},
        )
        return {"disclosure": disclosure}


class CorrectDisclosure(DisclosurePayload):
    class Meta:
        name = "CorrectDisclosurePayload"
        description = "更正已发布的事项：发布带原因的新版本，旧版本仍可查看"

    class Arguments:
        input = CorrectDisclosureInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure = await load_disclosure(ctx, data.id, cls.permission)
        require_status(disclosure, Status.PUBLISHED)
        reason = clean_reason(data.reason)
        before = snapshot(disclosure)
        region = await edit_content(disclosure, data)
        version = await publishing.publish(disclosure, ctx.viewer.user_id, reason=reason)
        await record(
            ctx.viewer,
            "disclosure.correct",
            disclosure,
            region_id=region.id,
            before=before,
            after={**snapshot(disclosure), "reason": reason, "version": version.version},
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
        disclosure = await load_disclosure(ctx, data.id, cls.permission)
        require_status(disclosure, Status.PUBLISHED)
        reason = clean_reason(data.reason)
        await publishing.retract(disclosure, reason)
        await record(
            ctx.viewer,
            "disclosure.retract",
            disclosure,
            region_id=disclosure.region_id,
            after={"reason": reason},
        )
        return {"disclosure": disclosure}
