"""Must-read notices over the API: a county's notice reaches every village below it and no
other, once; it leaves the feeds when it expires but stays readable; residents acknowledge
it; the publishing officials count who did per village and see who did not; those who did
not are sent it again by SMS after some days, once. Each role's forbidden steps, and the
attempts to learn more than one may (a draft's existence, residents' names)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from api.relay import from_global_id
from api.settings import Settings
from models.accounts import User
from models.accounts.auth import Passwords
from models.accounts.operations import create_user, verify_residency
from models.accounts.viewer_cache import viewer_changed
from models.audit import AuditEntry
from models.deliveries import Delivery, WechatBinding
from models.disclosures import Disclosure, NoticeAck, NoticeReminder
from models.disclosures.notices import resend_must_read
from models.disclosures.periods import SHANGHAI
from models.jobs import Job
from models.notifications import NotificationEvent, NotificationPreference
from models.policy import Viewer
from tests.client import CREATE_REGION, REGISTER, error_codes
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    _clerk_elsewhere,
    draft,
    gid,
    published,
    step,
)
from tests.test_fanout import run_jobs
from tests.test_jobs import MovableClock, root_admin

PASSWORD = "notice-reader-2026"
ACK = """mutation($input: AcknowledgeNoticeInput!) { acknowledgeNotice(input: $input) {
  disclosure { id mustRead acknowledgedByMe acknowledgedAt } errors { code field } } }"""
STATS = """query($id: ID!, $village: ID) { noticeReadStats(id: $id, villageId: $village) {
  notice { id title } residents acknowledged
  villages { village { id name } residents acknowledged notAcknowledgedCount
    notAcknowledged } } }"""
MINE = """query($first: Int, $after: String) { myMustReadNotices(first: $first, after: $after) {
  edges { node { id title acknowledgedByMe region { name } } }
  pageInfo { hasNextPage endCursor } } }"""
FEED = """query($region: ID, $search: String, $archive: Boolean) {
  disclosures(regionId: $region, search: $search, includeExpired: $archive) {
    edges { node { id title acknowledgedByMe } } } }"""
FOLLOWING = "{ following { edges { node { id } } } }"
ONE = "query($id: ID!) { disclosure(id: $id) { id title expiresAt acknowledgedByMe } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Disclosure { title } } }"
FOLLOW = """mutation($input: FollowRegionInput!) { followRegion(input: $input) {
  following errors { code } } }"""
INBOX = "{ notifications { edges { node { kind text target { id } } } } }"
UPDATE_PREFS = """mutation($input: UpdateNotificationPreferencesInput!) {
  updateNotificationPreferences(input: $input) { errors { code field } } }"""


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def settings(settings: Settings, clock: MovableClock, request) -> Settings:
    """The movable clock everywhere; the scheduler and a worker for the test that says so."""
    jobs = "running_scheduler" in request.node.name
    return settings.with_overrides(
        jobs=jobs,
        clock=clock,
        job_poll_seconds=0.02,
        job_lease_seconds=5.0,
        job_backoff_seconds=0.02,
        job_stop_grace_seconds=0.5,
        scheduler_wakeup_seconds=0.05,
    )


def pk(global_id: str) -> int:
    return int(from_global_id(global_id)[1])


def reason(body: dict) -> str:
    return body["errors"][0]["extensions"]["reason"]


async def person(
    settings: Settings, phone: str, name: str, village, *, verified=True, sms=False
) -> User:
    """A resident made by the system (fast); `sms`: their phone is verified."""
    user = await create_user(
        Viewer.for_system("test"),
        Passwords(settings.auth),
        phone=phone,
        password=PASSWORD,
        name=name,
        village_id=village.id,
    )
    if verified:
        user = await verify_residency(Viewer.for_system("test"), user.id)
    if sms:
        await User.filter(id=user.id).update(phone_verified_at=datetime.now(UTC))
    return user


async def county_notice(gql, demo, **extra) -> dict:
    admin = await gql.login(ADMIN)
    return await published(
        gql,
        admin,
        demo.county,
        category="NOTICE",
        title="关于冬季森林防火的紧急通知",
        body="即日起禁止野外用火，发现火情请拨打12119。",
        mustRead=True,
        **extra,
    )


async def ack(gql, token, notice_id):
    return await gql(ACK, {"input": {"id": notice_id}}, token=token)


async def other_county(gql, settings) -> tuple[str, str]:
    """A second county with one township and village, made through the admin API, and a
    verified villager there: (the village's id, the villager's token)."""
    root = await root_admin(gql, settings)
    made = {}
    parent = None
    for kind, name, code in (
        ("COUNTY", "远山县", "990109000000"),
        ("TOWNSHIP", "远山镇", "990109101000"),
        ("VILLAGE", "远山村", "990109101201"),
    ):
        data = {"kind": kind, "name": name, "code": code}
        if parent:
            data["parentId"] = parent
        out = await gql.mutate("createRegion", CREATE_REGION, data, token=root)
        assert out["errors"] == [], out
        parent = made[kind] = out["region"]["id"]
    reg = await gql.mutate(
        "register",
        REGISTER,
        {"phone": "13977770001", "password": PASSWORD, "name": "远山 村民", "villageId": parent},
    )
    verify = """mutation($input: VerifyResidencyInput!) { verifyResidency(input: $input) {
      errors { code } } }"""
    out = await gql.mutate("verifyResidency", verify, {"userId": reg["user"]["id"]}, token=root)
    assert out["errors"] == []
    return made["VILLAGE"], await gql.login("13977770001", PASSWORD)


async def test_a_county_notice_reaches_every_village_below_once_and_expires_from_feeds(
    gql, demo, settings, clock
):
    far_village, far_villager = await other_county(gql, settings)
    expires = clock() + timedelta(days=10)
    notice = await county_notice(gql, demo, expiresAt=expires.isoformat())
    assert notice["mustRead"] is True
    # one record on the county, not a copy per village
    assert await Disclosure.filter(title=notice["title"]).count() == 1
    for village in demo.villages:
        feed = await gql.data(FEED, {"region": gid("Region", village.id)})
        assert [e["node"]["id"] for e in feed["disclosures"]["edges"]] == [notice["id"]]
    for region in [demo.county, *demo.townships]:
        feed = await gql.data(FEED, {"region": gid("Region", region.id)})
        assert [e["node"]["id"] for e in feed["disclosures"]["edges"]] == [notice["id"]]
    elsewhere = await gql.data(FEED, {"region": far_village})
    assert elsewhere["disclosures"]["edges"] == []
    # nor does the other county's villager find it among their own notices to read
    assert (await gql.data(MINE, token=far_villager))["myMustReadNotices"]["edges"] == []

    villager = await gql.login(VILLAGER)
    await gql.mutate(
        "followRegion", FOLLOW, {"regionId": gid("Region", demo.townships[0].id)}, token=villager
    )
    mine = (await gql.data(MINE, token=villager))["myMustReadNotices"]["edges"]
    assert [(e["node"]["id"], e["node"]["acknowledgedByMe"]) for e in mine] == [
        (notice["id"], False)
    ]
    found = await gql.data(FEED, {"search": "防火"})
    assert [e["node"]["id"] for e in found["disclosures"]["edges"]] == [notice["id"]]
    following = await gql.data(FOLLOWING, token=villager)
    assert [e["node"]["id"] for e in following["following"]["edges"]] == [notice["id"]]

    # expired: out of every feed, the search and my notices to read; readable by id
    clock.move(timedelta(days=10, minutes=1))
    village = gid("Region", demo.villages[0].id)
    for query, variables, token in (
        (FEED, {"region": village}, None),
        (FEED, {"region": gid("Region", demo.county.id)}, None),
        (FEED, {}, None),
        (FEED, {"search": "防火"}, None),
        (FEED, {"search": "防火", "region": village}, None),
        (FEED, {"region": village}, villager),
    ):
        assert (await gql.data(query, variables, token=token))["disclosures"]["edges"] == []
    assert (await gql.data(FOLLOWING, token=villager))["following"]["edges"] == []
    assert (await gql.data(MINE, token=villager))["myMustReadNotices"]["edges"] == []
    one = (await gql.data(ONE, {"id": notice["id"]}))["disclosure"]
    assert one["id"] == notice["id"] and one["expiresAt"] is not None
    assert (await gql.data(NODE, {"id": notice["id"]}))["node"]["id"] == notice["id"]
    archive = await gql.data(FEED, {"region": village, "archive": True})
    assert [e["node"]["id"] for e in archive["disclosures"]["edges"]] == [notice["id"]]
    # an expired notice can still be acknowledged by whoever had not yet
    out = await ack(gql, villager, notice["id"])
    assert out["data"]["acknowledgeNotice"]["errors"] == []


async def test_search_pages_read_on_past_expired_notices(gql, demo, clock):
    """A page thinned out by expired hits still fills and says more follow."""
    admin = await gql.login(ADMIN)
    soon = (clock() + timedelta(hours=1)).isoformat()
    kept = []
    for n in range(3):
        kept.append(
            await published(
                gql, admin, demo.county, category="NOTICE", title=f"秋收安排通知{n}", body="。"
            )
        )
    for n in range(4):
        await published(
            gql,
            admin,
            demo.county,
            category="NOTICE",
            title=f"秋收临时通知{n}",
            body="。",
            expiresAt=soon,
        )
    clock.move(timedelta(hours=2))
    query = """query($after: String) { disclosures(search: "秋收", first: 2, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = (await gql.data(query, {"after": after}))["disclosures"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(d["id"] for d in kept)


async def test_acknowledgements_are_counted_per_village_with_who_has_not(
    gql, demo, settings, clock
):
    notice = await county_notice(gql, demo)
    home, second, far = demo.villages[0], demo.villages[1], demo.villages[5]
    await person(settings, "13966660001", "王小二", home)
    await person(settings, "13966660002", "李四", second)
    await person(settings, "13966660003", "周五", second)
    await person(settings, "13966660004", "未核实", home, verified=False)
    gone = await person(settings, "13966660005", "停用者", far)
    await User.filter(id=gone.id).update(is_active=False)

    villager = await gql.login(VILLAGER)
    for _ in range(2):  # idempotent: the second changes nothing, no second audit entry
        out = (await ack(gql, villager, notice["id"]))["data"]["acknowledgeNotice"]
        assert out["errors"] == [] and out["disclosure"]["acknowledgedByMe"] is True
    first_at = out["disclosure"]["acknowledgedAt"]
    assert first_at is not None
    assert await NoticeAck.filter(disclosure_id=pk(notice["id"])).count() == 1
    entries = await AuditEntry.filter(action="notice.acknowledge")
    assert len(entries) == 1 and entries[0].region_id == home.id
    li = await gql.login("13966660002", PASSWORD)
    assert (await ack(gql, li, notice["id"]))["data"]["acknowledgeNotice"]["errors"] == []
    # the feed tells each reader whether they acknowledged, batched for the page
    feed = await gql.data(FEED, {"region": gid("Region", home.id)}, token=villager)
    assert feed["disclosures"]["edges"][0]["node"]["acknowledgedByMe"] is True
    assert (await gql.data(MINE, token=villager))["myMustReadNotices"]["edges"] == []

    stats = (await gql.data(STATS, {"id": notice["id"]}, token=await gql.login(ADMIN)))[
        "noticeReadStats"
    ]
    rows = {r["village"]["name"]: r for r in stats["villages"]}
    assert len(rows) == len(demo.villages)  # every village below, those without residents too
    assert rows[home.name] == {
        "village": {"id": gid("Region", home.id), "name": home.name},
        "residents": 4,  # the clerk, the supervisor, the villager, 王小二 (not the unverified)
        "acknowledged": 1,
        "notAcknowledgedCount": 3,
        "notAcknowledged": sorted(["村文书 刘芳", "监委会 陈刚", "王小二"]),
    }
    assert rows[second.name]["residents"] == 2 and rows[second.name]["acknowledged"] == 1
    assert rows[second.name]["notAcknowledged"] == ["周五"]
    assert rows[far.name]["residents"] == 0  # the disabled account does not count
    assert (stats["residents"], stats["acknowledged"]) == (6, 2)

    # the inspector sees it all; the clerk only their own village, and not another's
    inspector = await gql.data(STATS, {"id": notice["id"]}, token=await gql.login(INSPECTOR))
    assert inspector["noticeReadStats"]["residents"] == 6
    clerk = await gql.login(CLERK)
    own = (await gql.data(STATS, {"id": notice["id"]}, token=clerk))["noticeReadStats"]
    assert [r["village"]["name"] for r in own["villages"]] == [home.name]
    assert (own["residents"], own["acknowledged"]) == (4, 1)
    one = await gql.data(
        STATS, {"id": notice["id"], "village": gid("Region", home.id)}, token=clerk
    )
    assert one["noticeReadStats"]["villages"][0]["notAcknowledgedCount"] == 3
    other = await gql(STATS, {"id": notice["id"], "village": gid("Region", second.id)}, token=clerk)
    assert error_codes(other) == ["FORBIDDEN"] and reason(other) == "OUTSIDE_REGION"


async def test_who_may_not_acknowledge_or_read_the_counts(gql, demo, settings):
    notice = await county_notice(gql, demo)
    _, far_villager = await other_county(gql, settings)
    refused = await ack(gql, far_villager, notice["id"])
    assert error_codes(refused) == ["FORBIDDEN"] and reason(refused) == "NOTICE_RESIDENTS_ONLY"
    await person(settings, "13966660010", "新来的", demo.villages[0], verified=False)
    unverified = await ack(gql, await gql.login("13966660010", PASSWORD), notice["id"])
    assert reason(unverified) == "RESIDENCY_NOT_VERIFIED"
    assert error_codes(await ack(gql, None, notice["id"])) == ["UNAUTHENTICATED"]
    # an official, admin or inspector holds no home village: they are not residents
    no_home = await ack(gql, await gql.login(OFFICIAL), notice["id"])
    assert reason(no_home) == "NOTICE_RESIDENTS_ONLY"
    assert await NoticeAck.all().count() == 0
    assert not await AuditEntry.filter(action="notice.acknowledge").exists()

    # the counts: not villagers, supervisors, nor anyone signed out; a township official
    # below a county notice sees the villages of their own township only
    own_township = await gql.data(STATS, {"id": notice["id"]}, token=await gql.login(OFFICIAL))
    below = {v["village"]["id"] for v in own_township["noticeReadStats"]["villages"]}
    assert len(below) == 4 and gid("Region", demo.villages[0].id) in below
    for phone, why in (
        (VILLAGER, "NOTICE_STATS_READERS_ONLY"),
        (SUPERVISOR, "NOTICE_STATS_READERS_ONLY"),
    ):
        body = await gql(STATS, {"id": notice["id"]}, token=await gql.login(phone))
        assert error_codes(body) == ["FORBIDDEN"] and reason(body) == why, phone
    assert error_codes(await gql(STATS, {"id": notice["id"]})) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(STATS, {"id": notice["id"]}, token=far_villager)) == ["FORBIDDEN"]

    # a township's notice: its own official reads the counts, another township's may not
    official = await gql.login(OFFICIAL)
    township_notice = await published(
        gql, official, demo.townships[0], category="NOTICE", title="秋收通知", mustRead=True
    )
    ok = await gql.data(STATS, {"id": township_notice["id"]}, token=official)
    assert len(ok["noticeReadStats"]["villages"]) == 4
    other = await other_official(gql, demo, settings)
    body = await gql(STATS, {"id": township_notice["id"]}, token=other)
    assert error_codes(body) == ["FORBIDDEN"] and reason(body) == "OUTSIDE_REGION"
    # nor a clerk of a village in another township
    elsewhere = await _clerk_elsewhere(gql, demo)
    body = await gql(STATS, {"id": township_notice["id"]}, token=elsewhere)
    assert error_codes(body) == ["FORBIDDEN"] and reason(body) == "OUTSIDE_REGION"


async def other_official(gql, demo, settings) -> str:
    """An official of the second township."""
    from tests.test_disclosures import _grant

    await person(settings, "13966660020", "南岭 干部", demo.villages[4])
    await _grant(gql, demo, "13966660020", "OFFICIAL", demo.townships[1])
    return await gql.login("13966660020", PASSWORD)


async def test_bad_acknowledgements_give_codes_and_change_nothing(gql, demo):
    villager, clerk = await gql.login(VILLAGER), await gql.login(CLERK)
    official, admin = await gql.login(OFFICIAL), await gql.login(ADMIN)
    home = demo.villages[0]
    plain = await published(gql, official, demo.townships[0], category="NOTICE", title="一般通知")
    finance = await draft(gql, clerk, home, category="FINANCE", title="十月财务收支")
    supervisor = await gql.login(SUPERVISOR)
    for name, token in (("Submit", clerk), ("Approve", supervisor), ("Publish", clerk)):
        assert (await step(gql, f"{name}Disclosure", token, id=finance["id"]))["errors"] == []
    retracted = await published(
        gql, official, demo.townships[0], category="NOTICE", title="作废通知", mustRead=True
    )
    out = await step(gql, "RetractDisclosure", official, id=retracted["id"], reason="发错了")
    assert out["errors"] == []
    county_draft = await draft(
        gql, admin, demo.county, category="NOTICE", title="未发布的通知", mustRead=True
    )
    village_draft = await draft(
        gql, clerk, home, category="NOTICE", title="本村草稿通知", mustRead=True
    )
    missing = gid("Disclosure", 999_999)

    async def codes(token, notice_id):
        payload = (await ack(gql, token, notice_id))["data"]["acknowledgeNotice"]
        assert payload["disclosure"] is None
        return [(e["code"], e["field"]) for e in payload["errors"]]

    assert await codes(villager, plain["id"]) == [("NOT_MUST_READ", "id")]
    assert await codes(villager, finance["id"]) == [("NOT_MUST_READ", "id")]
    assert await codes(villager, retracted["id"]) == [("NOTICE_NOT_PUBLISHED", "id")]
    # a draft answers like an id that does not exist: nobody learns it is there
    assert await codes(villager, county_draft["id"]) == await codes(villager, missing)
    assert await codes(villager, missing) == [("NOT_FOUND", "id")]
    assert await codes(villager, village_draft["id"]) == [("NOT_FOUND", "id")]
    # the clerk may see their village's draft: it is not published yet
    assert await codes(clerk, village_draft["id"]) == [("NOTICE_NOT_PUBLISHED", "id")]
    wrong = (await ack(gql, villager, gid("Region", home.id)))["data"]["acknowledgeNotice"]
    assert [e["code"] for e in wrong["errors"]] == ["WRONG_KIND"]
    assert await NoticeAck.all().count() == 0
    assert not await AuditEntry.filter(action="notice.acknowledge").exists()

    # the counts of a draft: not found to whoever may not see it, nothing to count else
    body = await gql(STATS, {"id": village_draft["id"]}, token=villager)
    assert error_codes(body) == ["NOT_FOUND"]
    body = await gql(STATS, {"id": village_draft["id"]}, token=await gql.login(INSPECTOR))
    assert error_codes(body) == ["BAD_USER_INPUT"]  # staff who see the draft: nothing yet
    hidden = await gql(STATS, {"id": county_draft["id"]}, token=official)
    assert error_codes(hidden) == error_codes(await gql(STATS, {"id": missing}, token=official))
    assert error_codes(hidden) == ["NOT_FOUND"]
    own_draft = await gql(STATS, {"id": county_draft["id"]}, token=admin)
    assert error_codes(own_draft) == ["BAD_USER_INPUT"]
    assert error_codes(await gql(STATS, {"id": plain["id"]}, token=official)) == ["BAD_USER_INPUT"]


async def test_a_resident_who_moves_counts_where_they_live_now(gql, demo, settings):
    official = await gql.login(OFFICIAL)
    notice = await published(
        gql, official, demo.townships[0], category="NOTICE", title="秋季征兵通知", mustRead=True
    )
    mover = await person(settings, "13966660030", "搬家的", demo.villages[0])
    token = await gql.login("13966660030", PASSWORD)
    assert (await ack(gql, token, notice["id"]))["data"]["acknowledgeNotice"]["errors"] == []
    # moved within the township: counted as having read it in the new village
    # (no operation moves a villager yet: a raw change of the row signals it itself)
    await User.filter(id=mover.id).update(village_id=demo.villages[1].id)
    await viewer_changed(mover.id)
    stats = (await gql.data(STATS, {"id": notice["id"]}, token=official))["noticeReadStats"]
    rows = {r["village"]["name"]: r for r in stats["villages"]}
    assert rows[demo.villages[1].name]["acknowledged"] == 1
    assert rows[demo.villages[0].name]["acknowledged"] == 0
    # moved out of the township: counted nowhere below it, no longer acknowledging it
    await User.filter(id=mover.id).update(village_id=demo.villages[5].id)
    await viewer_changed(mover.id)
    stats = (await gql.data(STATS, {"id": notice["id"]}, token=official))["noticeReadStats"]
    assert stats["acknowledged"] == 0
    assert reason(await ack(gql, token, notice["id"])) == "NOTICE_RESIDENTS_ONLY"
    assert (await gql.data(MINE, token=token))["myMustReadNotices"]["edges"] == []
    # the acknowledgement keeps the village they lived in then
    assert (await NoticeAck.get(user_id=mover.id)).village_id == demo.villages[0].id


async def sms_jobs(users: list[User]) -> list[tuple[int, str]]:
    ids = {u.id for u in users}
    return sorted(
        (j.payload["user_id"], j.payload["channel"])
        for j in await Job.filter(kind="deliver")
        if j.payload["user_id"] in ids
    )


async def test_a_must_read_notice_is_sent_again_by_sms_once_after_n_days(gql, demo, settings):
    official = await gql.login(OFFICIAL)
    home = demo.villages[0]
    read = await person(settings, "13955550001", "已读者", home, sms=True)
    owed = await person(settings, "13955550002", "未读者", home, sms=True)
    opted_out = await person(settings, "13955550003", "不要短信", home, sms=True)
    no_phone = await person(settings, "13955550004", "没验证手机", home)
    elsewhere = await person(settings, "13955550005", "外乡人", demo.villages[5], sms=True)
    mine = [read, owed, opted_out, no_phone, elsewhere]
    await WechatBinding.create(user_id=owed.id, openid="o-owed", created_at=datetime.now(UTC))
    off = {"categories": [{"category": "NOTICES", "sms": "OFF"}]}
    token = await gql.login("13955550003", PASSWORD)
    assert (await gql.mutate("updateNotificationPreferences", UPDATE_PREFS, off, token=token))[
        "errors"
    ] == []
    notice = await published(
        gql, official, demo.townships[0], category="NOTICE", title="春耕补贴申报通知", mustRead=True
    )
    token = await gql.login("13955550001", PASSWORD)
    assert (await ack(gql, token, notice["id"]))["data"]["acknowledgeNotice"]["errors"] == []
    await run_jobs("notify_dispatch")  # the first publication's MUST_READ_NOTICE
    await Job.filter(kind="deliver").delete()

    now = datetime.now(UTC)
    days = settings.notice_resend_days
    assert await resend_must_read(now=now + timedelta(days=days - 1), days=days) == 0
    later = now + timedelta(days=days, hours=1)
    # two runs at once (two schedulers, a retried job) remind each person once
    runs = await asyncio.gather(*(resend_must_read(now=later, days=days) for _ in range(2)))
    reminded = set(
        await NoticeReminder.filter(disclosure_id=pk(notice["id"])).values_list(
            "user_id", flat=True
        )
    )
    assert sum(runs) == len(reminded)
    assert reminded & {u.id for u in mine} == {owed.id, opted_out.id}
    await run_jobs("notify_dispatch", later)
    # by SMS at once (not WeChat), not to who turned SMS off for notices
    assert await sms_jobs(mine) == [(owed.id, "SMS")]
    events = await NotificationEvent.filter(kind="MUST_READ_REMINDER", user_id__in=[owed.id])
    assert len(events) == 1 and events[0].payload == {"urgent": True}
    inbox = await gql.data(INBOX, token=await gql.login("13955550003", PASSWORD))
    texts = {e["node"]["kind"]: e["node"]["text"] for e in inbox["notifications"]["edges"]}
    assert texts["MUST_READ_REMINDER"] == "您还有一条必读通知未确认已读，请打开查看"
    entries = await AuditEntry.filter(action="notice.resend")
    assert len(entries) == 1 and entries[0].request_id == "job:resend_must_read_notices"

    # a second run, the next day too, sends nothing more
    assert await resend_must_read(now=later, days=days) == 0
    assert await resend_must_read(now=later + timedelta(days=1), days=days) == 0
    await run_jobs("notify_dispatch", later)
    assert await sms_jobs(mine) == [(owed.id, "SMS")]
    assert await NotificationEvent.filter(kind="MUST_READ_REMINDER", user_id=owed.id).count() == 1
    assert await AuditEntry.filter(action="notice.resend").count() == 1


async def test_the_running_scheduler_resends_at_ten_in_beijing(gql, demo, settings, clock):
    await User.all().update(phone_verified_at=None)  # the demo verifies every phone
    owed = await person(settings, "13955550011", "等短信", demo.villages[0], sms=True)
    await NotificationPreference.create(user_id=owed.id, category="NOTICES", wechat="OFF")
    official = await gql.login(OFFICIAL)
    await published(
        gql, official, demo.townships[0], category="NOTICE", title="防汛紧急通知", mustRead=True
    )
    local = clock().astimezone(SHANGHAI)
    ten = local.replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=3)
    if ten - local < timedelta(days=3):
        ten += timedelta(days=1)
    clock.move(ten - local + timedelta(minutes=1))
    for _ in range(400):
        sent = await Delivery.filter(user_id=owed.id, channel="SMS", status="SENT").count()
        if sent >= 2:
            break
        await asyncio.sleep(0.02)
    # the first publication's message, then the reminder: two SMS, once each
    rows = await Delivery.filter(user_id=owed.id).order_by("id")
    assert [(r.channel, r.status) for r in rows] == [("SMS", "SENT"), ("SMS", "SENT")]
    assert await NoticeReminder.filter(user_id=owed.id).count() == 1
