"""Monthly account upload, manual entry and reading; merged into the root types."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context, Info
from api.finance.summary import FinanceSummary
from api.finance.types import Direction, MonthlyAccount
from api.inputs import enum_value, month_arg, year_arg
from api.mutations import BaseMutation
from api.regions.schema import load_region_by_global_id
from api.relay import decode_id
from api.uploads import Upload, UploadedFile
from models.errors import ErrorCode, fail
from models.finance.decisions import MAX_DECISIONS
from models.finance.summary import summary_picture, year_summary
from models.finance.workflow import (
    EnteredLine,
    approve_month,
    decide_many,
    decide_risk_hit,
    import_month,
    readable_month,
    save_month,
)
from models.policy import Action


class ReceiptInput(graphene.InputObjectType):
    line = graphene.Int(required=True, description="行号（表头为第1行）")
    media_id = graphene.ID(required=True)


class ImportMonthlyAccountInput(graphene.InputObjectType):
    village_id = graphene.ID(required=True)
    year = graphene.Int(required=True)
    month = graphene.Int(required=True)
    file = Upload(required=True)
    opening_balance_fen = graphene.Float(description="首月必填；以后自动取上月月末余额")
    closing_balance_fen = graphene.Float(description="填写则核对：应等于月初+收入−支出")
    receipts = graphene.List(graphene.NonNull(ReceiptInput))
    reason = graphene.String(description="更正已公开月份时必填：经审核后作为新版本公开")


class LineInput(graphene.InputObjectType):
    date = graphene.Date(required=True)
    direction = Direction(required=True)
    subject_code = graphene.String(required=True)
    amount_fen = graphene.Float(required=True)
    counterparty = graphene.String()
    summary = graphene.String()
    receipt_id = graphene.ID()


class SaveMonthlyAccountInput(graphene.InputObjectType):
    village_id = graphene.ID(required=True)
    year = graphene.Int(required=True)
    month = graphene.Int(required=True)
    opening_balance_fen = graphene.Float()
    lines = graphene.List(graphene.NonNull(LineInput), required=True)
    reason = graphene.String(description="更正已公开月份时必填")


class AccountPayload(BaseMutation):
    class Meta:
        abstract = True

    account = graphene.Field(MonthlyAccount)
    permission = Action.ACCOUNTS_UPLOAD


class ImportMonthlyAccount(AccountPayload):
    class Meta:
        name = "ImportMonthlyAccountPayload"
        description = (
            "上传一个月的账目：CSV（UTF-8 或 GBK）或 XLSX。任何一行有错则整体不导入，"
            "每个错误注明行号、列和原因。未公开的月份可以重新上传覆盖。"
        )

    class Arguments:
        input = ImportMonthlyAccountInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        village_id = decode_id(data.village_id, "Region", "villageId")
        receipts = {r.line: decode_id(r.media_id, "Media", "receipts") for r in data.receipts or []}
        upload: UploadedFile = data.file
        account = await import_month(
            ctx.viewer,
            village_id,
            data.year,
            data.month,
            upload.data or b"",
            too_large=upload.too_large,
            opening_fen=data.opening_balance_fen,
            closing_fen=data.closing_balance_fen,
            receipts=receipts,
            reason=data.reason,
        )
        return {"account": account}


class SaveMonthlyAccount(AccountPayload):
    class Meta:
        name = "SaveMonthlyAccountPayload"
        description = "在手机上逐笔录入一个月的账目（与上传同样校验）"

    class Arguments:
        input = SaveMonthlyAccountInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        village_id = decode_id(data.village_id, "Region", "villageId")
        lines = [
            EnteredLine(
                date=item.date,
                direction=enum_value(item.direction),
                subject_code=item.subject_code,
                amount_fen=item.amount_fen,
                counterparty=item.counterparty,
                summary=item.summary,
                receipt_id=decode_id(item.receipt_id, "Media", "receiptId")
                if item.receipt_id
                else None,
            )
            for item in data.lines
        ]
        account = await save_month(
            ctx.viewer,
            village_id,
            data.year,
            data.month,
            lines,
            opening_fen=data.opening_balance_fen,
            reason=data.reason,
        )
        return {"account": account}


class ApproveMonthlyAccountInput(graphene.InputObjectType):
    village_id = graphene.ID(required=True)
    year = graphene.Int(required=True)
    month = graphene.Int(required=True)


class ApproveMonthlyAccount(AccountPayload):
    class Meta:
        name = "ApproveMonthlyAccountPayload"
        description = (
            "村务监督委员会成员（非上传人）审核通过并公开：作为财务公开事项发布，"
            "每一行和每张凭证的哈希都进入本村哈希链；确认存在的问题随所在行公开，"
            "并以村务监督委员会名义向乡镇提出质疑"
        )

    class Arguments:
        input = ApproveMonthlyAccountInput(required=True)

    permission = Action.DISCLOSURE_APPROVE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        village_id = decode_id(data.village_id, "Region", "villageId")
        account = await approve_month(
            ctx.viewer,
            village_id,
            data.year,
            data.month,
            response_days=ctx.settings.flag_response_days,
        )
        return {"account": account}


class DecideRiskHitInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    confirmed = graphene.Boolean(required=True, description="true：确有问题；false：经查无问题")
    note = graphene.String(required=True)


DECIDE_NOTE = (
    "确认为问题（confirmed: true）的，公开时连同说明（note）一并显示在该行上、进入哈希链，"
    "并以村务监督委员会名义向乡镇提出质疑：说明是公开的。账目公开后结论不能再改。"
)


class DecideRiskHit(BaseMutation):
    class Meta:
        name = "DecideRiskHitPayload"
        description = (
            "监督委员会或乡镇干部对风险提示作出结论（须写说明），全部处理后才能审核公开。"
            + DECIDE_NOTE
        )

    class Arguments:
        input = DecideRiskHitInput(required=True)

    account = graphene.Field(MonthlyAccount)
    permission = Action.RISK_DECIDE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        hit_id = decode_id(data.id, "RiskHit", "id")
        account = await decide_risk_hit(ctx.viewer, hit_id, data.confirmed, data.note)
        return {"account": account}


class DecideRiskHitsInput(graphene.InputObjectType):
    ids = graphene.List(
        graphene.NonNull(graphene.ID), required=True, description=f"最多{MAX_DECISIONS}条"
    )
    confirmed = graphene.Boolean(required=True, description="true：确有问题；false：经查无问题")
    note = graphene.String(required=True, description="同一说明用于每一条（确认的问题公开显示）")


class DecideRiskHits(BaseMutation):
    class Meta:
        name = "DecideRiskHitsPayload"
        description = (
            "一次对多条风险提示作出同一结论：全部成功或全部不改（每条都须存在、属于本人"
            "可处理的村、所在账目尚未公开）；每条各记一条操作日志。" + DECIDE_NOTE
        )

    class Arguments:
        input = DecideRiskHitsInput(required=True)

    accounts = graphene.List(graphene.NonNull(MonthlyAccount), description="涉及的月份账目")
    permission = Action.RISK_DECIDE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        if len(data.ids) > MAX_DECISIONS:  # before decoding a flood of ids
            raise fail(ErrorCode.TOO_MANY_ITEMS, "ids", max=MAX_DECISIONS)
        hit_ids = [decode_id(i, "RiskHit", "ids") for i in data.ids]
        accounts = await decide_many(ctx.viewer, hit_ids, data.confirmed, data.note)
        return {"accounts": accounts}


class FinanceQueries(graphene.ObjectType):
    finance_summary = graphene.Field(
        FinanceSummary,
        required=True,
        region_id=graphene.ID(required=True),
        year=graphene.Int(required=True),
        description="已公开账目的年度汇总；乡镇、县为所辖各村之和",
    )
    finance_summary_image = graphene.String(
        required=True,
        village_id=graphene.ID(required=True),
        year=graphene.Int(required=True),
        month=graphene.Int(required=True),
        description="已公开月份的分享图片（1080 像素宽 PNG）的地址",
    )
    monthly_account = graphene.Field(
        MonthlyAccount,
        village_id=graphene.ID(required=True),
        year=graphene.Int(required=True),
        month=graphene.Int(required=True),
        description="某村某月账目；未公开的仅本村工作人员和上级干部可见",
    )

    @staticmethod
    async def resolve_finance_summary(root: Any, info: Info, region_id: str, year: int) -> Any:
        region = await load_region_by_global_id(info, region_id)
        return await year_summary(region, year_arg(year))

    @staticmethod
    async def resolve_finance_summary_image(
        root: Any, info: Info, village_id: str, year: int, month: int
    ) -> str:
        year, month = month_arg(year, month)
        village = await load_region_by_global_id(info, village_id)
        ctx = info.context
        return await summary_picture(
            village, year, month, ctx.services.media.storage, ctx.settings.font_path
        )

    @staticmethod
    async def resolve_monthly_account(
        root: Any, info: Info, village_id: str, year: int, month: int
    ) -> Any:
        year, month = month_arg(year, month)
        village = await load_region_by_global_id(info, village_id)
        return await readable_month(info.context.viewer, village, year, month)


class FinanceMutations(graphene.ObjectType):
    import_monthly_account = ImportMonthlyAccount.Field()
    save_monthly_account = SaveMonthlyAccount.Field()
    approve_monthly_account = ApproveMonthlyAccount.Field()
    decide_risk_hit = DecideRiskHit.Field()
    decide_risk_hits = DecideRiskHits.Field()
