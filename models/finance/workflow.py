"""A month's operations: import a file, save typed lines, approve, decide a risk hit.

Importing or saving a published month with a reason stages a correction: the public keeps
the published version until a supervisor approves the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import anyio.to_thread
from tortoise.transactions import in_transaction

from models.audience import allowed_to
from models.audit import record
from models.disclosures import CatalogueItem, Category, Disclosure
from models.disclosures import Status as DisclosureStatus
from models.disclosures.publishing import publish
from models.disclosures.returns import require_not_returned
from models.errors import ErrorCode, NotFound, UserError, UserErrors, fail
from models.finance import (
    AccountLine,
    AccountStatus,
    Direction,
    MonthlyAccount,
    RiskHit,
    RiskStatus,
)
from models.finance.decisions import decide_risk_hits, raise_confirmed_problems
from models.finance.months import MAX_YEAR, MIN_YEAR, problem_errors, store_month
from models.finance.parsing import MAX_AMOUNT_FEN, LineProblem, ParsedLine, ParseFailed, read_sheet
from models.finance.risk import run_rules
from models.media import Media
from models.policy import Action, Viewer, require_account_readable, require_second_person
from models.regions import Region, RegionKind
from models.text import clean_reason
from notifications.events import notify_all, rows_for

UPLOAD_MAX_MB = 15  # the upload limit as the clerk is told it
FLAG_RESPONSE_DAYS = 5  # as the API's default setting, for scripts that approve


@dataclass
class EnteredLine:
    """One line typed in on the phone; amounts arrive as numbers and are checked here."""

    date: date
    direction: Direction
    subject_code: str
    amount_fen: float
    counterparty: str | None = None
    summary: str | None = None
    receipt_id: int | None = None


def whole_fen(value: float | None, field: str) -> int | None:
    """A balance typed in: whole fen, within the cap a file's amounts have."""
    if value is None:
        return None
    if abs(value) > MAX_AMOUNT_FEN:
        raise fail(ErrorCode.AMOUNT_TOO_LARGE, field)
    if value != int(value):
        raise fail(ErrorCode.INVALID_AMOUNT, field)
    return int(value)


def optional_reason(reason: str | None) -> str | None:
    """A correction's reason: required only when the month turns out to be published."""
    return clean_reason(reason) if reason else None


async def upload_village(viewer: Viewer, village_id: int) -> Region:
    village = await Region.get_or_none(id=village_id)
    if village is None:
        raise fail(ErrorCode.NOT_FOUND, "villageId")
    if village.kind != RegionKind.VILLAGE:
        raise fail(ErrorCode.NOT_A_VILLAGE, "villageId")
    viewer.require(Action.ACCOUNTS_UPLOAD, village.path)
    return village


async def store_and_check(
    viewer: Viewer,
    action: str,
    village: Region,
    *,
    year: int,
    month: int,
    lines: list[ParsedLine],
    opening_fen: int | None,
    closing_fen: int | None,
    receipts: dict[int, int],
    source: str,
    reason: str | None,
    problems: list[LineProblem] | None = None,
) -> MonthlyAccount:
    """Store the month whole, run the risk rules on it and audit it, in one transaction."""
    async with in_transaction():
        account = await store_month(
            village=village,
            year=year,
            month=month,
            lines=lines,
            opening_fen=opening_fen,
            closing_fen=closing_fen,
            receipts=receipts,
            source=source,
            user_id=viewer.require_user().id,
            problems=problems,
            reason=reason,
        )
        hits = await run_rules(account, village)
        await record(
            viewer,
            action,
            account,
            region_id=village.id,
            after={
                "year": account.year,
                "month": account.month,
                "version": account.version,
                "source": account.source,
                "lines": len(lines),
                "opening_balance_fen": account.opening_balance_fen,
                "income_fen": account.income_fen,
                "expense_fen": account.expense_fen,
                "closing_balance_fen": account.closing_balance_fen,
                "correction_reason": account.correction_reason,
            },
        )
        await notify_upload(account, village, len(hits))
    return account


async def notify_upload(account: MonthlyAccount, village: Region, hits: int) -> None:
    """An upload is the clerk's submission: APPROVAL_NEEDED to the supervisors who may approve
    it, and, when rules were hit, RISK_HITS (one per month version, with the count) to those
    who decide hits. Never to the uploader; both kinds in one insert (see `notify_all`)."""
    month = f"{account.year}-{account.month:02d}"
    about = {"month": month, "account": account.id, "version": account.version}
    variant = "MONTH" if account.published_version is None else "MONTH_CORRECTION"
    approvers = await allowed_to(Action.DISCLOSURE_APPROVE, village.path)
    batches = [
        rows_for(
            approvers - {account.uploaded_by_id},
            "APPROVAL_NEEDED",
            "Region",
            village.id,
            variant=variant,
            **about,
        )
    ]
    if hits:
        reviewers = await allowed_to(Action.RISK_DECIDE, village.path)
        batches.append(
            rows_for(
                reviewers - {account.uploaded_by_id},
                "RISK_HITS",
                "Region",
                village.id,
                count=hits,
                **about,
            )
        )
    await notify_all(batches)


async def import_month(
    viewer: Viewer,
    village_id: int,
    year: int,
    month: int,
    data: bytes,
    *,
    too_large: bool = False,
    opening_fen: float | None = None,
    closing_fen: float | None = None,
    receipts: dict[int, int] | None = None,
    reason: str | None = None,
) -> MonthlyAccount:
    """A month from a CSV (UTF-8 or GBK) or XLSX file: every line or none. `too_large` says
    the upload was cut off at the size limit; `receipts` maps sheet lines to media ids."""
    village = await upload_village(viewer, village_id)
    if too_large:
        raise fail(ErrorCode.FILE_TOO_LARGE, "file", max_mb=UPLOAD_MAX_MB)
    try:  # spreadsheets are parsed off the event loop
        source, lines, problems = await anyio.to_thread.run_sync(read_sheet, data)
    except ParseFailed as exc:
        raise problem_errors(exc.problems) from None
    return await store_and_check(
        viewer,
        "accounts.import",
        village,
        year=year,
        month=month,
        lines=lines,
        opening_fen=whole_fen(opening_fen, "openingBalanceFen"),
        closing_fen=whole_fen(closing_fen, "closingBalanceFen"),
        receipts=receipts or {},
        source=source,
        reason=optional_reason(reason),
        problems=problems,
    )


async def save_month(
    viewer: Viewer,
    village_id: int,
    year: int,
    month: int,
    entered: list[EnteredLine],
    *,
    opening_fen: float | None = None,
    reason: str | None = None,
) -> MonthlyAccount:
    """A month typed in line by line, checked like an upload (lines numbered from 1)."""
    village = await upload_village(viewer, village_id)
    lines, receipts, errors = [], {}, []
    for number, item in enumerate(entered, start=1):
        amount = item.amount_fen
        if amount > MAX_AMOUNT_FEN:  # as an uploaded file's amounts are capped
            errors.append(UserError(ErrorCode.AMOUNT_TOO_LARGE, "amountFen", line=number))
            continue
        if amount != int(amount) or amount <= 0:
            code = ErrorCode.NON_POSITIVE_AMOUNT if amount <= 0 else ErrorCode.INVALID_AMOUNT
            errors.append(UserError(code, "amountFen", line=number))
            continue
        lines.append(
            ParsedLine(
                number,
                item.date,
                Direction(item.direction),
                item.subject_code.strip(),
                int(amount),
                (item.counterparty or "").strip()[:100],
                (item.summary or "").strip()[:200],
            )
        )
        if item.receipt_id is not None:
            receipts[number] = item.receipt_id
    if errors:
        raise UserErrors(*errors)
    return await store_and_check(
        viewer,
        "accounts.save",
        village,
        year=year,
        month=month,
        lines=lines,
        opening_fen=whole_fen(opening_fen, "openingBalanceFen"),
        closing_fen=None,
        receipts=receipts,
        source="MANUAL",
        reason=optional_reason(reason),
    )


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"  # display only; amounts stay in fen


async def approve_month(
    viewer: Viewer,
    village_id: int,
    year: int,
    month: int,
    now: datetime | None = None,
    *,
    response_days: int = FLAG_RESPONSE_DAYS,
) -> MonthlyAccount:
    """A supervisor other than the uploader publishes the month as a FINANCE disclosure (a
    staged correction as its next version): every line and receipt enters the chain, with
    the problems confirmed on them, each of which also raises a flag to the township for the
    supervision committee (answered within `response_days` working days). `now` is the
    approval and publication time (default: the real time)."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    async with in_transaction():
        village = await Region.get_or_none(id=village_id)
        if village is None:
            raise fail(ErrorCode.NOT_FOUND, "villageId")
        viewer.require(Action.DISCLOSURE_APPROVE, village.path)
        if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):  # PostgreSQL's smallint
            raise fail(ErrorCode.INVALID_MONTH, "month")
        account = (  # locked: a concurrent decision on its hits waits for the publication
            await MonthlyAccount.select_for_update()
            .filter(village_id=village.id, year=year, month=month)
            .first()
        )
        if account is None:
            raise fail(ErrorCode.NOT_FOUND, "month")
        require_second_person(viewer, account.uploaded_by_id)
        if account.status == AccountStatus.PUBLISHED:
            raise fail(ErrorCode.ALREADY_PUBLISHED, "month")
        await require_not_returned("month", account_id=account.id, month_version=account.version)
        if await RiskHit.exists(account_id=account.id, status=RiskStatus.OPEN):
            raise fail(ErrorCode.RISK_HITS_OPEN, "month")
        receipt_ids = list(
            await AccountLine.filter(
                account_id=account.id, version=account.version, receipt_id__not_isnull=True
            ).values_list("receipt_id", flat=True)
        )
        if await Media.filter(id__in=receipt_ids, restricted=True).exists():
            raise fail(ErrorCode.ATTACHMENT_RESTRICTED, "month")
        approver_id = viewer.require_user().id
        content: dict[str, Any] = dict(
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
                approved_by_id=approver_id,
                approved_at=now,
                **content,
            )
        else:  # a correction: the same disclosure gets a new version, with the reason
            disclosure = await Disclosure.get(id=account.disclosure_id)
            for key, value in content.items():
                setattr(disclosure, key, value)
            disclosure.approved_by_id, disclosure.approved_at = approver_id, now
        account.status = AccountStatus.PUBLISHED
        account.approved_by_id = approver_id
        account.disclosure = disclosure
        account.published_version = account.version
        account.correction_reason = None  # type: ignore[assignment]  # tortoise types a nullable TextField as str
        await account.save()
        version = await publish(
            disclosure, approver_id, reason=reason, at=now, source_version=account.version
        )
        await raise_confirmed_problems(viewer, account, village, response_days)  # audited each
        await record(
            viewer,
            "accounts.approve",
            account,
            region_id=village.id,
            after={
                "disclosure": disclosure.id,
                "version": version.version,
                "closing_balance_fen": account.closing_balance_fen,
            },
        )
    return account


async def decide_risk_hit(
    viewer: Viewer, hit_id: int, confirmed: bool, note: str | None, now: datetime | None = None
) -> MonthlyAccount:
    """Clear (nothing wrong) or confirm (a real problem) a risk hit, with a note; returns
    its month. See `decide_risk_hits` (`now`: when, default the real time)."""
    async with in_transaction():
        try:
            [account] = await decide_risk_hits(viewer, [hit_id], confirmed, note, now)
        except UserErrors as exc:  # one hit: its input field is `id`
            for error in exc.errors:
                if error.field == "ids":
                    error.field = "id"
            raise
    return account


async def decide_many(
    viewer: Viewer, hit_ids: list[int], confirmed: bool, note: str | None
) -> list[MonthlyAccount]:
    """Decide several hits with one note, all or none (see `decide_risk_hits`)."""
    async with in_transaction():
        return await decide_risk_hits(viewer, hit_ids, confirmed, note)


async def readable_month(viewer: Viewer, village: Region, year: int, month: int) -> MonthlyAccount:
    """The month as `viewer` may read it: NotFound when there is none, or it is a draft and
    `viewer` is not staff covering the village."""
    account = await MonthlyAccount.get_or_none(village_id=village.id, year=year, month=month)
    if account is None:
        raise NotFound()
    require_account_readable(viewer, village.path, account.published_version is not None)
    return account
