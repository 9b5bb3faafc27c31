"""Monthly accounts (财务公开): the chart of accounts by version, a village's month, its lines."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.media import Media
from models.regions import Region


class SubjectClass(StrEnum):
    ASSET = "ASSET"
    LIABILITY = "LIABILITY"
    EQUITY = "EQUITY"
    COST = "COST"
    INCOME = "INCOME"
    EXPENSE = "EXPENSE"


class Direction(StrEnum):
    INCOME = "INCOME"
    EXPENSE = "EXPENSE"


class AccountStatus(StrEnum):
    DRAFT = "DRAFT"
    PENDING_REVIEW = "PENDING_REVIEW"
    APPROVED = "APPROVED"
    PUBLISHED = "PUBLISHED"


# A code means different accounts in the 2004 and 2023 charts: never store one without
# its chart version.
class AccountSubject(Model):
    id = fields.IntField(primary_key=True)
    chart_version = fields.CharField(max_length=8)
    code = fields.CharField(max_length=16)
    name = fields.CharField(max_length=40)
    subject_class = fields.CharEnumField(SubjectClass, max_length=16)
    debit_normal = fields.BooleanField()
    sort_order = fields.IntField(default=0)

    class Meta:
        table = "account_subject"
        unique_together = (("chart_version", "code"),)


class MonthlyAccount(Model):
    id = fields.IntField(primary_key=True)
    village: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    year = fields.SmallIntField()
    month = fields.SmallIntField()
    chart_version = fields.CharField(max_length=8)
    opening_balance_fen = fields.BigIntField()
    income_fen = fields.BigIntField()
    expense_fen = fields.BigIntField()
    closing_balance_fen = fields.BigIntField()
    status = fields.CharEnumField(AccountStatus, max_length=16, default=AccountStatus.DRAFT)
    uploaded_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    approved_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    version = fields.IntField(default=1)  # of the current lines: bumped on every replacement
    published_version = fields.IntField(null=True)  # the lines the public sees
    correction_reason = fields.TextField(null=True)  # a staged correction's, until approved
    # The FINANCE disclosure that published it: its chain entry covers every line.
    disclosure: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "cunwu.Disclosure", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    source = fields.CharField(max_length=16)  # CSV, XLSX or MANUAL
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    village_id: int
    uploaded_by_id: int
    disclosure_id: int | None

    class Meta:
        table = "monthly_account"
        unique_together = (("village", "year", "month"),)


class AccountLine(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[MonthlyAccount] = fields.ForeignKeyField(
        "cunwu.MonthlyAccount", related_name="lines", on_delete=fields.CASCADE
    )
    line_no = fields.IntField()
    date = fields.DateField()
    direction = fields.CharEnumField(Direction, max_length=8)
    subject_code = fields.CharField(max_length=16)
    amount_fen = fields.BigIntField()
    counterparty = fields.CharField(max_length=100)
    summary = fields.CharField(max_length=200)
    receipt: fields.ForeignKeyNullableRelation[Media] = fields.ForeignKeyField(
        "cunwu.Media", null=True, related_name=False, on_delete=fields.RESTRICT
    )

    # Lines are never edited: a correction adds a version, and every published one stays.
    version = fields.IntField(default=1)

    account_id: int
    receipt_id: int | None

    class Meta:
        table = "account_line"
        unique_together = (("account", "version", "line_no"),)


# A version's figures, kept like its lines: what the public reads and what the chain covers
# are those of the published version, whatever a staged correction holds.
class AccountVersion(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[MonthlyAccount] = fields.ForeignKeyField(
        "cunwu.MonthlyAccount", related_name="versions", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    chart_version = fields.CharField(max_length=8)
    opening_balance_fen = fields.BigIntField()
    income_fen = fields.BigIntField()
    expense_fen = fields.BigIntField()
    closing_balance_fen = fields.BigIntField()
    source = fields.CharField(max_length=16)

    account_id: int

    class Meta:
        table = "account_version"
        unique_together = (("account", "version"),)


# What each version keeps of its month.
FIGURES = (
    "chart_version",
    "opening_balance_fen",
    "income_fen",
    "expense_fen",
    "closing_balance_fen",
    "source",
)


class RiskRule(StrEnum):
    DUPLICATE_RECEIPT = "DUPLICATE_RECEIPT"
    DUPLICATE_PAYMENT = "DUPLICATE_PAYMENT"
    NO_RECEIPT_ABOVE_THRESHOLD = "NO_RECEIPT_ABOVE_THRESHOLD"
    SPLIT_PAYMENTS = "SPLIT_PAYMENTS"
    PAYEE_IS_OFFICER = "PAYEE_IS_OFFICER"


class RiskStatus(StrEnum):
    OPEN = "OPEN"
    CLEARED = "CLEARED"  # looked at: nothing wrong
    CONFIRMED = "CONFIRMED"  # looked at: a real problem, noted


# A rule's hit is a note for the supervisor and the township, not a verdict. Once its
# version is published the decision is final: a confirmed problem is then shown on its line,
# chained with the month, and raised as a flag to the township (`flag`).
class RiskHit(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[MonthlyAccount] = fields.ForeignKeyField(
        "cunwu.MonthlyAccount", related_name="risk_hits", on_delete=fields.CASCADE
    )
    version = fields.IntField(default=1)  # of the lines the rule ran on
    line_no = fields.IntField()
    rule = fields.CharEnumField(RiskRule, max_length=32)
    detail: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(RiskStatus, max_length=16, default=RiskStatus.OPEN)
    note = fields.TextField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    decided_at = fields.DatetimeField(null=True)
    flag: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "cunwu.Flag", null=True, related_name=False, on_delete=fields.RESTRICT
    )

    account_id: int
    decided_by_id: int | None
    flag_id: int | None

    class Meta:
        table = "risk_hit"
        indexes = (("account_id", "version", "line_no"),)
