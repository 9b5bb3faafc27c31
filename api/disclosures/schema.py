"""Disclosure queries and mutations, merged into the root types by api.schema."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.context import Context, Info
from api.disclosures.feed import feed
from api.disclosures.mutations import (
    ApproveDisclosure,
    CorrectDisclosure,
    CreateDisclosure,
    MarkDisclosureReadInput,
    PublishDisclosure,
    RetractDisclosure,
    SubmitDisclosure,
    UpdateDisclosure,
)
from api.disclosures.types import (
    CatalogueItem,
    Category,
    Disclosure,
    DisclosureConnection,
    DisclosureStatus,
    FarmingTag,
    Frequency,
    LedgerHeadInput,
    LedgerVerification,
    VillageCompliance,
    node_columns,
    prefetch,
)
from api.inputs import datetime_arg, enum_value
from api.mutations import BaseMutation
from api.regions.schema import load_region_by_global_id
from api.regions.types import Region
from api.relay import argument_id, connection_args, decode_id, keyset_page, node_fields
from api.sync import server_time, with_server_time
from models.disclosures import Category as Cat
from models.disclosures import Disclosure as DisclosureModel
from models.disclosures import Frequency as Freq
from models.disclosures import Status, catalogue, following, ledger, workflow
from models.disclosures.catalogue import CATALOGUE_FIELDS
from models.disclosures.compliance import compliance
from models.disclosures.periods import parse_period
from models.errors import BadUserInput, NotFound
from models.policy import Action, require_disclosure_readable
from models.regions import Region as RegionModel
from models.regions import RegionKind, subtree_range


def int_id(global_id: str | None, type_name: str) -> int | None:
    return argument_id(global_id, type_name)[1] if global_id is not None else None


class VillageComplianceConnection(relay.Connection):
    class Meta:
        node = VillageCompliance


async def feed_page(info: Info, **filters: Any) -> Any:
    """A feed page with what the query shows of each item read in batches: authors and
    comment counts in the feed's own statement, the rest by `prefetch`."""
    wanted = node_fields(info)
    connection = await feed(
        **filters,
        with_comment_count="commentCount" in wanted,
        with_author="author" in wanted,
        columns=node_columns(wanted),
        author_fields=node_fields(info, "author") if "author" in wanted else None,
        with_media="attachments" in wanted,
    )
    await prefetch(info, [edge.node for edge in connection.edges], wanted)
    return connection


class DisclosureQueries(graphene.ObjectType):
    disclosures = graphene.Field(
        DisclosureConnection,
        required=True,
        region_id=graphene.ID(description="该区划及其下级（乡镇信息流合并所辖各村）"),
        category=graphene.Argument(Category),
        catalogue_item_id=graphene.ID(),
        search=graphene.String(description="中文检索，可查两字词（低保、补助）"),
        updated_since=graphene.DateTime(
            description=(
                "增量同步：只返回此时刻及以后有变化的（含已撤回、已到期的），"
                "按 (updatedAt, id) 从早到晚；与 search 同用时只是筛选"
            )
        ),
        include_expired=graphene.Boolean(
            default_value=False, description="包括已到期的通知和农技信息（归档）"
        ),
        tag=graphene.Argument(FarmingTag, description="只看带此标签的农技信息"),
        **connection_args(),
        description="已发布（及已撤回）的公开事项，最新在前；已到期的通知和农技信息不在其中",
    )
    disclosure = graphene.Field(
        Disclosure, id=graphene.ID(required=True), description="查看详情（计入浏览次数）"
    )
    following = graphene.Field(
        DisclosureConnection,
        required=True,
        tag=graphene.Argument(FarmingTag, description="只看带此标签的农技信息"),
        **connection_args(),
        description="我关注的村和乡镇的公开事项",
    )
    draft_disclosures = graphene.Field(
        DisclosureConnection,
        required=True,
        region_id=graphene.ID(required=True),
        status=graphene.Argument(DisclosureStatus),
        **connection_args(),
        description="未发布的事项（草稿、待审核、已审核、定时），仅工作人员可见",
    )
    catalogue = graphene.List(
        graphene.NonNull(CatalogueItem), required=True, category=graphene.Argument(Category)
    )
    disclosure_compliance = graphene.Field(
        VillageComplianceConnection,
        required=True,
        region_id=graphene.ID(required=True),
        period=graphene.String(required=True, description="2026-03、2026-Q1、2026-H1 或 2026"),
        **connection_args(),
        description="所辖各村对公开目录必公开项目的按期公开情况",
    )
    verify_ledger = graphene.Field(
        LedgerVerification,
        required=True,
        village_id=graphene.ID(required=True),
        known_head=graphene.Argument(LedgerHeadInput),
        description=(
            "重新计算该村（或乡镇）哈希链并与公开内容逐项核对，报告第一个断裂处；"
            "给出此前见到的链头时，还报告今天的链条是否仍包含它（被截断或改写则否）"
        ),
    )

    @staticmethod
    async def resolve_disclosures(
        root: Any,
        info: Info,
        region_id: str | None = None,
        category: Any = None,
        catalogue_item_id: str | None = None,
        search: str | None = None,
        updated_since: Any = None,
        include_expired: bool = False,
        tag: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        regions = [await load_region_by_global_id(info, region_id)] if region_id else None
        now = None if include_expired else info.context.settings.clock()
        at = server_time()  # before the read (api.sync)
        page = await feed_page(
            info,
            regions=regions,
            category=category,
            catalogue_item_id=int_id(catalogue_item_id, "CatalogueItem"),
            text=search,
            updated_since=datetime_arg(updated_since),
            tag=enum_value(tag) if tag is not None else None,
            first=first,
            after=after,
            now=now,
        )
        return with_server_time(page, at)

    @staticmethod
    async def resolve_disclosure(root: Any, info: Info, id: str) -> Any:  # noqa: A002
        ctx: Context = info.context
        disclosure = await DisclosureModel.get_or_none(id=int_id(id, "Disclosure"))
        if disclosure is None:
            raise NotFound()
        require_disclosure_readable(ctx.viewer, disclosure.status, disclosure.region_path)
        await ctx.services.views.hit(disclosure.id)
        return disclosure

    @staticmethod
    async def resolve_following(
        root: Any, info: Info, tag: Any = None, first: int | None = None, after: str | None = None
    ) -> Any:
        regions = await following.followed_regions(info.context.viewer)
        now = info.context.settings.clock()
        tag = enum_value(tag) if tag is not None else None
        return await feed_page(info, regions=regions, tag=tag, first=first, after=after, now=now)

    @staticmethod
    async def resolve_draft_disclosures(
        root: Any,
        info: Info,
        region_id: str,
        status: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        region = await load_region_by_global_id(info, region_id)
        status = Status(enum_value(status)) if status is not None else None
        qs = workflow.drafts_below(info.context.viewer, region, status)
        return await keyset_page(qs, first, after, descending=True)

    @staticmethod
    async def resolve_catalogue(root: Any, info: Info, category: Any = None) -> list[Any]:
        return await catalogue.active_items(
            Cat(enum_value(category)) if category is not None else None
        )

    @staticmethod
    async def resolve_disclosure_compliance(
        root: Any,
        info: Info,
        region_id: str,
        period: str,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        parsed = parse_period(period)
        if parsed is None:
            raise BadUserInput("INVALID_PERIOD")
        region = await load_region_by_global_id(info, region_id)
        low, high = subtree_range(region.path)
        qs = RegionModel.filter(path__gte=low, path__lt=high, kind=RegionKind.VILLAGE)
        page = await keyset_page(qs, first, after)  # villages: each edge becomes its report
        report = await compliance([edge.node for edge in page.edges], parsed)
        for edge, village in zip(page.edges, report, strict=True):
            edge.node = village
        return page

    @staticmethod
    async def resolve_verify_ledger(
        root: Any, info: Info, village_id: str, known_head: Any = None
    ) -> Any:
        region = await load_region_by_global_id(info, village_id)
        known = None
        if known_head is not None:
            if known_head.length < 0:
                raise BadUserInput("INVALID_KNOWN_HEAD")
            known = ledger.KnownHead(known_head.length, known_head.hash)
        return await ledger.verify_region(region, known)


class FollowRegionInput(graphene.InputObjectType):
    region_id = graphene.ID(required=True)


class FollowRegion(BaseMutation):
    class Meta:
        name = "FollowRegionPayload"
        description = "关注一个村或乡镇（重复关注不报错）"

    class Arguments:
        input = FollowRegionInput(required=True)

    region = graphene.Field(Region)
    following = graphene.Boolean(required=True)
    login_required = True
    error_defaults = {"following": False}  # an unknown region is not followed

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        region_id = decode_id(data.region_id, "Region", "regionId")
        return {"region": await following.follow_region(ctx.viewer, region_id), "following": True}


class UnfollowRegion(FollowRegion):
    class Meta:
        name = "UnfollowRegionPayload"

    class Arguments:
        input = FollowRegionInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        region_id = decode_id(data.region_id, "Region", "regionId")
        region = await following.unfollow_region(ctx.viewer, region_id)
        return {"region": region, "following": False}


class MarkDisclosureRead(BaseMutation):
    class Meta:
        name = "MarkDisclosureReadPayload"

    class Arguments:
        input = MarkDisclosureReadInput(required=True)

    disclosure = graphene.Field(Disclosure)
    login_required = True

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        return {"disclosure": await following.mark_read(ctx.viewer, disclosure_id)}


class CatalogueItemInput(graphene.InputObjectType):
    id = graphene.ID(description="修改已有项目时填写")
    code = graphene.String()
    category = Category()
    parent_id = graphene.ID()
    name = graphene.String()
    frequency = Frequency()
    required = graphene.Boolean()
    legal_basis = graphene.String()
    active = graphene.Boolean()


class SaveCatalogueItem(BaseMutation):
    class Meta:
        name = "SaveCatalogueItemPayload"
        description = "新增或修改公开目录项目（全系统管理员）"

    class Arguments:
        input = CatalogueItemInput(required=True)

    catalogue_item = graphene.Field(CatalogueItem)
    permission = Action.CATALOGUE_EDIT

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        item_id = decode_id(data.id, "CatalogueItem") if data.id else None
        changes = {
            name: enum_value(data.get(name))
            for name in CATALOGUE_FIELDS
            if data.get(name) is not None
        }
        if data.get("parent_id"):
            changes["parent_id"] = decode_id(data.parent_id, "CatalogueItem", "parentId")
        item = await catalogue.save_catalogue_item(ctx.viewer, item_id, changes)
        return {"catalogue_item": item}


class SetDueDayInput(graphene.InputObjectType):
    region_id = graphene.ID(required=True)
    frequency = Frequency(required=True)
    day = graphene.Int(required=True, description="期末后次月的第几日（1–31）")


class SetDueDay(BaseMutation):
    class Meta:
        name = "SetDueDayPayload"
        description = "设置本地区公开期限（下级区划继承）"

    class Arguments:
        input = SetDueDayInput(required=True)

    region = graphene.Field(Region)
    permission = Action.DUE_DAY_SET

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        region = await catalogue.set_due_day(
            ctx.viewer,
            decode_id(data.region_id, "Region", "regionId"),
            Freq(enum_value(data.frequency)),
            data.day,
        )
        return {"region": region}


class DisclosureMutations(graphene.ObjectType):
    create_disclosure = CreateDisclosure.Field()
    update_disclosure = UpdateDisclosure.Field()
    submit_disclosure = SubmitDisclosure.Field()
    approve_disclosure = ApproveDisclosure.Field()
    publish_disclosure = PublishDisclosure.Field()
    correct_disclosure = CorrectDisclosure.Field()
    retract_disclosure = RetractDisclosure.Field()
    follow_region = FollowRegion.Field()
    unfollow_region = UnfollowRegion.Field()
    mark_disclosure_read = MarkDisclosureRead.Field()
    save_catalogue_item = SaveCatalogueItem.Field()
    set_due_day = SetDueDay.Field()
