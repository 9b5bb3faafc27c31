"""GraphQL types of the finance summary (computed in `models.finance.summary`)."""

from __future__ import annotations

import graphene

from api.finance.types import Direction
from api.regions.types import Region


class SubjectTotal(graphene.ObjectType):
    chart_version = graphene.String(required=True)
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    direction = graphene.Field(Direction, required=True)
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
