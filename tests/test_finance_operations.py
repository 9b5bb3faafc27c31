"""The finance operations called directly, without GraphQL: as a script or job would."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from models.audit import AuditEntry
from models.disclosures import Disclosure, DisclosureVersion
from models.errors import Forbidden, NotFound, UserErrors
from models.finance import AccountLine, AccountStatus, Direction, MonthlyAccount, RiskHit
from models.finance.summary import year_summary
from models.finance.workflow import (
    EnteredLine,
    approve_month,
    decide_risk_hit,
    import_month,
    readable_month,
    save_month,
)
from models.policy import viewer_for_user
from scripts.seed_demo import SOURCE as SEED

SAMPLES = Path(__file__).resolve().parent.parent / "scripts" / "samples"
SOURCE = "test:finance-operations"


async def as_user(demo, role: str):
    return await viewer_for_user(demo.users[role], SOURCE)


async def import_march(demo, sample: str = "2026-03-utf8.csv") -> MonthlyAccount:
    clerk = await as_user(demo, "CLERK")
    data = (SAMPLES / sample).read_bytes()
    return await import_month(clerk, demo.villages[0].id, 2026, 3, data, opening_fen=500_000)


async def test_an_import_stores_the_month_runs_the_rules_and_is_audited(app, demo):
    account = await import_march(demo)
    assert (account.status, account.source, account.version) == (AccountStatus.DRAFT, "CSV", 1)
    assert await AccountLine.filter(account_id=account.id).count() == 4
    [hit] = await RiskHit.filter(account_id=account.id)
    assert (hit.line_no, hit.rule) == (4, "NO_RECEIPT_ABOVE_THRESHOLD")
    [entry] = await AuditEntry.filter(action="accounts.import")
    assert entry.actor_id == demo.users["CLERK"].id and entry.request_id == SOURCE
    assert (entry.object_type, entry.object_id) == ("MonthlyAccount", str(account.id))
    assert entry.region_id == demo.villages[0].id
    assert entry.after == {
        "year": 2026,
        "month": 3,
        "version": 1,
        "source": "CSV",
        "lines": 4,
        "opening_balance_fen": 500_000,
        "income_fen": 3_120_050,
        "expense_fen": 988_050,
        "closing_balance_fen": 500_000 + 3_120_050 - 988_050,
        "correction_reason": None,
    }


async def test_a_villager_may_not_import_and_nothing_is_written(app, demo):
    villager = await as_user(demo, "VILLAGER")
    data = (SAMPLES / "2026-03-utf8.csv").read_bytes()
    with pytest.raises(Forbidden):
        await import_month(villager, demo.villages[0].id, 2026, 3, data, opening_fen=500_000)
    assert (
        await MonthlyAccount.all().count() == 0
        and not await AuditEntry.exclude(request_id=SEED).exists()
    )


async def test_a_broken_file_is_refused_with_each_line_field_and_code(app, demo):
    with pytest.raises(UserErrors) as refused:
        await import_march(demo, "broken-amount.csv")
    got = sorted((e.code, e.field, e.line) for e in refused.value.errors)
    assert got == [("INVALID_AMOUNT", "amount", 3), ("NON_POSITIVE_AMOUNT", "amount", 4)]
    assert (
        await MonthlyAccount.all().count() == 0
        and not await AuditEntry.exclude(request_id=SEED).exists()
    )


async def test_an_unknown_village_and_a_too_large_file_name_their_fields(app, demo):
    clerk = await as_user(demo, "CLERK")
    with pytest.raises(UserErrors) as missing:
        await import_month(clerk, 999_999, 2026, 3, b"")
    assert [(e.code, e.field) for e in missing.value.errors] == [("NOT_FOUND", "villageId")]
    with pytest.raises(UserErrors) as large:
        await import_month(clerk, demo.villages[0].id, 2026, 3, b"", too_large=True)
    assert [(e.code, e.field, e.params) for e in large.value.errors] == [
        ("FILE_TOO_LARGE", "file", {"max_mb": 15})
    ]


def entered(day: int, amount_fen: float, payee: str = "东溪文具店") -> EnteredLine:
    return EnteredLine(date(2026, 5, day), Direction.EXPENSE, "513", amount_fen, payee, "测试")


async def test_saved_lines_are_checked_and_audited(app, demo):
    clerk = await as_user(demo, "CLERK")
    village_id = demo.villages[0].id
    with pytest.raises(UserErrors) as refused:
        await save_month(
            clerk, village_id, 2026, 5, [entered(3, 12.5), entered(4, 0)], opening_fen=100_000
        )
    assert [(e.code, e.field, e.line) for e in refused.value.errors] == [
        ("INVALID_AMOUNT", "amountFen", 1),
        ("NON_POSITIVE_AMOUNT", "amountFen", 2),
    ]
    account = await save_month(
        clerk, village_id, 2026, 5, [entered(3, 12_000), entered(4, 3_000)], opening_fen=100_000
    )
    assert account.closing_balance_fen == 85_000 and account.source == "MANUAL"
    [entry] = await AuditEntry.filter(action="accounts.save")
    assert entry.actor_id == demo.users["CLERK"].id and entry.request_id == SOURCE
    assert entry.after["lines"] == 2 and entry.after["expense_fen"] == 15_000


async def test_the_supervisor_decides_the_hits_and_approves_into_the_chain(app, demo):
    account = await import_march(demo)
    clerk, supervisor = await as_user(demo, "CLERK"), await as_user(demo, "SUPERVISOR")
    village_id = demo.villages[0].id
    with pytest.raises(Forbidden):  # a clerk does not approve
        await approve_month(clerk, village_id, 2026, 3)
    with pytest.raises(UserErrors) as blocked:
        await approve_month(supervisor, village_id, 2026, 3)
    assert [(e.code, e.field) for e in blocked.value.errors] == [("RISK_HITS_OPEN", "month")]
    [hit] = await RiskHit.filter(account_id=account.id)
    with pytest.raises(Forbidden):
        await decide_risk_hit(clerk, hit.id, False, "合同已存档")
    await decide_risk_hit(supervisor, hit.id, False, "保洁队劳务费按月结算，合同已存档")
    approved = await approve_month(supervisor, village_id, 2026, 3)
    assert approved.status == AccountStatus.PUBLISHED and approved.published_version == 1
    disclosure = await Disclosure.get(id=approved.disclosure_id)
    assert (disclosure.category, disclosure.period) == ("FINANCE", "2026-03")
    supervisor_id = demo.users["SUPERVISOR"].id
    decided = await AuditEntry.get(action="accounts.risk_decide")
    assert (decided.actor_id, decided.request_id) == (supervisor_id, SOURCE)
    assert decided.after["status"] == "CLEARED"
    entry = await AuditEntry.get(action="accounts.approve")
    assert (entry.actor_id, entry.request_id) == (supervisor_id, SOURCE)
    assert entry.after == {
        "disclosure": disclosure.id,
        "version": 1,
        "closing_balance_fen": approved.closing_balance_fen,
    }
    summary = await year_summary(demo.villages[0], 2026)
    assert (summary.months_published, summary.income_fen) == (1, 3_120_050)
    assert {(s.code, s.direction) for s in summary.by_subject} >= {("503", Direction.INCOME)}
    # Now public: anyone reads it.
    assert (await readable_month(await as_user(demo, "VILLAGER"), demo.villages[0], 2026, 3)).id


async def test_the_uploader_never_approves_their_own_month(app, demo):
    account = await import_march(demo)
    await RiskHit.filter(account_id=account.id).delete()
    await MonthlyAccount.filter(id=account.id).update(uploaded_by_id=demo.users["SUPERVISOR"].id)
    with pytest.raises(Forbidden):
        await approve_month(await as_user(demo, "SUPERVISOR"), demo.villages[0].id, 2026, 3)


async def test_a_published_month_is_corrected_only_with_a_reason_and_review(app, demo):
    clerk, supervisor = await as_user(demo, "CLERK"), await as_user(demo, "SUPERVISOR")
    village_id = demo.villages[0].id
    await save_month(clerk, village_id, 2026, 5, [entered(3, 12_000)], opening_fen=100_000)
    first = await approve_month(supervisor, village_id, 2026, 5)
    with pytest.raises(UserErrors) as refused:
        await save_month(clerk, village_id, 2026, 5, [entered(3, 10_000)])
    assert [(e.code, e.field) for e in refused.value.errors] == [("ALREADY_PUBLISHED", "month")]
    staged = await save_month(
        clerk, village_id, 2026, 5, [entered(3, 10_000)], reason="文具费多记20元"
    )
    assert (staged.version, staged.published_version) == (2, 1)
    assert staged.correction_reason == "文具费多记20元"
    saves = await AuditEntry.filter(action="accounts.save").order_by("id")
    assert [e.after["correction_reason"] for e in saves] == [None, "文具费多记20元"]
    villager = await as_user(demo, "VILLAGER")
    assert (await readable_month(villager, demo.villages[0], 2026, 5)).published_version == 1
    corrected = await approve_month(supervisor, village_id, 2026, 5)
    assert corrected.disclosure_id == first.disclosure_id and corrected.published_version == 2
    versions = await DisclosureVersion.filter(disclosure_id=first.disclosure_id).order_by("version")
    assert [(v.version, v.reason) for v in versions] == [(1, None), (2, "文具费多记20元")]


async def test_a_draft_is_read_by_staff_only(app, demo):
    await import_march(demo)
    village = demo.villages[0]
    with pytest.raises(NotFound):
        await readable_month(await as_user(demo, "VILLAGER"), village, 2026, 3)
    account = await readable_month(await as_user(demo, "SUPERVISOR"), village, 2026, 3)
    assert account.status == AccountStatus.DRAFT
