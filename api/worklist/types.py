"""The review queue's items and the clerk's work list as GraphQL types."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import graphene
from graphene import relay

from api.context import Info
from api.disclosures.types import CatalogueItem, ComplianceStatus, Disclosure
from api.finance.types import MonthlyAccount
from api.loaders import UserLoader
from api.regions.types import Region
from api.relay import Edge, Page, PageInfo, cursor_key, cursor_time, page_size
from models.disclosures import ReturnKind as ReturnKindEnum
from models.errors import BadUserInput
from models.worklist.queue import ReviewItem as ReviewItemRow
from models.worklist.queue import ReviewKind as ReviewKindEnum

ReviewKind = graphene.Enum.from_enum(ReviewKindEnum)
ReturnKind = graphene.Enum.from_enum(ReturnKindEnum)


async def user_name(info: Info, user_id: int) -> str:
    user = await info.context.loaders[UserLoader].load(user_id)
    return user.name if user is not None else ""


def waited_seconds(since: datetime) -> int:
    return max(0, int((datetime.now(UTC) - since).total_seconds()))


class ReviewItem(graphene.ObjectType):
    class Meta:
        description = "等待监督委员会审核的一项：公开事项、财务更正或月度账目"

    kind = graphene.Field(ReviewKind, required=True)
    submitted_at = graphene.DateTime(required=True, description="提交（上传）审核的时间")
    author_name = graphene.String(required=True, description="提交人")
    waited_seconds = graphene.Int(required=True, description="已等待的秒数")
    waited_days = graphene.Int(required=True, description="已等待的整天数")
    disclosure = graphene.Field(Disclosure, description="公开事项或其待审核的更正")
    monthly_account = graphene.Field(MonthlyAccount, description="月度账目")
    correction_reason = graphene.String(description="更正的原因")
    open_risk_hits = graphene.Int(
        description="月度账目未处理的风险提示数（仅监督委员会、乡镇干部和县纪委可见）"
    )

    @staticmethod
    async def resolve_author_name(root: ReviewItemRow, info: Info) -> str:
        return await user_name(info, root.author_id)

    @staticmethod
    def resolve_waited_seconds(root: ReviewItemRow, info: Info) -> int:
        return waited_seconds(root.submitted_at)

    @staticmethod
    def resolve_waited_days(root: ReviewItemRow, info: Info) -> int:
        return waited_seconds(root.submitted_at) // 86400

    @staticmethod
    def resolve_monthly_account(root: ReviewItemRow, info: Info) -> Any:
        return root.account


class ReviewItemConnection(relay.Connection):
    class Meta:
        node = ReviewItem


# The queue is a merge of three tables, read whole (a village's open items are few), so its
# cursor is the last item's sort key: submission time, kind and id.
def item_cursor(item: ReviewItemRow) -> str:
    at, kind, pk = item.key
    return base64.urlsafe_b64encode(f"r:{at.isoformat()}|{kind}|{pk}".encode()).decode()


def after_key(cursor: str) -> tuple[datetime, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput("INVALID_CURSOR") from None
    parts = raw[2:].split("|") if raw.startswith("r:") else []
    if len(parts) != 3 or parts[1] not in ReviewKindEnum.__members__:
        raise BadUserInput("INVALID_CURSOR")
    return cursor_time(parts[0]), parts[1], cursor_key(parts[2])


def review_page(items: list[ReviewItemRow], first: int | None, after: str | None) -> Page:
    size = page_size(first)
    if after is not None:
        last = after_key(after)
        items = [i for i in items if i.key > last]
    edges = [Edge(i, item_cursor(i)) for i in items[:size]]
    return Page(edges, PageInfo(edges, len(items) > size, after is not None))


class ReturnedItem(graphene.ObjectType):
    class Meta:
        description = "监督委员会退回修改的一项，附退回原因"

    kind = graphene.Field(ReturnKind, required=True)
    reason = graphene.String(required=True, description="退回原因")
    returned_at = graphene.DateTime(required=True)
    returned_by_name = graphene.String(required=True)
    disclosure = graphene.Field(Disclosure)
    monthly_account = graphene.Field(MonthlyAccount)

    @staticmethod
    def resolve_kind(root: Any, info: Info) -> str:
        return root.note.kind

    @staticmethod
    def resolve_reason(root: Any, info: Info) -> str:
        return root.note.reason

    @staticmethod
    def resolve_returned_at(root: Any, info: Info) -> datetime:
        return root.note.created_at

    @staticmethod
    async def resolve_returned_by_name(root: Any, info: Info) -> str:
        return await user_name(info, root.note.returned_by_id)

    @staticmethod
    def resolve_monthly_account(root: Any, info: Info) -> Any:
        return root.account


class DueItem(graphene.ObjectType):
    class Meta:
        description = "应公开而尚未公开的目录事项：PENDING 即将到期，MISSING 已逾期"

    item = graphene.Field(CatalogueItem, required=True)
    period = graphene.String(required=True)
    status = graphene.Field(ComplianceStatus, required=True)
    due_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_item(root: Any, info: Info) -> Any:
        return root.status.item

    @staticmethod
    def resolve_period(root: Any, info: Info) -> str:
        return root.period.text

    @staticmethod
    def resolve_status(root: Any, info: Info) -> str:
        return root.status.status

    @staticmethod
    def resolve_due_at(root: Any, info: Info) -> datetime:
        return root.status.due_at


class ClerkWork(graphene.ObjectType):
    class Meta:
        description = "村文书的工作清单（每项最多 200 条）"

    village = graphene.Field(Region, required=True)
    drafts = graphene.List(
        graphene.NonNull(Disclosure), required=True, description="草稿（最近修改的在前）"
    )
    returned = graphene.List(
        graphene.NonNull(ReturnedItem), required=True, description="被退回修改的事项及原因"
    )
    waiting = graphene.List(
        graphene.NonNull(ReviewItem), required=True, description="已提交、等待审核的事项"
    )
    scheduled = graphene.List(
        graphene.NonNull(Disclosure), required=True, description="定时发布的事项"
    )
    due = graphene.List(
        graphene.NonNull(DueItem),
        required=True,
        description="最近一期应公开而未公开的目录事项（即将到期或已逾期）",
    )
