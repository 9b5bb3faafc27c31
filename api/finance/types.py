"""A village's month of accounts and its lines. Unpublished months are for staff eyes."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay
from graphene.types.generic import GenericScalar

from api.context import Context, Info
from api.loaders import MediaLoader, RegionLoader
from api.media.types import Media
from api.regions.types import Region
from api.relay import connection_args, keyset_page, to_global_id
from models.finance import AccountLine as LineModel
from models.finance import AccountStatus as StatusEnum
from models.finance import AccountVersion as VersionModel
from models.finance import Direction as DirectionEnum
from models.finance import MonthlyAccount as AccountModel
from models.finance import RiskHit as RiskHitModel
from models.finance import RiskRule as RiskRuleEnum
from models.finance import RiskStatus as RiskStatusEnum
from models.policy import sees_account_drafts, sees_risk_hits, shown_account_version

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


class AccountLine(graphene.ObjectType):
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
    rule = graphene.Field(RiskRule, required=True)
    detail = GenericScalar()
    status = graphene.Field(
        RiskStatus, required=True, description="OPEN、CLEARED（无问题）或 CONFIRMED（确有问题）"
    )
    note = graphene.String()
    decided_at = graphene.DateTime()

    @staticmethod
    def resolve_id(root: Any, info: Info) -> str:
        return to_global_id("RiskHit", root.id)


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
