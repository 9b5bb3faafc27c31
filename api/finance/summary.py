"""Finance summaries over published months: by subject and by month, for a village or the
sum of the villages below a township or county."""

from __future__ import annotations

from typing import Any

import graphene
from tortoise import Tortoise

from api.regions.types import Region
from models.finance import AccountSubject
from models.regions import Region as RegionModel
from models.regions import subtree_range


class SubjectTotal(graphene.ObjectType):
    chart_version = graphene.String(required=True)
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    direction = graphene.String(required=True)
    amount_fen = graphene.Float(required=True)


class MonthTotal(graphene.ObjectType):
    month = graphene.Int(required=True)
    income_fen = graphene.Float(required=True)
    expense_fen = graphene.Float(required=True)


class FinanceSummary(graphene.ObjectType):
    class Meta:
        description = "已公开账目的汇总（金额为分）：按科目、按月，用于图表"

    region = graphene.Field(Region, required=True)
    year = graphene.Int(required=True)
    income_fen = graphene.Float(required=True)
    expense_fen = graphene.Float(required=True)
    months_published = graphene.Int(required=True)
    by_subject = graphene.List(graphene.NonNull(SubjectTotal), required=True)
    by_month = graphene.List(graphene.NonNull(MonthTotal), required=True)


async def finance_summary(region: RegionModel, year: int) -> dict[str, Any]:
    low, high = subtree_range(region.path)
    conn = Tortoise.get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    marks = ["$1", "$2", "$3"] if postgres else ["?", "?", "?"]
    scope = (
        "FROM account_line l JOIN monthly_account a ON a.id = l.account_id "
        "JOIN region r ON r.id = a.village_id "
        f"WHERE a.published_version IS NOT NULL AND l.version = a.published_version "
        f"AND a.year = {marks[0]} AND r.path >= {marks[1]} AND r.path < {marks[2]}"
    )
    params = [year, low, high]
    subjects = await conn.execute_query_dict(
        f"SELECT a.chart_version AS chart, l.subject_code AS code, l.direction AS direction, "
        f"SUM(l.amount_fen) AS total {scope} GROUP BY a.chart_version, l.subject_code, l.direction "
        "ORDER BY a.chart_version, l.subject_code",
        params,
    )
    months = await conn.execute_query_dict(
        f"SELECT a.month AS month, l.direction AS direction, SUM(l.amount_fen) AS total {scope} "
        "GROUP BY a.month, l.direction",
        params,
    )
    published = await conn.execute_query_dict(
        "SELECT COUNT(DISTINCT a.id) AS n FROM monthly_account a "
        "JOIN region r ON r.id = a.village_id "
        f"WHERE a.published_version IS NOT NULL AND a.year = {marks[0]} "
        f"AND r.path >= {marks[1]} AND r.path < {marks[2]}",
        params,
    )
    names = {
        (s.chart_version, s.code): s.name
        for s in await AccountSubject.filter(
            chart_version__in=list({row["chart"] for row in subjects})
        )
    }
    series = {m: {"income": 0, "expense": 0} for m in range(1, 13)}
    for row in months:
        key = "income" if row["direction"] == "INCOME" else "expense"
        series[int(row["month"])][key] += int(row["total"])
    by_subject = [
        SubjectTotal(
            chart_version=row["chart"],
            code=row["code"],
            name=names.get((row["chart"], row["code"]), row["code"]),
            direction=row["direction"],
            amount_fen=int(row["total"]),
        )
        for row in subjects
    ]
    return {
        "region": region,
        "year": year,
        "income_fen": sum(s["income"] for s in series.values()),
        "expense_fen": sum(s["expense"] for s in series.values()),
        "months_published": int(published[0]["n"]) if published else 0,
        "by_subject": by_subject,
        "by_month": [
            MonthTotal(month=m, income_fen=v["income"], expense_fen=v["expense"])
            for m, v in series.items()
        ],
    }
