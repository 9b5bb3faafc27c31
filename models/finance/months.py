"""Checking and storing a month: continuity with last month, dates inside the month, known
subjects of the chart in force, totals — and all of it or nothing."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from models.chart_data import chart_for
from models.disclosures.tables import masked
from models.errors import ErrorCode, UserError, UserErrors
from models.finance import (
    FIGURES,
    AccountLine,
    AccountStatus,
    AccountSubject,
    AccountVersion,
    MonthlyAccount,
)
from models.finance.parsing import LineProblem, ParsedLine
from models.media import Media
from models.regions import Region, covers

# The years a month can be stored for (a SmallIntField; the charts cover these).
MIN_YEAR, MAX_YEAR = 2000, 2100


def problem_errors(problems: list[LineProblem]) -> UserErrors:
    return UserErrors(*(UserError(p.code, p.column, p.params, line=p.line) for p in problems))


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


async def store_month(
    *,
    village: Region,
    year: int,
    month: int,
    lines: list[ParsedLine],
    opening_fen: int | None,
    closing_fen: int | None,
    receipts: dict[int, int],
    source: str,
    user_id: int,
    problems: list[LineProblem] | None = None,
    reason: str | None = None,
) -> MonthlyAccount:
    """Validate everything, then replace the month's lines in one go (call in a transaction)."""
    if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):
        raise UserErrors(UserError(ErrorCode.INVALID_MONTH, "month"))
    chart = chart_for(year)
    known = set(await AccountSubject.filter(chart_version=chart).values_list("code", flat=True))
    last_day = calendar.monthrange(year, month)[1]
    first, last = date(year, month, 1), date(year, month, last_day)
    problems = list(problems or [])  # from reading the file: reported together with these
    for line in lines:
        if not first <= line.date <= last:
            problems.append(
                LineProblem(
                    line.line, "date", ErrorCode.LINE_OUTSIDE_MONTH, {"year": year, "month": month}
                )
            )
        if line.subject_code not in known:
            problems.append(
                LineProblem(
                    line.line,
                    "subject",
                    ErrorCode.UNKNOWN_SUBJECT,
                    {"chart": chart, "code": line.subject_code},
                )
            )
    if problems:
        raise problem_errors(sorted(problems, key=lambda p: p.line))

    existing = await MonthlyAccount.get_or_none(village_id=village.id, year=year, month=month)
    correcting = existing is not None and existing.published_version is not None
    if correcting and not reason:  # a published month changes only by a reasoned correction
        raise UserErrors(UserError(ErrorCode.ALREADY_PUBLISHED, "month"))
    py, pm = previous_month(year, month)
    before = await MonthlyAccount.get_or_none(village_id=village.id, year=py, month=pm)
    if before is not None:
        if opening_fen is not None and opening_fen != before.closing_balance_fen:
            raise UserErrors(
                UserError(
                    ErrorCode.OPENING_MISMATCH,
                    "openingBalanceFen",
                    {"expected": before.closing_balance_fen},
                )
            )
        opening_fen = before.closing_balance_fen
    elif opening_fen is None and existing is not None:
        opening_fen = existing.opening_balance_fen  # a replacement keeps its opening balance
    elif opening_fen is None:
        raise UserErrors(UserError(ErrorCode.OPENING_REQUIRED, "openingBalanceFen"))
    assert opening_fen is not None
    income = sum(line.amount_fen for line in lines if line.direction == "INCOME")
    expense = sum(line.amount_fen for line in lines if line.direction == "EXPENSE")
    closing = opening_fen + income - expense
    if closing_fen is not None and closing_fen != closing:
        raise UserErrors(
            UserError(ErrorCode.CLOSING_MISMATCH, "closingBalanceFen", {"expected": closing})
        )
    if existing is not None and closing != existing.closing_balance_fen:
        ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
        if await MonthlyAccount.exists(village_id=village.id, year=ny, month=nm):
            raise UserErrors(UserError(ErrorCode.CLOSING_CHANGES_LATER, "closingBalanceFen"))

    numbers = {line.line for line in lines}
    # Locked (PostgreSQL): the orphan sweep cannot delete a receipt a draft is taking in.
    linked = Media.filter(id__in=list(receipts.values())).select_related("region")
    media = {m.id: m for m in await linked.select_for_update(of=("media",), no_key=True)}
    for line_no, media_id in receipts.items():
        if line_no not in numbers:
            raise UserErrors(UserError(ErrorCode.UNKNOWN_LINE, "receipts", {"line": line_no}))
        found = media.get(media_id)
        if found is None or not covers(village.path, found.region.path):
            raise UserErrors(UserError(ErrorCode.NOT_FOUND, "receipts", line=line_no))

    fields: dict[str, Any] = dict(
        chart_version=chart,
        opening_balance_fen=opening_fen,
        income_fen=income,
        expense_fen=expense,
        closing_balance_fen=closing,
        status=AccountStatus.DRAFT,
        uploaded_by_id=user_id,
        approved_by_id=None,
        source=source,
        correction_reason=reason if correcting else None,
    )
    if existing is None:
        account = await MonthlyAccount.create(village=village, year=year, month=month, **fields)
    else:  # unpublished lines are replaced; published versions stay for the chain
        stale = AccountLine.filter(account_id=existing.id)
        stale_figures = AccountVersion.filter(account_id=existing.id)
        if existing.published_version is not None:
            stale = stale.filter(version__gt=existing.published_version)
            stale_figures = stale_figures.filter(version__gt=existing.published_version)
        await stale.delete()
        await stale_figures.delete()
        for key, value in fields.items():
            setattr(existing, key, value)
        existing.version += 1
        await existing.save()
        account = existing
    await AccountVersion.create(
        account=account,
        version=account.version,
        **{key: fields[key] for key in FIGURES},
    )
    await AccountLine.bulk_create(
        [
            AccountLine(
                account=account,
                line_no=line.line,
                date=line.date,
                direction=line.direction,
                subject_code=line.subject_code,
                amount_fen=line.amount_fen,
                # published: no ID or mobile number in clear, however it was typed
                counterparty=masked(line.counterparty),
                summary=masked(line.summary),
                voucher_no=line.voucher_no,
                receipt_id=receipts.get(line.line),
                version=account.version,
            )
            for line in lines
        ],
        batch_size=500,
    )
    return account
