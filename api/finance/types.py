"""A village's month of accounts and its lines. Unpublished months are for staff eyes."""

from __future__ import annotations

from typing import Any

import graphene
from aiodataloader import DataLoader
from graphene import relay
from graphene.types.generic import GenericScalar

from api.comments.schema import comment_page
from api.comments.types import CommentConnection, LineCommentCountLoader
from api.compiled import by_class
from api.context import Context, Info
from api.flags.types import Flag, FlagCounts, FlagLoader, FlagsByLineLoader, flag_counts
from api.loaders import MediaLoader, ModelByIdLoader, RegionLoader
from api.media.types import Media
from api.regions.types import Region
from api.relay import Node, connection_args, keyset_page, register_node, to_global_id
from api.rows import is_row_of
from models.finance import AccountLine as LineModel
from models.finance import AccountStatus as StatusEnum
from models.finance import AccountVersion as VersionModel
from models.finance import Direction as DirectionEnum
from models.finance import MonthlyAccount as AccountModel
from models.finance import RiskHit as RiskHitModel
from models.finance import RiskRule as RiskRuleEnum
from models.finance import RiskStatus as RiskStatusEnum
from models.finance.decisions import public_details
from models.finance.risk_text import hit_message
from models.policy import (
    line_published,
    readable_line,
    sees_account_drafts,
    sees_risk_hits,
    shown_account_version,
)

AccountStatus = graphene.Enum.from_enum(StatusEnum)
Direction = graphene.Enum.from_enum(DirectionEnum)
RiskRule = graphene.Enum.from_enum(RiskRuleEnum)
RiskStatus = graphene.Enum.from_enum(RiskStatusEnum)


async def shown_version(ctx: Context, account: AccountModel) -> int:
    path = await ctx.region_path(account.village_id)
    return shown_account_version(ctx.viewer, path, account.version, account.published_version)


async def shown_figures(ctx: Context, account: AccountModel) -> Any:
    """The balances, totals, chart and source of the version the viewer is shown: the
    public reads the published version's, never a staged correction's (read once per row)."""
    memo = account.__dict__.get("_shown_figures")
    if memo is None:
        version = await shown_version(ctx, account)
        figures = await VersionModel.get_or_none(account_id=account.id, version=version)
        memo = account.__dict__["_shown_figures"] = (version, figures or account)
    return memo[1]


class AccountByIdLoader(ModelByIdLoader):
    model = AccountModel


class ConfirmedProblemsLoader(DataLoader):
    """(account, version, line no) → the hits confirmed on that line, oldest first: one
    query for a page of lines."""

    async def batch_load_fn(self, keys: list[tuple[int, int, int]]) -> list[list[Any]]:
        grouped: dict[tuple[int, int, int], list[Any]] = {k: [] for k in keys}
        hits = RiskHitModel.filter(
            account_id__in={k[0] for k in keys},
            version__in={k[1] for k in keys},
            line_no__in={k[2] for k in keys},
            status=RiskStatusEnum.CONFIRMED,
        )
        found = await hits.order_by("id")
        details = await public_details(found)
        for hit in found:
            hit.detail = details[hit.id]  # shown in public; never saved
            key = (hit.account_id, hit.version, hit.line_no)
            if key in grouped:
                grouped[key].append(hit)
        return [grouped[k] for k in keys]


class ConfirmedProblem(graphene.ObjectType):
    class Meta:
        description = (
            "村务监督委员会审核时确认的问题：随该月账目公开并进入哈希链，同时已向乡镇提出质疑"
        )

    rule = graphene.Field(RiskRule, required=True)
    message = graphene.String(required=True, description="问题说明（涉及的行、收款人和金额）")
    note = graphene.String(required=True, description="监督委员会的说明（公开）")
    decided_at = graphene.DateTime(required=True)
    flag = graphene.Field(Flag, description="因此向乡镇提出的质疑")

    @staticmethod
    def resolve_message(root: RiskHitModel, info: Info) -> str:
        return hit_message(str(root.rule), root.line_no, root.detail, info.context.lang)

    @staticmethod
    def resolve_flag(root: RiskHitModel, info: Info) -> Any:
        if root.flag_id is None:
            return None
        return info.context.loaders[FlagLoader].load(root.flag_id)


@register_node
class AccountLine(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = (
            "账目中的一行。已公开版本的行任何人可读、可评论和质疑；"
            "未公开的行仅本村工作人员和上级干部可见"
        )

    line_no = graphene.Int(required=True, description="上传文件中的行号")
    date = graphene.Date(required=True)
    direction = graphene.Field(Direction, required=True)
    subject_code = graphene.String(required=True)
    amount_fen = graphene.Float(required=True, description="金额（分，整数）")
    counterparty = graphene.String(required=True)
    summary = graphene.String(required=True)
    voucher_no = graphene.String(
        required=True, description="记账凭证号（从会计软件导出的借贷格式导入时；否则为空）"
    )
    receipt = graphene.Field(Media)
    version = graphene.Int(required=True, description="所属账目版本（更正后旧版本的行仍保留）")
    monthly_account = graphene.Field(lambda: MonthlyAccount, required=True)
    confirmed_problems = graphene.List(
        graphene.NonNull(ConfirmedProblem),
        required=True,
        description="监督委员会确认的问题（该行所属版本公开后才显示）",
    )
    comment_count = graphene.Int(required=True, description="可见的评论和回复数")
    comments = graphene.Field(
        CommentConnection, required=True, **connection_args(), description="一级评论及其回复"
    )
    flag_counts = graphene.Field(FlagCounts, required=True, description="收到的质疑（公开）")
    flags = graphene.List(
        graphene.NonNull(Flag), required=True, description="对此行的质疑及其进程（不含身份）"
    )

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, LineModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        found = await readable_line(info.context.viewer, int(pk))
        return found.line if found else None  # a draft's line answers like a missing id

    @staticmethod
    def resolve_monthly_account(root: LineModel, info: Info) -> Any:
        return info.context.loaders[AccountByIdLoader].load(root.account_id)

    @staticmethod
    async def resolve_confirmed_problems(root: LineModel, info: Info) -> list[Any]:
        ctx = info.context
        account = await ctx.loaders[AccountByIdLoader].load(root.account_id)
        if not line_published(root, account):
            return []  # decided on lines not yet published: for the supervisors only
        return await ctx.loaders[ConfirmedProblemsLoader].load(
            (root.account_id, root.version, root.line_no)
        )

    @staticmethod
    def resolve_comment_count(root: LineModel, info: Info) -> Any:
        return info.context.loaders[LineCommentCountLoader].load(root.id)

    @staticmethod
    async def resolve_comments(
        root: LineModel, info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        return await comment_page("AccountLine", root.id, first, after)

    @staticmethod
    async def resolve_flag_counts(root: LineModel, info: Info) -> Any:
        return flag_counts(await info.context.loaders[FlagsByLineLoader].load(root.id))

    @staticmethod
    def resolve_flags(root: LineModel, info: Info) -> Any:
        return info.context.loaders[FlagsByLineLoader].load(root.id)

    @staticmethod
    def resolve_receipt(root: LineModel, info: Info) -> Any:
        if root.receipt_id is None:
            return None
        return info.context.loaders[MediaLoader].load(root.receipt_id)


class RiskHit(graphene.ObjectType):
    class Meta:
        description = "风险提示：提醒监督委员会和乡镇注意的一行，不是结论"

    id = graphene.ID(required=True)
    line_no = graphene.Int(required=True)
    version = graphene.Int(
        required=True, description="所在账目版本：已公开版本的结论不能再改，更正另有自己的提示"
    )
    rule = graphene.Field(RiskRule, required=True)
    message = graphene.String(
        required=True,
        description="提示说明：涉及的行、收款人和金额（中文，英文按 Accept-Language）",
    )
    detail = GenericScalar()
    status = graphene.Field(
        RiskStatus, required=True, description="OPEN、CLEARED（无问题）或 CONFIRMED（确有问题）"
    )
    note = graphene.String()
    decided_at = graphene.DateTime()

    @staticmethod
    def resolve_id(root: Any, info: Info) -> str:
        return to_global_id("RiskHit", root.id)

    @staticmethod
    def resolve_message(root: RiskHitModel, info: Info) -> str:
        return hit_message(str(root.rule), root.line_no, root.detail, info.context.lang)


class AccountLineConnection(relay.Connection):
    class Meta:
        node = AccountLine


class MonthlyAccount(graphene.ObjectType):
    class Meta:
        description = "一个村一个月的收支账目（金额均为分）"

    village = graphene.Field(Region, required=True)
    year = graphene.Int(required=True)
    month = graphene.Int(required=True)
    chart_version = graphene.String(required=True, description="会计科目表版本：2004 或 2023")
    opening_balance_fen = graphene.Float(required=True)
    income_fen = graphene.Float(required=True)
    expense_fen = graphene.Float(required=True)
    closing_balance_fen = graphene.Float(required=True)
    status = graphene.Field(AccountStatus, required=True)
    version = graphene.Int(required=True)
    source = graphene.String(required=True)
    line_count = graphene.Int(required=True)
    lines = graphene.Field(AccountLineConnection, required=True, **connection_args())
    disclosure_id = graphene.ID(description="公开后对应的财务公开事项")
    correction_reason = graphene.String(description="待审核的更正原因（仅工作人员可见）")
    risk_hits = graphene.List(
        graphene.NonNull(RiskHit), description="风险提示：仅监督委员会、乡镇干部和县纪委可见"
    )
    updated_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_disclosure_id(root: AccountModel, info: Info) -> str | None:
        return to_global_id("Disclosure", root.disclosure_id) if root.disclosure_id else None

    @staticmethod
    async def resolve_correction_reason(root: AccountModel, info: Info) -> str | None:
        path = await info.context.region_path(root.village_id)
        return root.correction_reason if sees_account_drafts(info.context.viewer, path) else None

    @staticmethod
    async def resolve_risk_hits(root: AccountModel, info: Info) -> list[Any] | None:
        ctx = info.context
        if not sees_risk_hits(ctx.viewer, await ctx.region_path(root.village_id)):
            return None
        return await RiskHitModel.filter(account_id=root.id).order_by("line_no", "id")

    @staticmethod
    def resolve_village(root: AccountModel, info: Info) -> Any:
        return info.context.loaders[RegionLoader].load(root.village_id)

    @staticmethod
    async def resolve_chart_version(root: AccountModel, info: Info) -> str:
        return (await shown_figures(info.context, root)).chart_version

    @staticmethod
    async def resolve_opening_balance_fen(root: AccountModel, info: Info) -> int:
        return (await shown_figures(info.context, root)).opening_balance_fen

    @staticmethod
    async def resolve_income_fen(root: AccountModel, info: Info) -> int:
        return (await shown_figures(info.context, root)).income_fen

    @staticmethod
    async def resolve_expense_fen(root: AccountModel, info: Info) -> int:
        return (await shown_figures(info.context, root)).expense_fen

    @staticmethod
    async def resolve_closing_balance_fen(root: AccountModel, info: Info) -> int:
        return (await shown_figures(info.context, root)).closing_balance_fen

    @staticmethod
    async def resolve_version(root: AccountModel, info: Info) -> int:
        return await shown_version(info.context, root)

    @staticmethod
    async def resolve_source(root: AccountModel, info: Info) -> str:
        return (await shown_figures(info.context, root)).source

    @staticmethod
    async def resolve_status(root: AccountModel, info: Info) -> str:
        if await shown_version(info.context, root) != root.version:
            return StatusEnum.PUBLISHED  # a correction is being prepared: not for the public
        return root.status

    @staticmethod
    async def resolve_line_count(root: AccountModel, info: Info) -> int:
        version = await shown_version(info.context, root)
        return await LineModel.filter(account_id=root.id, version=version).count()

    @staticmethod
    async def resolve_lines(
        root: AccountModel, info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        qs = LineModel.filter(account_id=root.id, version=await shown_version(info.context, root))
        return await keyset_page(qs, first, after, key="line_no")
