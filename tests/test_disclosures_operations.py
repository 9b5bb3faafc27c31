"""The disclosure operations called directly, as a script or job would: no GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.accounts import Role, RoleGrant, User
from models.audit import AuditEntry
from models.disclosures import (
    CatalogueItem,
    Category,
    Disclosure,
    DueDay,
    Follow,
    Frequency,
    Status,
    ledger,
)
from models.disclosures.catalogue import save_catalogue_item, set_due_day
from models.disclosures.compliance import ComplianceStatus, compliance, publication_status
from models.disclosures.following import follow_region, mark_read, unfollow_region
from models.disclosures.periods import parse_period
from models.disclosures.publishing import publish_due
from models.disclosures.workflow import (
    approve_disclosure,
    correct_disclosure,
    create_disclosure,
    publish_disclosure,
    retract_disclosure,
    submit_disclosure,
    update_disclosure,
)
from models.errors import Forbidden, UserErrors
from models.policy import Action, Viewer, viewer_for_user

SOURCE = "script:test"


async def acting(demo, role: str) -> Viewer:
    return await viewer_for_user(demo.users[role], SOURCE)


def codes(exc: pytest.ExceptionInfo) -> list[tuple[str, str | None]]:
    return [(str(e.code), e.field) for e in exc.value.errors]


async def audit(action: str, disclosure_id: int) -> AuditEntry:
    return await AuditEntry.get(
        action=action, object_type="Disclosure", object_id=str(disclosure_id)
    )


async def finance_draft(viewer: Viewer, village_id: int):
    return await create_disclosure(
        viewer,
        village_id,
        Category.FINANCE,
        {"title": "2026年3月  村级财务收支", "body": "收支明细见附表。", "period": "2026-03"},
    )


async def test_finance_goes_through_two_people_then_onto_the_chain(demo):
    clerk, supervisor = await acting(demo, "CLERK"), await acting(demo, "SUPERVISOR")
    village = demo.villages[0]
    d = await finance_draft(clerk, village.id)
    assert d.status == Status.DRAFT and d.title == "2026年3月 村级财务收支"
    await update_disclosure(clerk, d.id, {"body": "收支明细见附表（已更正）。"})
    await submit_disclosure(clerk, d.id)
    with pytest.raises(UserErrors) as refused:
        await publish_disclosure(clerk, d.id)
    assert codes(refused) == [("NEEDS_APPROVAL", "id")]

    with pytest.raises(Forbidden):
        await approve_disclosure(clerk, d.id)
    # The two-person rule: the author may not approve even when also on the committee.
    await RoleGrant.create(user=demo.users["CLERK"], role=Role.SUPERVISOR, region=village)
    both = await acting(demo, "CLERK")
    assert both.can(Action.DISCLOSURE_APPROVE, village.path)
    with pytest.raises(Forbidden):
        await approve_disclosure(both, d.id)
    assert not await AuditEntry.filter(action="disclosure.approve").exists()
    approved = await approve_disclosure(supervisor, d.id)
    assert approved.status == Status.APPROVED and approved.approved_by_id == supervisor.user_id
    with pytest.raises(UserErrors) as twice:
        await approve_disclosure(supervisor, d.id)
    assert codes(twice) == [("WRONG_STATUS", "id")]

    published = await publish_disclosure(clerk, d.id)
    assert published.status == Status.PUBLISHED and published.version == 1
    for action, actor in (
        ("disclosure.create", clerk),
        ("disclosure.update", clerk),
        ("disclosure.submit", clerk),
        ("disclosure.approve", supervisor),
        ("disclosure.publish", clerk),
    ):
        entry = await audit(action, d.id)
        assert (entry.actor_id, entry.request_id, entry.region_id) == (
            actor.user_id,
            SOURCE,
            village.id,
        ), action
    assert (await audit("disclosure.publish", d.id)).after == {"version": 1}

    # A FINANCE correction is staged: the public keeps version 1 until a second person approves.
    staged = await correct_disclosure(clerk, d.id, "金额笔误", {"body": "更正后的明细。"})
    assert (
        staged.version == 1 and (await Disclosure.get(id=d.id)).body == "收支明细见附表（已更正）。"
    )
    with pytest.raises(Forbidden):
        await approve_disclosure(both, d.id)  # its own author may not approve it
    corrected = await approve_disclosure(supervisor, d.id)
    assert corrected.version == 2 and corrected.body == "更正后的明细。"
    entry = await audit("disclosure.correct", d.id)
    assert entry.after["reason"] == "金额笔误" and entry.actor_id == supervisor.user_id
    retracted = await retract_disclosure(clerk, d.id, "重复发布")
    assert retracted.status == Status.RETRACTED
    check = await ledger.verify_region(village)
    assert check.ok and check.length == 3


async def test_operations_check_the_region_and_the_content(demo):
    clerk = await acting(demo, "CLERK")
    elsewhere = demo.villages[1]
    with pytest.raises(Forbidden):
        await finance_draft(clerk, elsewhere.id)
    with pytest.raises(UserErrors) as missing:
        await submit_disclosure(clerk, 10**6)
    assert codes(missing) == [("NOT_FOUND", "id")]
    with pytest.raises(UserErrors) as bad:
        await create_disclosure(
            clerk,
            demo.villages[0].id,
            Category.VILLAGE_AFFAIRS,
            {"title": " ", "body": "x", "period": "2026-13"},
        )
    assert codes(bad) == [("INVALID_TITLE", "title"), ("INVALID_PERIOD", "period")]
    assert not await AuditEntry.filter(action="disclosure.create").exists()


async def test_scheduled_publication_is_published_by_the_job_with_its_audit_entry(demo):
    clerk = await acting(demo, "CLERK")
    d = await create_disclosure(
        clerk, demo.villages[0].id, Category.NOTICE, {"title": "停水通知", "body": "周六停水。"}
    )
    later = datetime.now(UTC) + timedelta(hours=2)
    scheduled = await publish_disclosure(clerk, d.id, later.replace(tzinfo=None))
    assert scheduled.status == Status.SCHEDULED
    assert (await audit("disclosure.schedule", d.id)).after == {"publish_at": later.isoformat()}

    assert await publish_due() == 0
    assert await publish_due(datetime.now(UTC) + timedelta(hours=3)) == 1
    entry = await audit("disclosure.publish", d.id)
    assert (entry.actor_id, entry.request_id, entry.after) == (
        None,
        "job:publish_due",
        {"version": 1},
    )
    assert (await ledger.verify_region(demo.villages[0])).ok


async def test_following_and_read_marks_need_a_readable_disclosure(demo):
    clerk, villager = await acting(demo, "CLERK"), await acting(demo, "VILLAGER")
    township = demo.townships[0]
    assert (await follow_region(villager, township.id)).id == township.id
    await follow_region(villager, township.id)  # again: no error, one row
    assert await Follow.filter(user_id=villager.user_id).count() == 1
    d = await create_disclosure(
        clerk, demo.villages[0].id, Category.NOTICE, {"title": "通知", "body": "内容"}
    )
    with pytest.raises(UserErrors):  # a draft: NOT_FOUND, like a missing id
        await mark_read(villager, d.id)
    await publish_disclosure(clerk, d.id)
    assert (await mark_read(villager, d.id)).id == d.id
    await unfollow_region(villager, township.id)
    assert not await Follow.filter(user_id=villager.user_id).exists()


async def test_the_catalogue_and_due_days_are_changed_by_their_holders_only(demo):
    admin, clerk = await acting(demo, "ADMIN"), await acting(demo, "CLERK")
    national = await User.create(phone="13800000099", name="系统管理员", password_hash="x")
    await RoleGrant.create(user=national, role=Role.ADMIN, region=None)
    system = await viewer_for_user(national, "script:catalogue")
    fields = {
        "code": "ZZ-01",
        "category": "VILLAGE_AFFAIRS",
        "name": " 新项目 ",
        "frequency": "YEARLY",
    }
    with pytest.raises(Forbidden):  # the county's admin: the catalogue is national
        await save_catalogue_item(admin, None, fields)
    item = await save_catalogue_item(system, None, fields)
    assert (item.name, item.frequency) == ("新项目", Frequency.YEARLY)
    entry = await AuditEntry.get(action="catalogue.save", object_id=str(item.id))
    assert (entry.before, entry.after["code"], entry.request_id) == (
        None,
        "ZZ-01",
        "script:catalogue",
    )
    with pytest.raises(UserErrors) as taken:
        await save_catalogue_item(system, None, fields)
    assert codes(taken) == [("CODE_TAKEN", "code")]
    assert (await CatalogueItem.get(id=item.id)).code == "ZZ-01"

    township = demo.townships[0]
    with pytest.raises(Forbidden):
        await set_due_day(clerk, township.id, Frequency.QUARTERLY, 15)
    with pytest.raises(UserErrors) as wrong:
        await set_due_day(admin, township.id, Frequency.IMMEDIATE, 15)
    assert codes(wrong) == [("INVALID_FREQUENCY", "frequency")]
    await set_due_day(admin, township.id, Frequency.QUARTERLY, 15)
    await set_due_day(admin, township.id, Frequency.QUARTERLY, 16)
    assert (await DueDay.get(region_id=township.id, frequency=Frequency.QUARTERLY)).day == 16
    last = await AuditEntry.filter(action="due_day.set").order_by("-id").first()
    assert (last.actor_id, last.before, last.after) == (
        admin.user_id,
        {"day": 15},
        {"frequency": "QUARTERLY", "day": 16},
    )


async def test_one_on_time_rule(demo):
    due = datetime(2026, 4, 10, 16, tzinfo=UTC)
    assert publication_status(due, due, due) == ComplianceStatus.ON_TIME
    assert publication_status(due + timedelta(seconds=1), due, due) == ComplianceStatus.LATE
    assert publication_status(None, due, due) == ComplianceStatus.PENDING
    assert publication_status(None, due, due + timedelta(seconds=1)) == ComplianceStatus.MISSING
    report = await compliance(demo.villages[:1], parse_period("2026-03"))
    assert {i.status for i in report[0].items} == {ComplianceStatus.MISSING}
