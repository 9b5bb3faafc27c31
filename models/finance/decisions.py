"""Deciding risk hits, one or many at once, and what a confirmed problem does once its month
is published: it is shown on its line (and chained with it) and raised as a flag to the
township for the supervision committee, so confirming cannot be a quiet way to publish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from models.accounts import Role
from models.audit import record_many
from models.errors import ErrorCode, fail
from models.finance import AccountLine, MonthlyAccount, RiskHit, RiskRule, RiskStatus
from models.finance.risk_text import hit_message
from models.flags import FlagReason
from models.flags.audience import staff_above
from models.flags.workflow import raise_committee_flag
from models.messages import ZH
from models.policy import Action, Viewer
from models.regions import Region
from models.targets import Target
from models.text import clean_reason
from notifications.events import notify_many

MAX_DECISIONS = 200  # a month's hits fit; more is a script gone wrong, not a supervisor

FLAG_REASONS = {
    RiskRule.NO_RECEIPT_ABOVE_THRESHOLD: FlagReason.RECEIPT_MISSING,
    RiskRule.DUPLICATE_RECEIPT: FlagReason.CONTENT_FALSE,
}


async def decide_risk_hits(
    viewer: Viewer,
    hit_ids: Sequence[int],
    confirmed: bool,
    note: str | None,
    now: datetime | None = None,
) -> list[MonthlyAccount]:
    """Clear (nothing wrong) or confirm (a real problem) hits with one note, all or none:
    every id must exist, lie in a village the viewer decides for, and belong to lines not
    yet published (a published decision is final: it is chained and public). One audit
    entry per hit, so each hit's history reads whole. Returns the months, in id order.
    Call inside a transaction; `now`: when (default the real time)."""
    ids = list(dict.fromkeys(hit_ids))
    if not ids:
        raise fail(ErrorCode.NOT_FOUND, "ids")
    if len(ids) > MAX_DECISIONS:
        raise fail(ErrorCode.TOO_MANY_ITEMS, "ids", max=MAX_DECISIONS)
    account_ids = set(await RiskHit.filter(id__in=ids).values_list("account_id", flat=True))
    # Months first, then hits: the order approval takes them in, so the two never deadlock
    # and a decision never slips in between approval's check and its publication.
    months = MonthlyAccount.filter(id__in=account_ids).select_for_update().order_by("id")
    accounts = {a.id: a for a in await months}
    hits = await RiskHit.filter(id__in=ids).select_for_update().order_by("id")
    if len(hits) != len(ids) or any(h.account_id not in accounts for h in hits):
        raise fail(ErrorCode.NOT_FOUND, "ids")
    paths = dict(
        await Region.filter(id__in={a.village_id for a in accounts.values()}).values_list(
            "id", "path"
        )
    )
    for account in accounts.values():
        viewer.require(Action.RISK_DECIDE, paths[account.village_id])
    for hit in hits:
        if hit.version <= (accounts[hit.account_id].published_version or 0):
            raise fail(ErrorCode.RISK_HIT_PUBLISHED, "ids")
    text = clean_reason(note, "note")
    user_id, now = viewer.require_user().id, now or datetime.now(UTC)
    status = RiskStatus.CONFIRMED if confirmed else RiskStatus.CLEARED
    await RiskHit.filter(id__in=ids).update(
        status=status, note=text, decided_by_id=user_id, decided_at=now
    )
    await record_many(
        viewer,
        "accounts.risk_decide",
        [
            (
                hit,
                accounts[hit.account_id].village_id,
                {"status": str(hit.status), "note": hit.note},
                {"rule": str(hit.rule), "status": str(status), "note": text, "batch": len(ids)},
            )
            for hit in hits
        ],
    )
    return sorted(accounts.values(), key=lambda a: a.id)


async def public_details(hits: Sequence[RiskHit]) -> dict[int, dict]:
    """Each confirmed hit's detail as the public may read it: a receipt reused in another
    month names that month only once it is published (a draft's lines are not public, and
    a month can be published before the one before it)."""
    named = [h for h in hits if (h.detail or {}).get("earlier")]
    shown = {h.id: h.detail or {} for h in hits}
    if not named:
        return shown
    villages = dict(
        await MonthlyAccount.filter(id__in={h.account_id for h in named}).values_list(
            "id", "village_id"
        )
    )
    rows = await MonthlyAccount.filter(
        village_id__in=set(villages.values()), published_version__not_isnull=True
    ).values_list("village_id", "year", "month")
    published = {(v, f"{y}-{m:02d}") for v, y, m in rows}
    for hit in named:
        if (villages[hit.account_id], hit.detail["earlier"]) not in published:
            rest = {k: v for k, v in hit.detail.items() if k != "earlier"}
            shown[hit.id] = {**rest, "elsewhere": True}
    return shown


async def raise_confirmed_problems(
    viewer: Viewer, account: MonthlyAccount, village: Region, response_days: int
) -> int:
    """At publication: each confirmed hit of the published lines that has not raised a flag
    raises one on its line (idempotent: `flag` is set once). Call inside the approval's
    transaction. Returns how many were raised."""
    hits = await RiskHit.filter(
        account_id=account.id,
        version=account.published_version,
        status=RiskStatus.CONFIRMED,
        flag_id=None,
    ).order_by("id")
    details = await public_details(hits)  # the flag's body is public
    raised = []
    for hit in hits:
        line = await AccountLine.get(
            account_id=account.id, version=hit.version, line_no=hit.line_no
        )
        message = hit_message(str(hit.rule), hit.line_no, details[hit.id], ZH)
        body = (
            f"村务监督委员会审核{account.year}年{account.month}月账目时确认存在问题：{message}。"
            f"说明：{hit.note}"
        )
        flag = await raise_committee_flag(
            viewer,
            Target("AccountLine", line.id, village.id, village.path),
            FLAG_REASONS.get(hit.rule, FlagReason.AMOUNT_QUESTIONED),
            body,
            member_id=hit.decided_by_id or viewer.require_user().id,
            response_days=response_days,
        )
        hit.flag_id = flag.id
        await hit.save(update_fields=["flag_id"])
        raised.append(flag)
    if raised:  # one call for them all: the same officials, locked once
        officials = await staff_above(raised[0], Role.OFFICIAL)
        await notify_many("FLAG_ASSIGNED", "Flag", [(officials, f.id, {}) for f in raised])
    return len(hits)
