"""Flag operations called directly, as a script or job would: same checks, same audit."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from api.flags.types import SupportersLoader
from models.accounts import User
from models.audit import AuditEntry
from models.disclosures import Disclosure
from models.errors import Forbidden, UserErrors
from models.flags import Flag, FlagEvent, FlagReason, FlagStatus, Holiday
from models.flags.calendar import set_holiday
from models.flags.escalation import escalate_overdue_flags
from models.flags.workflow import (
    accept_flag,
    confirm_resolution,
    reject_flag,
    reopen_flag,
    resolve_flag,
    start_investigation,
    submit_flag,
    support_flag,
)
from models.policy import Viewer, viewer_for_user

SOURCE = "script:test"


def codes(exc: pytest.ExceptionInfo[UserErrors]) -> list[tuple[str, str | None]]:
    return [(e.code, e.field) for e in exc.value.errors]


@pytest.fixture
async def item(demo) -> Disclosure:
    return await published_item(demo)


async def published_item(demo) -> Disclosure:
    village, now = demo.villages[0], datetime.now(UTC)
    return await Disclosure.create(
        region=village,
        region_path=village.path,
        category="VILLAGE_AFFAIRS",
        title="修路工程决算公示",
        body="决算金额十二万元。",
        author=demo.users["CLERK"],
        status="PUBLISHED",
        version=1,
        first_published_at=now,
        published_at=now,
    )


async def as_user(demo, role: str) -> Viewer:
    return await viewer_for_user(demo.users[role], SOURCE)


async def villager(demo, phone: str, verified: bool = True) -> Viewer:
    user = await User.create(
        phone=phone,
        name=f"村民{phone[-2:]}",
        password_hash="-",
        village=demo.villages[0],
        residency_verified_at=datetime.now(UTC) if verified else None,
    )
    return await viewer_for_user(user, SOURCE)


async def submit(viewer: Viewer, item: Disclosure, **extra) -> Flag:
    data = {"anonymous": True, "media_ids": [], "response_days": 5} | extra
    return await submit_flag(
        viewer,
        item.id,
        FlagReason.AMOUNT_QUESTIONED,
        "决算比预算多出两万元，没有说明原因。",
        **data,
    )


async def entry(action: str) -> AuditEntry:
    return await AuditEntry.get(action=action)


async def test_a_flag_goes_through_its_steps_with_an_audit_entry_for_each(app, demo, item):
    flagger = await as_user(demo, "VILLAGER")
    flag = await submit(flagger, item)
    assert flag.status == FlagStatus.SUBMITTED and flag.region_id == item.region_id
    submitted = await entry("flag.submit")
    assert (submitted.actor_id, submitted.request_id, submitted.object_id) == (
        demo.users["VILLAGER"].id,
        SOURCE,
        str(flag.id),
    )
    assert submitted.after == {"target": item.id, "reason": "AMOUNT_QUESTIONED"}

    official = await as_user(demo, "OFFICIAL")
    await accept_flag(official, flag.id, "已受理")
    await start_investigation(official, flag.id, None)
    resolved = await resolve_flag(official, flag.id, "多出部分为新增排水沟")
    assert resolved.status == FlagStatus.RESOLVED and resolved.closed_at is not None
    accepted = await entry("flag.accepted")
    assert accepted.actor_id == demo.users["OFFICIAL"].id and accepted.request_id == SOURCE
    assert accepted.before == {"status": "SUBMITTED"}
    assert accepted.after == {"status": "ACCEPTED", "note": "已受理"}
    assert (await entry("flag.investigating")).after == {"status": "INVESTIGATING", "note": None}

    confirmed = await confirm_resolution(flagger, flag.id)
    assert confirmed.status == FlagStatus.CONFIRMED
    assert (await entry("flag.confirm")).actor_id == demo.users["VILLAGER"].id
    kinds = await FlagEvent.filter(flag_id=flag.id).order_by("id").values_list("kind", flat=True)
    assert kinds == ["SUBMITTED", "ACCEPTED", "INVESTIGATING", "RESOLVED", "CONFIRMED"]


async def test_steps_are_refused_to_the_wrong_people_and_in_the_wrong_status(app, demo, item):
    flag = await submit(await as_user(demo, "VILLAGER"), item)
    for role in ("VILLAGER", "CLERK", "SUPERVISOR", "INSPECTOR", "ADMIN"):
        with pytest.raises(Forbidden):
            await accept_flag(await as_user(demo, role), flag.id)
    official = await as_user(demo, "OFFICIAL")
    with pytest.raises(UserErrors) as wrong:
        await resolve_flag(official, flag.id, "直接办结")
    assert codes(wrong) == [("WRONG_STATUS", "id")]
    with pytest.raises(UserErrors) as no_reason:
        await reject_flag(official, flag.id, " ")
    assert codes(no_reason) == [("REASON_REQUIRED", "reason")]
    with pytest.raises(Forbidden):
        await confirm_resolution(official, flag.id)  # only the flagger answers
    with pytest.raises(UserErrors) as missing:
        await accept_flag(official, flag.id + 1000)
    assert codes(missing) == [("NOT_FOUND", "id")]
    assert (await Flag.get(id=flag.id)).status == FlagStatus.SUBMITTED
    assert not await AuditEntry.filter(action__in=["flag.accepted", "flag.resolved"]).exists()


async def test_who_may_flag_and_support(app, demo, item):
    with pytest.raises(UserErrors) as newcomer:
        await submit(await villager(demo, "13911116601", verified=False), item)
    assert codes(newcomer) == [("RESIDENCY_REQUIRED", "targetId")]
    with pytest.raises(UserErrors) as photos:
        await submit(await as_user(demo, "VILLAGER"), item, media_ids=[999])
    assert codes(photos) == [("NOT_FOUND", "mediaIds")]
    flagger = await as_user(demo, "VILLAGER")
    flag = await submit(flagger, item)
    neighbour = await villager(demo, "13911116602")
    for _ in range(2):  # once per villager
        assert (await support_flag(neighbour, flag.id)).support_count == 1
    supports = await AuditEntry.filter(action="flag.support", object_id=str(flag.id))
    assert [(e.actor_id, e.object_type) for e in supports] == [(neighbour.user_id, "Flag")]
    with pytest.raises(UserErrors) as own:
        await support_flag(flagger, flag.id)
    assert codes(own) == [("OWN_FLAG", "id")]


async def test_the_overdue_job_escalates_as_the_system_and_the_county_takes_over(app, demo, item):
    flag = await submit(await as_user(demo, "VILLAGER"), item)
    inspector = await as_user(demo, "INSPECTOR")
    with pytest.raises(Forbidden):  # the township's, until it goes to the county
        await accept_flag(inspector, flag.id)
    assert await escalate_overdue_flags(flag.due_at + timedelta(minutes=1)) == 1
    escalated = await entry("flag.escalate")
    assert escalated.actor_id is None and escalated.ip is None
    assert escalated.request_id == "job:escalate_overdue_flags"
    assert escalated.object_type == "Flag" and escalated.object_id == str(flag.id)
    assert escalated.region_id == flag.region_id
    assert escalated.after == {"due_at": flag.due_at.isoformat()}
    assert (await accept_flag(inspector, flag.id, "县纪委已接手")).status == FlagStatus.ACCEPTED


async def test_the_flagger_reopens_once_and_it_goes_to_the_county(app, demo, item):
    flagger = await as_user(demo, "VILLAGER")
    flag = await submit(flagger, item)
    await reject_flag(await as_user(demo, "OFFICIAL"), flag.id, "决算已经审计")
    with pytest.raises(Forbidden):
        await reopen_flag(await villager(demo, "13911116603"), flag.id, "我也不满意")
    reopened = await reopen_flag(flagger, flag.id, "审计报告没有公开")
    assert reopened.status == FlagStatus.REOPENED and reopened.escalated_at is not None
    assert (await entry("flag.reopen")).after == {"reason": "审计报告没有公开"}
    inspector = await as_user(demo, "INSPECTOR")
    await accept_flag(inspector, flag.id)
    await resolve_flag(inspector, flag.id, "审计报告已补充公开")
    with pytest.raises(UserErrors) as again:
        await reopen_flag(flagger, flag.id, "还是不满意")
    assert codes(again) == [("WRONG_STATUS", "id")]


async def test_the_holiday_table_is_kept_by_the_system_only(app, demo):
    with pytest.raises(Forbidden):  # a county admin: the calendar is national
        await set_holiday(await as_user(demo, "ADMIN"), date(2026, 10, 1), "国庆节")
    system = Viewer.for_system("script:load_holidays")
    holiday = await set_holiday(system, date(2026, 10, 1), "  国庆节 ")
    assert holiday is not None and holiday.name == "国庆节"
    set_entry = await entry("holiday.set")
    assert set_entry.actor_id is None and set_entry.request_id == "script:load_holidays"
    assert set_entry.after == {"day": "2026-10-01", "name": "国庆节", "workday": False}
    with pytest.raises(UserErrors) as bad:
        await set_holiday(system, date(2026, 10, 2), "")
    assert codes(bad) == [("INVALID_NAME", "name")]
    assert await set_holiday(system, date(2026, 10, 1), None, remove=True) is None
    assert not await Holiday.exists()
    removed = await entry("holiday.remove")
    assert removed.before == {"day": "2026-10-01", "name": "国庆节"}


async def test_supporters_of_a_page_of_flags_load_in_one_query(app, demo, item, caplog):
    flagger = await as_user(demo, "VILLAGER")
    flags = [await submit(flagger, item) for _ in range(3)]
    neighbours = [await villager(demo, f"139111166{n}0") for n in range(2)]
    for viewer in neighbours:
        await support_flag(viewer, flags[0].id)
    await support_flag(neighbours[1], flags[2].id)
    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        supporters = await SupportersLoader().load_many([f.id for f in flags])
    assert [[u.id for u in users] for users in supporters] == [
        [v.user_id for v in neighbours],
        [],
        [neighbours[1].user_id],
    ]
    statements = [r for r in caplog.records if "flag_support" in r.getMessage()]
    assert len(statements) == 1
