"""Finance summaries over published months: by subject and by month, for a village or the
sum of the villages below a township or county; and a published month's shareable picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from tortoise import Tortoise

from models.disclosures import LedgerEntry
from models.errors import AppError, BadUserInput, NotFound
from models.finance import AccountLine, AccountSubject, AccountVersion, Direction, MonthlyAccount
from models.finance.image import FontMissing, content_key, find_font, render
from models.regions import Region, subtree_range
from models.sql import Params, is_postgres

if TYPE_CHECKING:
    from media.storage import Storage


@dataclass
class SubjectTotal:
    chart_version: str
    code: str
    name: str
    direction: Direction
    amount_fen: int


@dataclass
class MonthTotal:
    month: int
    income_fen: int
    expense_fen: int


@dataclass
class YearSummary:
    region: Region
    year: int
    income_fen: int
    expense_fen: int
    months_published: int
    by_subject: list[SubjectTotal]
    by_month: list[MonthTotal]


async def year_summary(region: Region, year: int) -> YearSummary:
    low, high = subtree_range(region.path)
    conn = Tortoise.get_connection("default")
    p = Params(is_postgres(conn))
    published_in_scope = (
        f"a.published_version IS NOT NULL AND a.year = {p(year)} "
        f"AND r.path >= {p(low)} AND r.path < {p(high)}"
    )
    scope = (
        "FROM account_line l JOIN monthly_account a ON a.id = l.account_id "
        "JOIN region r ON r.id = a.village_id "
        f"WHERE l.version = a.published_version AND {published_in_scope}"
    )
    subjects = await conn.execute_query_dict(
        f"SELECT a.chart_version AS chart, l.subject_code AS code, l.direction AS direction, "
        f"SUM(l.amount_fen) AS total {scope} GROUP BY a.chart_version, l.subject_code, l.direction "
        "ORDER BY a.chart_version, l.subject_code",
        p.values,
    )
    months = await conn.execute_query_dict(
        f"SELECT a.month AS month, l.direction AS direction, SUM(l.amount_fen) AS total {scope} "
        "GROUP BY a.month, l.direction",
        p.values,
    )
    published = await conn.execute_query_dict(
        "SELECT COUNT(DISTINCT a.id) AS n FROM monthly_account a "
        f"JOIN region r ON r.id = a.village_id WHERE {published_in_scope}",
        p.values,
    )
    names = {
        (s.chart_version, s.code): s.name
        for s in await AccountSubject.filter(
            chart_version__in=list({row["chart"] for row in subjects})
        )
    }
    series = {m: {"income": 0, "expense": 0} for m in range(1, 13)}
    for row in months:
        key = "income" if row["direction"] == Direction.INCOME else "expense"
        series[int(row["month"])][key] += int(row["total"])
    return YearSummary(
        region=region,
        year=year,
        income_fen=sum(s["income"] for s in series.values()),
        expense_fen=sum(s["expense"] for s in series.values()),
        months_published=int(published[0]["n"]) if published else 0,
        by_subject=[
            SubjectTotal(
                chart_version=row["chart"],
                code=row["code"],
                name=names.get((row["chart"], row["code"]), row["code"]),
                direction=Direction(row["direction"]),
                amount_fen=int(row["total"]),
            )
            for row in subjects
        ],
        by_month=[
            MonthTotal(month=m, income_fen=v["income"], expense_fen=v["expense"])
            for m, v in series.items()
        ],
    )


async def picture_content(village: Region, account: MonthlyAccount) -> dict[str, Any]:
    """What the picture of a published month shows: the published version's figures (never
    a staged correction's), the hash of the entry that published them, and the head of the
    village's chain it was made from (length and hash)."""
    entry = (
        await LedgerEntry.filter(disclosure_id=account.disclosure_id, kind="PUBLISH")
        .order_by("-seq")
        .first()
    )
    head = await LedgerEntry.filter(region_id=village.id).order_by("-seq").first()
    figures = await AccountVersion.get_or_none(
        account_id=account.id, version=account.published_version
    )
    shown: Any = figures or account
    totals: dict[tuple[str, str], int] = {}
    for line in await AccountLine.filter(account_id=account.id, version=account.published_version):
        key = (line.subject_code, str(line.direction))
        totals[key] = totals.get(key, 0) + line.amount_fen
    names = dict(
        await AccountSubject.filter(chart_version=shown.chart_version).values_list("code", "name")
    )
    return {
        "village": village.name,
        "year": account.year,
        "month": account.month,
        "opening": shown.opening_balance_fen,
        "income": shown.income_fen,
        "expense": shown.expense_fen,
        "closing": shown.closing_balance_fen,
        "subjects": sorted(
            ((names.get(code, code), direction, fen) for (code, direction), fen in totals.items()),
            key=lambda s: -s[2],
        ),
        "chain_hash": entry.hash if entry else "",
        "head": {"length": head.seq, "hash": head.hash} if head else {"length": 0, "hash": ""},
    }


async def summary_picture(
    village: Region, year: int, month: int, storage: Storage, font_path: str | None
) -> str:
    """The address of a published month's picture, rendered once per distinct content (named
    by its sha256); FONT_MISSING when no CJK font is installed or configured."""
    account = await MonthlyAccount.get_or_none(village_id=village.id, year=year, month=month)
    if account is None:
        raise NotFound()
    if account.published_version is None:
        raise BadUserInput("NOT_PUBLISHED")
    content = await picture_content(village, account)
    sha = content_key(content)
    key = f"summaries/{sha}.png"
    if not await storage.exists(key):
        try:
            font = find_font(font_path)
        except FontMissing:
            raise AppError("FONT_MISSING") from None
        png = await anyio.to_thread.run_sync(render, content, font)
        await storage.put(key, png)
    return f"/summaries/{sha}.png"
