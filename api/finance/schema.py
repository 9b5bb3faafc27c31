"""Monthly account upload, manual entry and reading; merged into the root types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import graphene

from api.context import Context
from api.finance.summary import FinanceSummary, finance_summary
from api.finance.types import Direction, MonthlyAccount, require_readable
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.regions.schema import load_region_by_global_id
from api.relay import decode_id, fetch_input
from api.uploads import Upload, UploadedFile
from models.audit import record
from models.disclosures import CatalogueItem, Category, Disclosure, LedgerEntry
from models.disclosures import Status as DisclosureStatus
from models.disclosures.publishing import publish
from models.errors import AppError, BadUserInput, Forbidden, NotFound, UserError, UserErrors
from models.finance import AccountLine, AccountSubject, RiskStatus
from models.finance import AccountStatus as StatusEnum
from models.finance import MonthlyAccount as AccountModel
from models.finance import RiskHit as RiskHitModel
from models.finance.image import FontMissing, content_key, find_font, render
from models.finance.months import problem_errors, store_month
from models.finance.parsing import ParsedLine, ParseFailed, parse_lines, rows_from_file
from models.finance.risk import run_rules
from models.media import Media
from models.policy import Action
from models.regions import Region as RegionModel
from models.regions import RegionKind
from models.text import clean_reason


async def summary_image_url(ctx: Context, village: Any, account: AccountModel) -> str:
    """Render once per distinct content; the file name is the content's sha256."""
    entry = (
        await LedgerEntry.filter(disclosure_id=account.disclosure_id, kind="PUBLISH")
        .order_by("-seq")
        .first()
    )
    totals: dict[tuple[str, str], int] = {}
    for line in await AccountLine.filter(account_id=account.id, version=account.published_version):
        key = (line.subject_code, str(line.direction))
        totals[key] = totals.get(key, 0) + line.amount_fen
    names = dict(
        await AccountSubject.filter(chart_version=account.chart_version).values_list("code", "name")
    )
    content = {
        "village": village.name,
        "year": account.year,
        "month": account.month,
        "opening": account.opening_balance_fen,
        "income": account.income_fen,
        "expense": account.expense_fen,
        "closing": account.closing_balance_fen,
        "subjects": sorted(
            ((names.get(code, code), direction, fen) for (code, direction), fen in totals.items()),
            key=lambda s: -s[2],
        ),
        "chain_hash": entry.hash if entry else "",
    }
    sha = content_key(content)
    key = f"summaries/{sha}.png"
    storage = ctx.services.media.storage
    if not await storage.exists(key):
        try:
            font = find_font(ctx.settings.font_path)
        except FontMissing:
            raise AppError("FONT_MISSING") from None
        png = await anyio.to_thread.run_sync(render, content, font)
        await storage.put(key, png)
    return f"/summaries/{sha}.png"


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


def whole_fen(value: float | None, field: str) -> int | None:
    if value is None:
        return None
    if value != int(value):
        raise UserErrors(UserError("INVALID_AMOUNT", field))
    return int(value)


async def target_village(ctx: Context, global_id: str) -> RegionModel:
    village = await fetch_input(RegionModel, global_id, "Region", "villageId")
    if village.kind != RegionKind.VILLAGE:
        raise UserErrors(UserError("NOT_A_VILLAGE", "villageId"))
    ctx.viewer.require(Action.ACCOUNTS_UPLOAD, village.path)
    return village


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
        village = await target_village(ctx, data.village_id)
        upload: UploadedFile = data.file
        if upload.too_large:
            raise UserErrors(UserError("FILE_TOO_LARGE", "file", {"max_mb": 15}))
        try:  # spreadsheets are parsed off the event loop
            source, rows = await anyio.to_thread.run_sync(rows_from_file, upload.data)
            lines, problems = parse_lines(rows)
        except ParseFailed as exc:
            raise problem_errors(exc.problems) from None
        receipts = {r.line: decode_id(r.media_id, "Media", "receipts") for r in data.receipts or []}
        account = await store_month(
            village=village,
            year=data.year,
            month=data.month,
            lines=lines,
            opening_fen=whole_fen(data.opening_balance_fen, "openingBalanceFen"),
            closing_fen=whole_fen(data.closing_balance_fen, "closingBalanceFen"),
            receipts=receipts,
            source=source,
            user_id=ctx.viewer.user_id,
            problems=problems,
            reason=clean_reason(data.reason) if data.reason else None,
        )
        await run_rules(account, village)
        return {"account": account}


class SaveMonthlyAccount(AccountPayload):
    class Meta:
        name = "SaveMonthlyAccountPayload"
        description = "在手机上逐笔录入一个月的账目（与上传同样校验）"

    class Arguments:
        input = SaveMonthlyAccountInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        village = await target_village(ctx, data.village_id)
        lines, receipts, errors = [], {}, []
        for number, item in enumerate(data.lines, start=1):
            amount = item.amount_fen
            if amount != int(amount) or amount <= 0:
                errors.append(
                    UserError(
                        "NON_POSITIVE_AMOUNT" if amount <= 0 else "INVALID_AMOUNT",
                        "amountFen",
                        line=number,
                    )
                )
                continue
            lines.append(
                ParsedLine(
                    number,
                    item.date,
                    enum_value(item.direction),
                    item.subject_code.strip(),
                    int(amount),
                    (item.counterparty or "").strip()[:100],
                    (item.summary or "").strip()[:200],
                )
            )
            if item.receipt_id:
                receipts[number] = decode_id(item.receipt_id, "Media", "receiptId")
        if errors:
            raise UserErrors(*errors)
        account = await store_month(
            village=village,
            year=data.year,
            month=data.month,
            lines=lines,
            opening_fen=whole_fen(data.opening_balance_fen, "openingBalanceFen"),
            closing_fen=None,
            receipts=receipts,
            source="MANUAL",
            user_id=ctx.viewer.user_id,
            reason=clean_reason(data.reason) if data.reason else None,
        )
        await run_rules(account, village)
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
            "每一行和每张凭证的哈希都进入本村哈希链"
        )

    class Arguments:
        input = ApproveMonthlyAccountInput(required=True)

    permission = Action.DISCLOSURE_APPROVE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        village = await fetch_input(RegionModel, data.village_id, "Region", "villageId")
        cls.authorize(ctx, village.path)
        account = await AccountModel.get_or_none(
            village_id=village.id, year=data.year, month=data.month
        )
        if account is None:
            raise UserErrors(UserError("NOT_FOUND", "month"))
        if account.uploaded_by_id == ctx.viewer.user_id:
            raise Forbidden()  # the two-person rule
        if account.status == StatusEnum.PUBLISHED:
            raise UserErrors(UserError("ALREADY_PUBLISHED", "month"))
        if await RiskHitModel.exists(account_id=account.id, status=RiskStatus.OPEN):
            raise UserErrors(UserError("RISK_HITS_OPEN", "month"))
        receipt_ids = list(
            await AccountLine.filter(
                account_id=account.id, version=account.version, receipt_id__not_isnull=True
            ).values_list("receipt_id", flat=True)
        )
        if await Media.filter(id__in=receipt_ids, restricted=True).exists():
            raise UserErrors(UserError("ATTACHMENT_RESTRICTED", "month"))
        yuan = lambda fen: f"{fen / 100:,.2f}"  # noqa: E731 (display only; amounts stay in fen)
        content = dict(
            title=f"{account.year}年{account.month}月财务收支公开",
            body=(
                f"月初余额 {yuan(account.opening_balance_fen)} 元，本月收入 "
                f"{yuan(account.income_fen)} 元，支出 {yuan(account.expense_fen)} 元，"
                f"月末余额 {yuan(account.closing_balance_fen)} 元。"
            ),
            period=f"{account.year}-{account.month:02d}",
            attachment_ids=list(dict.fromkeys(receipt_ids)),
        )
        reason = account.correction_reason
        if account.disclosure_id is None:
            disclosure = await Disclosure.create(
                region=village,
                region_path=village.path,
                category=Category.FINANCE,
                catalogue_item=await CatalogueItem.get_or_none(code="FIN-2"),
                author_id=account.uploaded_by_id,
                status=DisclosureStatus.APPROVED,
                approved_by_id=ctx.viewer.user_id,
                approved_at=datetime.now(UTC),
                **content,
            )
        else:  # a correction: the same disclosure gets a new version, with the reason
            disclosure = await Disclosure.get(id=account.disclosure_id)
            for key, value in content.items():
                setattr(disclosure, key, value)
            disclosure.approved_by_id = ctx.viewer.user_id
        account.status = StatusEnum.PUBLISHED
        account.approved_by_id = ctx.viewer.user_id
        account.disclosure = disclosure
        account.published_version = account.version
        account.correction_reason = None
        await account.save()
        version = await publish(
            disclosure, ctx.viewer.user_id, reason=reason, source_version=account.version
        )
        await record(
            ctx.viewer,
            "accounts.approve",
            account,
            region_id=village.id,
            after={
                "disclosure": disclosure.id,
                "version": version.version,
                "closing_balance_fen": account.closing_balance_fen,
            },
        )
        return {"account": account}


class DecideRiskHitInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    confirmed = graphene.Boolean(required=True, description="true：确有问题；false：经查无问题")
    note = graphene.String(required=True)


class DecideRiskHit(BaseMutation):
    class Meta:
        name = "DecideRiskHitPayload"
        description = "监督委员会或乡镇干部对风险提示作出结论（须写说明），全部处理后才能审核公开"

    class Arguments:
        input = DecideRiskHitInput(required=True)

    account = graphene.Field(MonthlyAccount)
    permission = Action.RISK_DECIDE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        hit = await fetch_input(RiskHitModel, data.id, "RiskHit", "id")
        account = await AccountModel.get(id=hit.account_id)
        village = await RegionModel.get(id=account.village_id)
        cls.authorize(ctx, village.path)
        hit.status = RiskStatus.CONFIRMED if data.confirmed else RiskStatus.CLEARED
        hit.note = clean_reason(data.note, "note")
        hit.decided_by_id, hit.decided_at = ctx.viewer.user_id, datetime.now(UTC)
        await hit.save()
        await record(
            ctx.viewer,
            "accounts.risk_decide",
            hit,
            region_id=village.id,
            after={"rule": str(hit.rule), "status": str(hit.status), "note": hit.note},
        )
        return {"account": account}


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
    async def resolve_finance_summary(root: Any, info: Any, region_id: str, year: int) -> Any:
        region = await load_region_by_global_id(info, region_id)
        return FinanceSummary(**await finance_summary(region, year))

    @staticmethod
    async def resolve_finance_summary_image(
        root: Any, info: Any, village_id: str, year: int, month: int
    ) -> str:
        village = await load_region_by_global_id(info, village_id)
        account = await AccountModel.get_or_none(village_id=village.id, year=year, month=month)
        if account is None:
            raise NotFound()
        if account.published_version is None:
            raise BadUserInput("NOT_PUBLISHED")
        return await summary_image_url(info.context, village, account)

    @staticmethod
    async def resolve_monthly_account(
        root: Any, info: Any, village_id: str, year: int, month: int
    ) -> Any:
        village = await load_region_by_global_id(info, village_id)
        account = await AccountModel.get_or_none(village_id=village.id, year=year, month=month)
        if account is None:
            raise NotFound()
        await require_readable(info.context, account)
        return account


class FinanceMutations(graphene.ObjectType):
    import_monthly_account = ImportMonthlyAccount.Field()
    save_monthly_account = SaveMonthlyAccount.Field()
    approve_monthly_account = ApproveMonthlyAccount.Field()
    decide_risk_hit = DecideRiskHit.Field()
