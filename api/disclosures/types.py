"""Disclosure, its versions, tables, catalogue items and compliance as GraphQL types."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from inspect import isawaitable
from typing import Any

import graphene
from aiodataloader import DataLoader
from graphene import relay

from api.accounts.types import User
from api.comments.schema import comment_page
from api.comments.types import CommentConnection, CommentCountLoader, comment_counts
from api.compiled import by_class
from api.context import Context, Info
from api.flags.types import Flag, FlagCounts, FlagsByDisclosureLoader, flag_counts
from api.loaders import (
    CatalogueItemLoader,
    MediaLoader,
    ReadByViewerLoader,
    RegionLoader,
    UserLoader,
    VersionsByDisclosureLoader,
)
from api.media.types import Media, media_columns
from api.regions.types import Region
from api.relay import Node, connection_args, node_fields, register_node
from api.rows import columns_read, is_row_of
from api.sync import resolve_server_time, server_time_field
from models.disclosures import CatalogueItem as CatalogueItemModel
from models.disclosures import Category as CategoryEnum
from models.disclosures import Disclosure as DisclosureModel
from models.disclosures import DisclosureVersion as VersionModel
from models.disclosures import FarmingTag as FarmingTagEnum
from models.disclosures import Frequency as FrequencyEnum
from models.disclosures import StagedCorrection as StagedModel
from models.disclosures import Status as StatusEnum
from models.disclosures.compliance import ComplianceStatus as ComplianceStatusEnum
from models.disclosures.notices import acknowledged_at
from models.disclosures.tables import ColumnKind as ColumnKindEnum
from models.policy import may_read_disclosure, sees_staged_correction

Category = graphene.Enum.from_enum(CategoryEnum, description="财务、党务、村务、农技、通知")
Frequency = graphene.Enum.from_enum(FrequencyEnum)
DisclosureStatus = graphene.Enum.from_enum(StatusEnum)
ColumnKind = graphene.Enum.from_enum(
    ColumnKindEnum, description="ID_NUMBER 与 PHONE 列在服务器端打码后保存"
)
FarmingTag = graphene.Enum.from_enum(
    FarmingTagEnum, description="农技信息标签：作物、畜牧、病虫害、政策、天气"
)


class Urgency(graphene.Enum):
    class Meta:
        description = "紧急（病虫害、天气预警）立即从所有未关闭的渠道送达，不等每日汇总"

    NORMAL = "NORMAL"
    URGENT = "URGENT"


def timing_fields() -> dict[str, Any]:
    """Farming information's tags, urgency and validity, a notice's expiry: per version."""
    return {
        "tags": graphene.List(graphene.NonNull(FarmingTag), required=True),
        "urgency": graphene.Field(Urgency, required=True),
        "valid_from": graphene.DateTime(description="农技信息的生效时间"),
        "expires_at": graphene.DateTime(description="到期后不再出现在信息流中，但仍可查看"),
    }


def resolve_tags(root: Any, info: Info) -> list[str]:
    return [t for t in (root.tags or "").split(",") if t]


def resolve_urgency(root: Any, info: Info) -> str:
    return "URGENT" if root.urgent else "NORMAL"


ComplianceStatus = graphene.Enum.from_enum(
    ComplianceStatusEnum,
    description="按期公开（ON_TIME）、逾期公开（LATE）、过期未公开（MISSING）或未到期限（PENDING）",
)


class TableColumn(graphene.ObjectType):
    key = graphene.String(required=True)
    label = graphene.String(required=True)
    kind = graphene.Field(ColumnKind, required=True)

    @staticmethod
    def resolve_key(root: dict, info: Info) -> str:
        return root["key"]

    @staticmethod
    def resolve_label(root: dict, info: Info) -> str:
        return root["label"]

    @staticmethod
    def resolve_kind(root: dict, info: Info) -> str:
        return root["kind"]


class DisclosureTable(graphene.ObjectType):
    title = graphene.String(required=True)
    columns = graphene.List(graphene.NonNull(TableColumn), required=True)
    rows = graphene.List(
        graphene.NonNull(graphene.List(graphene.String)),
        required=True,
        description="金额列为整数（分）",
    )

    @staticmethod
    def resolve_title(root: dict, info: Info) -> str:
        return root["title"]

    @staticmethod
    def resolve_columns(root: dict, info: Info) -> list:
        return root["columns"]

    @staticmethod
    def resolve_rows(root: dict, info: Info) -> list:
        return [[None if c is None else str(c) for c in row] for row in root["rows"]]


@register_node
class CatalogueItem(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "公开目录中的一项：应公开的内容及频次"

    code = graphene.String(required=True)
    category = graphene.Field(Category, required=True)
    name = graphene.String(required=True)
    frequency = graphene.Field(Frequency, required=True)
    required = graphene.Boolean(required=True, description="是否计入按期公开率")
    legal_basis = graphene.String()
    active = graphene.Boolean(required=True)
    parent = graphene.Field(lambda: CatalogueItem)

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, CatalogueItemModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        return (
            await info.context.loaders[CatalogueItemLoader].load(int(pk)) if pk.isdigit() else None
        )

    @staticmethod
    async def resolve_parent(root: CatalogueItemModel, info: Info) -> Any:
        if root.parent_id is None:
            return None
        return await info.context.loaders[CatalogueItemLoader].load(root.parent_id)


async def load_attachments(info: Info, ids: list[int]) -> list[Any]:
    media = await info.context.loaders[MediaLoader].load_many(ids)
    return [m for m in media if m is not None]


class DisclosureVersion(graphene.ObjectType):
    class Meta:
        description = "一次发布的内容：发布后不再改变"

    version = graphene.Int(required=True)
    title = graphene.String(required=True)
    body = graphene.String(required=True)
    tables = graphene.List(graphene.NonNull(DisclosureTable), required=True)
    period = graphene.String()
    attachments = graphene.List(graphene.NonNull(Media), required=True)
    reason = graphene.String(description="更正原因（第一版为空）")
    published_at = graphene.DateTime(required=True)
    locals().update(timing_fields())
    resolve_tags = staticmethod(resolve_tags)
    resolve_urgency = staticmethod(resolve_urgency)

    @staticmethod
    async def resolve_attachments(root: VersionModel, info: Info) -> list[Any]:
        return await load_attachments(info, [a["id"] for a in root.attachments])


class StagedCorrection(graphene.ObjectType):
    class Meta:
        description = "待监督委员会审核的财务公开更正：审核通过后才作为新版本公开（仅工作人员可见）"

    title = graphene.String(required=True)
    body = graphene.String(required=True)
    tables = graphene.List(graphene.NonNull(DisclosureTable), required=True)
    period = graphene.String()
    attachments = graphene.List(graphene.NonNull(Media), required=True)
    reason = graphene.String(required=True)
    author = graphene.Field(User)
    created_at = graphene.DateTime(required=True)

    @staticmethod
    async def resolve_attachments(root: StagedModel, info: Info) -> list[Any]:
        return await load_attachments(info, root.attachment_ids)

    @staticmethod
    def resolve_author(root: StagedModel, info: Info) -> Any:
        return info.context.loaders[UserLoader].load(root.author_id)


@register_node
class Disclosure(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "公开事项。发布后不可修改；更正会发布新版本，所有版本都可查看。"

    category = graphene.Field(Category, required=True)
    catalogue_item = graphene.Field(CatalogueItem)
    region = graphene.Field(Region, required=True)
    title = graphene.String(required=True)
    body = graphene.String(required=True, description="纯文本，可含简单 Markdown")
    tables = graphene.List(graphene.NonNull(DisclosureTable), required=True)
    period = graphene.String(description="2026-03、2026-Q1、2026-H1 或 2026")
    attachments = graphene.List(graphene.NonNull(Media), required=True)
    thumbnail_url = graphene.String(description="第一个附件的缩略图（列表和首页用）；没有则为空")
    must_read = graphene.Boolean(required=True)
    locals().update(timing_fields())
    resolve_tags = staticmethod(resolve_tags)
    resolve_urgency = staticmethod(resolve_urgency)
    status = graphene.Field(DisclosureStatus, required=True)
    version = graphene.Int(required=True, description="已发布的版本数")
    versions = graphene.List(graphene.NonNull(DisclosureVersion), required=True)
    author = graphene.Field(User)
    approved_at = graphene.DateTime()
    publish_at = graphene.DateTime(description="定时发布时间")
    published_at = graphene.DateTime(description="当前版本的发布时间")
    first_published_at = graphene.DateTime()
    retracted_at = graphene.DateTime()
    retraction_reason = graphene.String()
    view_count = graphene.Int(required=True)
    comment_count = graphene.Int(required=True, description="可见的评论和回复数")
    comments = graphene.Field(
        CommentConnection, required=True, **connection_args(), description="一级评论及其回复"
    )
    read_by_me = graphene.Boolean(required=True)
    acknowledged_by_me = graphene.Boolean(
        required=True, description="必读通知：我是否已确认已读（未登录为 false）"
    )
    acknowledged_at = graphene.DateTime(description="必读通知：我确认已读的时间")
    flag_counts = graphene.Field(FlagCounts, required=True, description="收到的质疑（公开）")
    flags = graphene.List(
        graphene.NonNull(Flag), required=True, description="对此事项的质疑及其进程（不含身份）"
    )
    created_at = graphene.DateTime(required=True)
    updated_at = graphene.DateTime(required=True)
    staged_correction = graphene.Field(
        StagedCorrection,
        description="待审核的财务公开更正（仅工作人员可见；公众看到的仍是已发布版本）",
    )

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, DisclosureModel)

    @staticmethod
    async def resolve_staged_correction(root: DisclosureModel, info: Info) -> Any:
        if not sees_staged_correction(info.context.viewer, root.region_path):
            return None
        return await StagedModel.get_or_none(disclosure_id=root.id)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        disclosure = await DisclosureModel.get_or_none(id=int(pk)) if pk.isdigit() else None
        if disclosure is not None and not may_read_disclosure(
            info.context.viewer, disclosure.status, disclosure.region_path
        ):
            return None  # like a missing id
        return disclosure

    @staticmethod
    async def resolve_catalogue_item(root: DisclosureModel, info: Info) -> Any:
        if root.catalogue_item_id is None:
            return None
        return await info.context.loaders[CatalogueItemLoader].load(root.catalogue_item_id)

    # Feeds prefetch region, attachments, author and commentCount for a whole page (see
    # `prefetch`); the executor then takes the values from the row, not from these.
    @staticmethod
    def resolve_region(root: DisclosureModel, info: Info) -> Any:
        return info.context.loaders[RegionLoader].load(root.region_id)

    @staticmethod
    def resolve_attachments(root: DisclosureModel, info: Info) -> Any:
        return load_attachments(info, root.attachment_ids)

    @staticmethod
    async def resolve_thumbnail_url(root: DisclosureModel, info: Info) -> Any:
        if not root.attachment_ids:
            return None
        media = await info.context.loaders[MediaLoader].load(root.attachment_ids[0])
        if media is None:
            return None
        url = Media._url(media, info, "thumb.webp")  # a restricted file's is awaited
        return await url if isawaitable(url) else url

    @staticmethod
    async def resolve_versions(root: DisclosureModel, info: Info) -> list[Any]:
        return await info.context.loaders[VersionsByDisclosureLoader].load(root.id)

    @staticmethod
    def resolve_comment_count(root: DisclosureModel, info: Info) -> Any:
        return info.context.loaders[CommentCountLoader].load(root.id)

    @staticmethod
    async def resolve_comments(
        root: DisclosureModel, info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        return await comment_page("Disclosure", root.id, first, after)

    @staticmethod
    async def resolve_flag_counts(root: DisclosureModel, info: Info) -> Any:
        return flag_counts(await info.context.loaders[FlagsByDisclosureLoader].load(root.id))

    @staticmethod
    def resolve_flags(root: DisclosureModel, info: Info) -> Any:
        return info.context.loaders[FlagsByDisclosureLoader].load(root.id)

    @staticmethod
    def resolve_author(root: DisclosureModel, info: Info) -> Any:
        if root.author_id is None:
            return None
        return info.context.loaders[UserLoader].load(root.author_id)

    @staticmethod
    async def resolve_read_by_me(root: DisclosureModel, info: Info) -> bool:
        ctx: Context = info.context
        if ctx.viewer.user_id is None:
            return False
        loader = ctx.loaders.get_or_create(
            ("read", ctx.viewer.user_id), lambda: ReadByViewerLoader(ctx.viewer.user_id)
        )
        return await loader.load(root.id)

    @staticmethod
    async def resolve_acknowledged_by_me(root: DisclosureModel, info: Info) -> bool:
        return await acknowledged(info, root) is not None

    @staticmethod
    async def resolve_acknowledged_at(root: DisclosureModel, info: Info) -> Any:
        return await acknowledged(info, root)


class AckByViewerLoader(DataLoader):
    """disclosure id → when the viewer (fixed per loader) acknowledged it, or None."""

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id

    async def batch_load_fn(self, ids: list[int]) -> list[Any]:
        found = await acknowledged_at(self.user_id, ids)
        return [found.get(i) for i in ids]


async def acknowledged(info: Info, root: Any) -> Any:
    ctx: Context = info.context
    user_id = ctx.viewer.user_id
    if user_id is None or not root.must_read:
        return None
    loader = ctx.loaders.get_or_create(("ack", user_id), lambda: AckByViewerLoader(user_id))
    return await loader.load(root.id)


# The columns each field of Disclosure reads from its row (its resolver's, or graphene's
# attribute read), for a feed that reads only what a query shows. A field missing here
# reads every column; a column read but not listed raises ColumnNotRead (api.rows).
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "__typename": (),
    "id": ("id",),
    "category": ("category",),
    "catalogueItem": ("catalogue_item_id",),
    "region": ("region_id",),
    "title": ("title",),
    "body": ("body",),
    "tables": ("tables",),
    "period": ("period",),
    "attachments": ("attachment_ids",),
    "thumbnailUrl": ("attachment_ids",),
    "mustRead": ("must_read",),
    "tags": ("tags",),
    "urgency": ("urgent",),
    "validFrom": ("valid_from",),
    "expiresAt": ("expires_at",),
    "status": ("status",),
    "version": ("version",),
    "versions": ("id",),
    "author": ("author_id",),
    "approvedAt": ("approved_at",),
    "publishAt": ("publish_at",),
    "publishedAt": ("published_at",),
    "firstPublishedAt": ("first_published_at",),
    "retractedAt": ("retracted_at",),
    "retractionReason": ("retraction_reason",),
    "viewCount": ("view_count",),
    "commentCount": ("id",),
    "comments": ("id",),
    "readByMe": ("id",),
    "acknowledgedByMe": ("id", "must_read"),
    "acknowledgedAt": ("id", "must_read"),
    "flagCounts": ("id",),
    "flags": ("id",),
    "createdAt": ("created_at",),
    "updatedAt": ("updated_at",),
    "stagedCorrection": ("id", "region_path"),
}


def node_columns(wanted: AbstractSet[str]) -> frozenset[str] | None:
    """The columns a feed page's rows need for the node fields `wanted` (`node_fields`);
    None (every column) when one of them is not in FIELD_COLUMNS."""
    return columns_read(FIELD_COLUMNS, wanted)


async def prefetch(info: Info, rows: list[Any], wanted: AbstractSet[str]) -> None:
    """Load the regions, authors and attachments a feed page asks for (`wanted`, from
    `node_fields`), one batch each."""
    if not rows:
        return
    loaders = info.context.loaders
    regions = (
        await loaders.by_id(RegionLoader, {r.region_id for r in rows}) if "region" in wanted else {}
    )
    authors = None  # the feed query may have joined them already
    if "author" in wanted and not hasattr(rows[0], "author_row"):
        authors = await loaders.by_id(UserLoader, {r.author_id for r in rows if r.author_id})
    shown = "attachments" in wanted
    attached = [r.attachment_ids for r in rows] if shown else []  # JSON, parsed when read
    media: dict[int, Any] = {}
    if shown and hasattr(rows[0], "attached_rows"):  # the feed query read them already
        media = {m.id: m for r in rows for m in r.attached_rows}
    elif shown:
        media_ids = {m for ids in attached for m in ids}
        columns = media_columns(node_fields(info, "attachments"))
        media = await loaders.by_id(MediaLoader, media_ids, columns)
    counted = "commentCount" in wanted
    counts = None  # the feed query may have counted them already
    if counted and not hasattr(rows[0], "comment_count"):
        counts = await comment_counts("Disclosure", [r.id for r in rows])
    for i, row in enumerate(rows):
        row._prefetched = found = {}
        if counted:
            found["commentCount"] = row.comment_count if counts is None else counts.get(row.id, 0)
        if regions:
            found["region"] = regions[row.region_id]
        if "author" in wanted:
            found["author"] = row.author_row if authors is None else authors.get(row.author_id)
        if shown:
            found["attachments"] = [media[m] for m in attached[i] if media.get(m)]


class DisclosureConnection(relay.Connection):
    class Meta:
        node = Disclosure

    server_time = server_time_field()
    resolve_server_time = staticmethod(resolve_server_time)


class ItemCompliance(graphene.ObjectType):
    item = graphene.Field(CatalogueItem, required=True)
    status = graphene.Field(ComplianceStatus, required=True)
    due_at = graphene.DateTime(required=True)
    disclosure_id = graphene.ID()
    published_at = graphene.DateTime()

    @staticmethod
    def resolve_disclosure_id(root: Any, info: Info) -> str | None:
        from api.relay import to_global_id

        return to_global_id("Disclosure", root.disclosure_id) if root.disclosure_id else None


class VillageCompliance(graphene.ObjectType):
    village = graphene.Field(Region, required=True)
    on_time = graphene.Int(required=True)
    late = graphene.Int(required=True)
    missing = graphene.Int(required=True)
    pending = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(ItemCompliance), required=True)

    @staticmethod
    def resolve_on_time(root: Any, info: Info) -> int:
        return root.count(ComplianceStatusEnum.ON_TIME)

    @staticmethod
    def resolve_late(root: Any, info: Info) -> int:
        return root.count(ComplianceStatusEnum.LATE)

    @staticmethod
    def resolve_missing(root: Any, info: Info) -> int:
        return root.count(ComplianceStatusEnum.MISSING)

    @staticmethod
    def resolve_pending(root: Any, info: Info) -> int:
        return root.count(ComplianceStatusEnum.PENDING)


class LedgerVerification(graphene.ObjectType):
    ok = graphene.Boolean(required=True)
    length = graphene.Int(required=True)
    head_hash = graphene.String()
    first_broken_at = graphene.Int(description="第一个不符的链条序号；完好时为空")
    contains_known_head = graphene.Boolean(
        description="今天的链条是否仍包含客户端此前见到的链头（knownHead）；未提供时为空"
    )


class LedgerHeadInput(graphene.InputObjectType):
    length = graphene.Int(required=True, description="此前见到的链长（条目数）")
    hash = graphene.String(description="此前见到的链头哈希（链长为 0 时为空）")
