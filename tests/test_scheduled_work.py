"""The domain work the scheduler runs, called with an explicit `now` as a job would: each run
writes its notifications and audit entries once, and a repeat (or a retry after the commit)
changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from models.accounts import Role, RoleGrant, User
from models.audit import AuditEntry
from models.disclosures import CatalogueItem, Disclosure, Frequency
from models.disclosures.compliance import RequiredItems
from models.disclosures.periods import SHANGHAI
from models.disclosures.reminders import remind_clerks, report_missing_items
from models.flags import Flag, FlagReason, Holiday
from models.flags.reminders import remind_flags_due
from models.flags.workflow import accept_flag, submit_flag
from models.notifications import NotificationEvent, ScheduledNotice
from models.policy import viewer_for_user

SOURCE = "script:test"


def local(day: date, hour: int = 9) -> datetime:
    """`hour` o'clock in Beijing on `day`, as aware UTC."""
    return datetime.combine(day, time(hour), SHANGHAI).astimezone(UTC)


def end_of(day: date) -> datetime:
    """A response deadline: the end of `day` in Beijing."""
    return local(day + timedelta(days=1), 0)


async def published_item(demo, village=None, **extra) -> Disclosure:
    village = village or demo.villages[0]
    at = extra.pop("at", datetime.now(UTC))
    return await Disclosure.create(
        region=village,
        region_path=village.path,
        category=extra.pop("category", "VILLAGE_AFFAIRS"),
        title="修路工程决算公示",
        body="决算金额十二万元。",
        author=demo.users["CLERK"],
        status="PUBLISHED",
        version=1,
        first_published_at=at,
        published_at=at,
        **extra,
    )


async def flag_due(demo, item: Disclosure, due: date, phone: str) -> Flag:
    """A flag by a new villager, its deadline the end of `due`."""
    user = await User.create(
        phone=phone,
        name=f"村民{phone[-2:]}",
        password_hash="-",
        village=demo.villages[0],
        residency_verified_at=datetime.now(UTC),
    )
    flag = await submit_flag(
        await viewer_for_user(user, SOURCE),
        item.id,
        FlagReason.AMOUNT_QUESTIONED,
        "决算比预算多出两万元，没有说明原因。",
        anonymous=True,
        media_ids=[],
        response_days=5,
    )
    await Flag.filter(id=flag.id).update(due_at=end_of(due))
    return await Flag.get(id=flag.id)


async def events(kind: str) -> list[NotificationEvent]:
    return await NotificationEvent.filter(kind=kind).order_by("subject_id", "user_id")


# --- a working day before a flag is due ---

MONDAY = date(2026, 12, 14)
TUESDAY, WEDNESDAY, FRIDAY = (MONDAY + timedelta(days=n) for n in (1, 2, 4))
SATURDAY, NEXT_MONDAY = FRIDAY + timedelta(days=1), MONDAY + timedelta(days=7)


async def test_officials_are_reminded_a_working_day_before_once(app, demo):
    item = await published_item(demo)
    flag = await flag_due(demo, item, WEDNESDAY, "13900000011")
    assert await remind_flags_due(now=local(MONDAY)) == 0, "two working days left"
    assert await remind_flags_due(now=local(TUESDAY)) == 1
    assert await remind_flags_due(now=local(TUESDAY, 15)) == 0, "once"
    assert await remind_flags_due(now=local(WEDNESDAY)) == 0

    sent = await events("FLAG_DUE_SOON")
    assert [(e.user_id, e.subject_type, e.subject_id) for e in sent] == [
        (demo.users["OFFICIAL"].id, "Flag", flag.id)
    ], "the township's official only: not the clerk, the inspector or the flagger"
    assert sent[0].payload == {"due_at": flag.due_at.isoformat()}
    stored = await Flag.get(id=flag.id)
    assert stored.reminded_at == local(TUESDAY)
    audit = await AuditEntry.filter(action="flag.remind")
    assert [(a.object_type, a.object_id, a.region_id) for a in audit] == [
        ("Flag", str(flag.id), flag.region_id)
    ]
    assert audit[0].actor_id is None and audit[0].request_id == "job:remind_flags_due"


async def test_weekends_and_holidays_move_the_reminder(app, demo):
    item = await published_item(demo)
    monday_flag = await flag_due(demo, item, NEXT_MONDAY, "13900000012")
    assert await remind_flags_due(now=local(SATURDAY)) == 0, "nobody works on Saturday"
    assert await remind_flags_due(now=local(FRIDAY)) == 1, "Friday: Monday is next"
    assert [e.subject_id for e in await events("FLAG_DUE_SOON")] == [monday_flag.id]

    # Tuesday a holiday: a deadline on Wednesday is a working day away on Monday
    await Holiday.create(day=TUESDAY + timedelta(days=7), name="测试假日")
    wednesday_flag = await flag_due(demo, item, WEDNESDAY + timedelta(days=7), "13900000013")
    assert await remind_flags_due(now=local(NEXT_MONDAY)) == 1
    assert (await Flag.get(id=wednesday_flag.id)).reminded_at == local(NEXT_MONDAY)


async def test_answered_escalated_or_past_due_flags_are_not_reminded(app, demo):
    item = await published_item(demo)
    answered = await flag_due(demo, item, WEDNESDAY, "13900000014")
    official = await viewer_for_user(demo.users["OFFICIAL"], SOURCE)
    await accept_flag(official, answered.id, "已受理")
    escalated = await flag_due(demo, item, WEDNESDAY, "13900000015")
    await Flag.filter(id=escalated.id).update(escalated_at=local(MONDAY))
    await flag_due(demo, item, MONDAY, "13900000016")  # overdue by Tuesday: the county's
    assert await remind_flags_due(now=local(TUESDAY)) == 0
    assert await events("FLAG_DUE_SOON") == []


async def test_the_reminder_never_names_the_flagger(app, demo):
    item = await published_item(demo)
    flag = await flag_due(demo, item, WEDNESDAY, "13900000017")
    flagger = await User.get(id=flag.flagger_id)
    await remind_flags_due(now=local(TUESDAY))
    for event in await events("FLAG_DUE_SOON"):
        text = str(event.payload)
        assert flagger.name not in text and flagger.phone not in text
        assert str(flagger.id) not in text.replace(flag.due_at.isoformat(), "")
    audit = await AuditEntry.get(action="flag.remind")
    assert audit.actor_id is None and flagger.name not in str(audit.after)


async def test_a_reminder_that_fails_midway_is_sent_whole_by_the_retry(app, demo, monkeypatch):
    import models.flags.reminders as reminders

    item = await published_item(demo)
    flag = await flag_due(demo, item, WEDNESDAY, "13900000018")

    async def broken(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(reminders, "record_many", broken)
    with pytest.raises(RuntimeError):
        await remind_flags_due(now=local(TUESDAY))
    assert (await Flag.get(id=flag.id)).reminded_at is None, "the claim rolled back"
    assert await events("FLAG_DUE_SOON") == []
    monkeypatch.undo()
    assert await remind_flags_due(now=local(TUESDAY)) == 1
    assert len(await events("FLAG_DUE_SOON")) == 1


async def test_two_workers_reminding_at_once_remind_each_flag_once(app, demo):
    import asyncio

    item = await published_item(demo)
    for n in range(3):
        await flag_due(demo, item, WEDNESDAY, f"1390000002{n}")
    runs = await asyncio.gather(*(remind_flags_due(now=local(TUESDAY)) for _ in range(3)))
    assert sorted(runs) == [0, 0, 3]
    assert len(await events("FLAG_DUE_SOON")) == 3
    assert await AuditEntry.filter(action="flag.remind").count() == 3


# --- the monthly reminders ---

DEC_5, DEC_11 = date(2026, 12, 5), date(2026, 12, 11)


async def monthly_required() -> list[CatalogueItem]:
    return (await RequiredItems.load(frequency=Frequency.MONTHLY)).items


async def clerk_on(village, phone: str) -> User:
    user = await User.create(phone=phone, name=f"文书{phone[-2:]}", password_hash="-")
    await RoleGrant.create(user=user, role=Role.CLERK, region=village)
    return user


async def test_clerks_are_reminded_of_what_is_due_this_month_once(app, demo):
    required = await monthly_required()
    assert required, "the seeded catalogue has monthly items"
    first = required[0]
    # village 0 already published the first item for November; village 1 nothing
    await published_item(
        demo, catalogue_item_id=first.id, period="2026-11", at=local(date(2026, 12, 3))
    )
    second_clerk = await clerk_on(demo.villages[1], "13900000021")

    assert await remind_clerks(now=local(DEC_5)) == 2, "one per village that has clerks"
    assert await remind_clerks(now=local(DEC_5, 15)) == 0, "once per month"
    sent = {e.user_id: e for e in await events("CLERK_REMINDER")}
    assert set(sent) == {demo.users["CLERK"].id, second_clerk.id}
    own = sent[demo.users["CLERK"].id]
    assert (own.subject_type, own.subject_id) == ("Region", demo.villages[0].id)
    assert own.payload["month"] == "2026-12"
    assert [i["code"] for i in own.payload["items"]] == [i.code for i in required[1:]]
    assert {i["period"] for i in own.payload["items"]} == {"2026-11"}
    assert {i["status"] for i in own.payload["items"]} == {"PENDING"}
    other = sent[second_clerk.id].payload
    assert [i["name"] for i in other["items"]] == [i.name for i in required]
    assert other["count"] == len(required)

    audit = await AuditEntry.filter(action="notice.clerk_reminder").order_by("region_id")
    assert [(a.object_type, a.region_id) for a in audit] == [
        ("Region", demo.villages[0].id),
        ("Region", demo.villages[1].id),
    ]
    assert {a.request_id for a in audit} == {"job:remind_clerks"}
    assert audit[0].after == {"period": "2026-12", "count": len(required) - 1}
    # January: a new month, a new reminder (December's accounts are due then)
    assert await remind_clerks(now=local(date(2027, 1, 5))) == 2


async def test_a_village_that_published_everything_is_not_reminded(app, demo):
    for item in await monthly_required():
        await published_item(
            demo, catalogue_item_id=item.id, period="2026-11", at=local(date(2026, 12, 2))
        )
    assert await remind_clerks(now=local(DEC_5)) == 0
    assert await ScheduledNotice.all().count() == 0


async def test_townships_get_the_villages_that_missed_the_due_day(app, demo):
    required = await monthly_required()
    assert len(required) >= 2
    first = required[0]
    await published_item(
        demo, catalogue_item_id=first.id, period="2026-11", at=local(date(2026, 12, 9))
    )
    await published_item(  # after the 10th: late, but no longer missing
        demo,
        demo.villages[1],
        catalogue_item_id=first.id,
        period="2026-11",
        at=local(date(2026, 12, 11), 8),
    )
    assert await report_missing_items(now=local(DEC_5)) == 0, "nothing is missing yet"
    assert await report_missing_items(now=local(DEC_11)) == 1, "one township has an official"
    assert await report_missing_items(now=local(DEC_11, 18)) == 0, "once per month"

    [report] = await events("MISSING_ITEMS_REPORT")
    assert report.user_id == demo.users["OFFICIAL"].id
    assert (report.subject_type, report.subject_id) == ("Region", demo.townships[0].id)
    below = [v for v in demo.villages if v.parent_id == demo.townships[0].id]
    villages = report.payload["villages"]
    assert [v["name"] for v in villages] == [v.name for v in below]
    for published in villages[:2]:
        assert published["missing"] == len(required) - 1
        assert [i["code"] for i in published["items"]] == [i.code for i in required[1:]]
    assert all(v["missing"] == len(required) for v in villages[2:])
    assert {i["status"] for v in villages for i in v["items"]} == {"MISSING"}
    assert report.payload["villages_missing"] == len(below)
    assert report.payload["items_missing"] == sum(v["missing"] for v in villages)
    audit = await AuditEntry.get(action="notice.missing_items_report")
    assert audit.request_id == "job:report_missing_items"
    assert (audit.object_type, audit.region_id) == ("Region", demo.townships[0].id)


async def test_a_concurrent_run_loses_the_claim_and_changes_nothing(app, demo):
    """Two workers run the same report: the unique claim lets one commit it."""
    import asyncio

    await clerk_on(demo.villages[1], "13900000022")
    results = await asyncio.gather(
        remind_clerks(now=local(DEC_5)), remind_clerks(now=local(DEC_5)), return_exceptions=True
    )
    assert sorted(r for r in results if isinstance(r, int)) == [0, 2]
    assert await ScheduledNotice.filter(kind="CLERK_REMINDER").count() == 2
    assert len(await events("CLERK_REMINDER")) == 2
