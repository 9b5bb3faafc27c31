"""Risk rules (风险感知), run on every import and save. A hit marks a line for the
supervisor and the township; someone must clear or confirm it before approval."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from models.accounts import RoleGrant, User
from models.finance import AccountLine, MonthlyAccount, RiskHit, RiskRule
from models.media import Media
from models.regions import Region

NO_RECEIPT_ABOVE_FEN = 500_000  # an expense of 5,000 yuan or more needs a receipt
APPROVAL_THRESHOLD_FEN = 1_000_000  # payments of 10,000 yuan or more need a meeting's approval
JUST_UNDER = 0.8  # "just under": at least 80 % of the threshold


def short_name(name: str) -> str:
    """'村文书 刘芳' → '刘芳': staff accounts often carry their title before the name."""
    return name.split()[-1] if name.split() else name


async def officer_names(village: Region) -> set[str]:
    user_ids = await RoleGrant.filter(region_id=village.id, revoked_at=None).values_list(
        "user_id", flat=True
    )
    names = cast(list[str], await User.filter(id__in=list(user_ids)).values_list("name", flat=True))
    return {short_name(n) for n in names} | set(names)


async def run_rules(account: MonthlyAccount, village: Region) -> list[RiskHit]:
    """Replace the hits of the month's unpublished lines with those its current lines earn;
    a published version's hits stay, decided, with it."""
    await RiskHit.filter(account_id=account.id, version__gt=account.published_version or 0).delete()
    lines = await AccountLine.filter(account_id=account.id, version=account.version).order_by(
        "line_no"
    )
    hits: list[tuple[int, RiskRule, dict[str, Any]]] = []

    # The same receipt image on two lines, or already used in an earlier month.
    media_ids = [line.receipt_id for line in lines if line.receipt_id]
    shas = dict(await Media.filter(id__in=media_ids).values_list("id", "sha256"))
    by_sha: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        if line.receipt_id and line.receipt_id in shas:
            by_sha[shas[line.receipt_id]].append(line.line_no)
    for numbers in by_sha.values():
        if len(numbers) > 1:
            hits += [(n, RiskRule.DUPLICATE_RECEIPT, {"lines": numbers}) for n in numbers]
    if by_sha:
        earlier = (
            await AccountLine.filter(
                account__village_id=village.id, receipt__sha256__in=list(by_sha)
            )
            .exclude(account_id=account.id)
            .values("receipt__sha256", "account__year", "account__month")
        )
        for row in earlier:
            for n in by_sha[row["receipt__sha256"]]:
                hits.append(
                    (
                        n,
                        RiskRule.DUPLICATE_RECEIPT,
                        {"earlier": f"{row['account__year']}-{row['account__month']:02d}"},
                    )
                )

    expenses = [line for line in lines if line.direction == "EXPENSE"]
    # The same payee paid the same amount twice in the month.
    pairs: dict[tuple[str, int], list[int]] = defaultdict(list)
    for line in expenses:
        if line.counterparty:
            pairs[(line.counterparty, line.amount_fen)].append(line.line_no)
    for (payee, amount), numbers in pairs.items():
        if len(numbers) > 1:
            hits += [
                (
                    n,
                    RiskRule.DUPLICATE_PAYMENT,
                    {"payee": payee, "amountFen": amount, "lines": numbers},
                )
                for n in numbers
            ]
    # A large expense without a receipt.
    for line in expenses:
        if line.amount_fen >= NO_RECEIPT_ABOVE_FEN and not line.receipt_id:
            hits.append(
                (
                    line.line_no,
                    RiskRule.NO_RECEIPT_ABOVE_THRESHOLD,
                    {
                        "thresholdFen": NO_RECEIPT_ABOVE_FEN,
                        "payee": line.counterparty,
                        "amountFen": line.amount_fen,
                    },
                )
            )
    # Several payments to one payee, each just under the approval threshold.
    under: dict[str, list[AccountLine]] = defaultdict(list)
    for line in expenses:
        if (
            line.counterparty
            and JUST_UNDER * APPROVAL_THRESHOLD_FEN <= line.amount_fen < APPROVAL_THRESHOLD_FEN
        ):
            under[line.counterparty].append(line)
    for payee, group in under.items():
        if len(group) > 1:
            detail = {
                "payee": payee,
                "thresholdFen": APPROVAL_THRESHOLD_FEN,
                "lines": [g.line_no for g in group],
                "totalFen": sum(g.amount_fen for g in group),
            }
            hits += [(g.line_no, RiskRule.SPLIT_PAYMENTS, detail) for g in group]
    # Money paid to someone who holds a role in this village.
    officers = await officer_names(village)
    for line in expenses:
        if line.counterparty and line.counterparty in officers:
            detail = {"payee": line.counterparty, "amountFen": line.amount_fen}
            hits.append((line.line_no, RiskRule.PAYEE_IS_OFFICER, detail))

    rows = [
        RiskHit(account_id=account.id, version=account.version, line_no=n, rule=rule, detail=detail)
        for n, rule, detail in hits
    ]
    if rows:
        await RiskHit.bulk_create(rows)
    return rows
