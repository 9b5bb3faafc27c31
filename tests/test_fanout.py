"""Who hears about what, and when: follows, preferences, the fan-out of a published
disclosure, routing to SMS/WeChat deliveries and the evening digest — through the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.jobs.periodic import register_handlers
from api.relay import to_global_id
from api.settings import Settings
from models.accounts import User
from models.accounts.auth import Passwords
from models.accounts.operations import create_user, verify_residency
from models.audit import AuditEntry
from models.disclosures import Follow
from models.disclosures.publishing import publish_due
from models.jobs import Job, JobStatus
from models.jobs.handlers import HANDLERS, JobContext
from models.notifications import DigestRun, NotificationEvent, NotificationPreference
from models.policy import Viewer
from notifications.digest import send_digests
from notifications.events import notify
from notifications.fanout import announce_retraction, fan_out
from tests.client import REGISTER, error_codes
from tests.test_accounts import register_input
from tests.test_disclosures import CLERK, VILLAGER, draft, gid, published, step
from tests.test_jobs import MovableClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICIAL = "13800000003"
FOLLOWS = """query($first: Int, $after: String) { myFollows(first: $first, after: $after) {
  edges { node { followedAt region { id name } } } pageInfo { hasNextPage endCursor } } }"""
FOLLOW = """mutation($input: FollowRegionInput!) { %s(input: $input) {
  following region { id } errors { code field } } }"""
PREFS = """{ notificationPreferences { categories { category kinds sms wechat customized }
  mutedDisclosureCategories digestTime } }"""
UPDATE = """mutation($input: UpdateNotificationPreferencesInput!) {
  updateNotificationPreferences(input: $input) { preferences {
    categories { category sms wechat customized } mutedDisclosureCategories }
    errors { code field } } }"""
INBOX = """{ notifications { edges { node { kind text target { id } } } } }"""


async def run_jobs(kind: str, now: datetime | None = None) -> int:
    """Run the queued jobs of one kind as a worker would (handler, then acknowledged)."""
    register_handlers()
    now = now or datetime.now(UTC)
    ran = 0
    for job in await Job.filter(kind=kind, status=JobStatus.QUEUED).order_by("id"):
        ctx = JobContext(
            job.id, kind, job.payload, 1, now, lambda: now, Viewer.for_system(f"job:{kind}"), None
        )
        await HANDLERS[kind](ctx)
        await Job.filter(id=job.id).update(status=JobStatus.DONE, unique_key=None)
        ran += 1
    return ran


async def person(settings: Settings, phone: str, village, *, resident: bool) -> User:
    user = await create_user(
        Viewer.for_system("test"),
        Passwords(settings.auth),
        phone=phone,
        password="river-stone-42",
        name="村民 某",
        village_id=village.id,
    )
    if resident:
        user = await verify_residency(Viewer.for_system("test"), user.id)
    return user


async def kinds(gql, phone: str, password: str = "river-stone-42") -> list[str]:
    token = await gql.login(phone, password)
    return [
        e["node"]["kind"] for e in (await gql.data(INBOX, token=token))["notifications"]["edges"]
    ]


async def test_registering_follows_the_home_village_and_follows_are_ones_own(gql, demo):
    reg = await gql.mutate("register", REGISTER, register_input(demo))
    token = reg["accessToken"]
    home = to_global_id("Region", demo.villages[1].id)
    page = (await gql.data(FOLLOWS, token=token))["myFollows"]
    assert [e["node"]["region"]["id"] for e in page["edges"]] == [home]

    township = gid("Region", demo.townships[0].id)
    for _ in range(2):  # idempotent: the second changes nothing and writes no entry
        out = await gql.mutate(
            "followRegion", FOLLOW % "followRegion", {"regionId": township}, token=token
        )
        assert out == {"following": True, "region": {"id": township}, "errors": []}
    assert await AuditEntry.filter(action="region.follow").count() == 1
    # whom one follows is private: no region, so the region's own staff do not list it
    assert await AuditEntry.filter(action="region.follow", region_id__isnull=False).count() == 0
    page = (await gql.data(FOLLOWS, {"first": 1}, token=token))["myFollows"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql.data(FOLLOWS, {"after": page["pageInfo"]["endCursor"]}, token=token)
    assert [e["node"]["region"]["id"] for e in rest["myFollows"]["edges"]] == [township]

    # another user's follows are not theirs to see: each reads only their own
    villager = await gql.login(VILLAGER)
    assert (await gql.data(FOLLOWS, token=villager))["myFollows"]["edges"] == []

    for _ in range(2):
        out = await gql.mutate(
            "unfollowRegion", FOLLOW % "unfollowRegion", {"regionId": township}, token=token
        )
        assert out["following"] is False and out["errors"] == []
    assert await AuditEntry.filter(action="region.unfollow").count() == 1
    missing = await gql.mutate(
        "followRegion", FOLLOW % "followRegion", {"regionId": gid("Region", 999999)}, token=token
    )
    assert missing["errors"] == [{"code": "NOT_FOUND", "field": "regionId"}]
    bad = await gql.mutate(
        "followRegion", FOLLOW % "followRegion", {"regionId": "xyz"}, token=token
    )
    assert bad["errors"][0]["field"] == "regionId" and bad["following"] is False
    assert error_codes(await gql(FOLLOWS)) == ["UNAUTHENTICATED"]
    body = await gql(FOLLOW % "followRegion", {"input": {"regionId": township}})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_preferences_default_update_all_or_nothing_and_stay_ones_own(gql, demo):
    villager = await gql.login(VILLAGER)
    data = (await gql.data(PREFS, token=villager))["notificationPreferences"]
    modes = {c["category"]: (c["sms"], c["wechat"], c["customized"]) for c in data["categories"]}
    assert modes == {
        "MY_FLAGS": ("IMMEDIATE", "IMMEDIATE", False),
        "REPLIES": ("IMMEDIATE", "IMMEDIATE", False),
        "NEW_DISCLOSURES": ("DIGEST", "DIGEST", False),
        "WORK": ("IMMEDIATE", "IMMEDIATE", False),
        "NOTICES": ("IMMEDIATE", "IMMEDIATE", False),
    }
    assert data["mutedDisclosureCategories"] == [] and data["digestTime"] == "20:00 Asia/Shanghai"
    assert "FLAG_ASSIGNED" in next(
        c["kinds"] for c in data["categories"] if c["category"] == "WORK"
    )

    change = {
        "categories": [{"category": "NEW_DISCLOSURES", "sms": "OFF"}],
        "mutedDisclosureCategories": ["PARTY", "FINANCE"],
    }
    out = await gql.mutate("updateNotificationPreferences", UPDATE, change, token=villager)
    assert out["errors"] == []
    got = {c["category"]: c for c in out["preferences"]["categories"]}
    assert got["NEW_DISCLOSURES"] == {
        "category": "NEW_DISCLOSURES",
        "sms": "OFF",
        "wechat": "DIGEST",
        "customized": True,
    }
    assert out["preferences"]["mutedDisclosureCategories"] == ["FINANCE", "PARTY"]
    assert await AuditEntry.filter(action="notification.preferences").count() == 1

    # bad input: errors with codes, nothing changed, nothing logged
    before = await gql.data(PREFS, token=villager)
    for bad, expected in [
        (
            {"categories": [{"category": "WORK", "sms": "OFF"}, {"category": "WORK"}]},
            [{"code": "DUPLICATE_ENTRY", "field": "categories.1.category"}],
        ),
        ({}, [{"code": "REQUIRED", "field": "categories"}]),
        (
            {"mutedDisclosureCategories": ["FARMING", "FARMING"]},
            [{"code": "DUPLICATE_ENTRY", "field": "mutedDisclosureCategories"}],
        ),
    ]:
        refused = await gql.mutate("updateNotificationPreferences", UPDATE, bad, token=villager)
        assert refused["errors"] == expected and refused["preferences"] is None
    body = await gql(UPDATE, {"input": {"categories": [{"category": "LOUD"}]}}, token=villager)
    assert "errors" in body  # not an enum value: refused before any code runs
    assert await gql.data(PREFS, token=villager) == before
    assert await AuditEntry.filter(action="notification.preferences").count() == 1

    # back to the default: no row stays; muting nothing clears the mutes
    reset = {
        "categories": [{"category": "NEW_DISCLOSURES", "sms": "DIGEST"}],
        "mutedDisclosureCategories": [],
    }
    out = await gql.mutate("updateNotificationPreferences", UPDATE, reset, token=villager)
    assert all(not c["customized"] for c in out["preferences"]["categories"])
    assert await NotificationPreference.filter(user_id=demo.users["VILLAGER"].id).count() == 0

    # one user's change is nobody else's: the clerk still has the defaults
    await gql.mutate("updateNotificationPreferences", UPDATE, change, token=villager)
    clerk = (await gql.data(PREFS, token=await gql.login(CLERK)))["notificationPreferences"]
    assert clerk["mutedDisclosureCategories"] == []
    assert not any(c["customized"] for c in clerk["categories"])
    assert error_codes(await gql(PREFS)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(UPDATE, {"input": change})) == ["UNAUTHENTICATED"]


@pytest.fixture
async def audience(settings, demo):
    """Around village 0: a follower of its township living elsewhere, an unverified resident,
    a verified resident of another village, and the demo villager (a verified resident)."""
    home, other = demo.villages[0], demo.villages[5]
    follower = await person(settings, "13911110001", other, resident=False)
    await Follow.create(user_id=follower.id, region_id=demo.townships[0].id)
    unverified = await person(settings, "13911110002", home, resident=False)
    elsewhere = await person(settings, "13911110003", other, resident=True)
    return {"follower": follower, "unverified": unverified, "elsewhere": elsewhere}


async def test_a_published_disclosure_reaches_residents_and_followers_once(gql, demo, audience):
    villager = await gql.login(VILLAGER)
    mute = {"mutedDisclosureCategories": ["FINANCE"]}
    await gql.mutate("updateNotificationPreferences", UPDATE, mute, token=villager)
    clerk = await gql.login(CLERK)
    d = await published(gql, clerk, demo.villages[0], category="VILLAGE_AFFAIRS", title="修路决算")
    assert await Job.filter(kind="fanout_disclosure").count() == 1  # committed with the publication
    assert await run_jobs("fanout_disclosure") == 1

    assert await kinds(gql, "13911110001") == ["NEW_DISCLOSURE"]  # follows the township
    assert await kinds(gql, "13911110002") == []  # unverified and not following
    assert await kinds(gql, "13911110003") == []  # another village
    token = await gql.login(VILLAGER)
    notes = (await gql.data(INBOX, token=token))["notifications"]["edges"]
    assert [(n["node"]["kind"], n["node"]["target"]["id"]) for n in notes] == [
        ("NEW_DISCLOSURE", d["id"])
    ]
    assert notes[0]["node"]["text"] == "您关注的地方有新的村务公开"
    recorded = await NotificationEvent.filter(kind="NEW_DISCLOSURE").count()
    assert recorded == 4  # clerk, supervisor, villager (residents) and the follower
    assert await Job.filter(kind="notify_dispatch").count() == 1  # one batch, one dispatch

    # the job again (a worker killed before its acknowledgement): nothing more
    version = (await Job.filter(kind="fanout_disclosure").first()).payload["version"]
    assert await fan_out(pk(d["id"]), version, datetime.now(UTC)) == 0
    assert await NotificationEvent.filter(kind="NEW_DISCLOSURE").count() == recorded

    # a muted category reaches the others but not the villager who muted it
    draft_ = await draft(gql, clerk, demo.villages[0], category="FINANCE", title="三月收支")
    supervisor = await gql.login("13800000005")
    assert (await step(gql, "SubmitDisclosure", clerk, id=draft_["id"]))["errors"] == []
    assert (await step(gql, "ApproveDisclosure", supervisor, id=draft_["id"]))["errors"] == []
    assert (await step(gql, "PublishDisclosure", clerk, id=draft_["id"]))["errors"] == []
    await run_jobs("fanout_disclosure")
    finance = NotificationEvent.filter(kind="NEW_DISCLOSURE", subject_id=pk(draft_["id"]))
    got = set(await finance.values_list("user_id", flat=True))
    assert demo.users["VILLAGER"].id not in got and audience["follower"].id in got

    # a correction is news too: the readers hear of the new version
    fix = await step(
        gql, "CorrectDisclosure", clerk, id=d["id"], reason="金额更正", title="修路决算（更正）"
    )
    assert fix["errors"] == []
    await run_jobs("fanout_disclosure")
    corrected = await NotificationEvent.filter(kind="NEW_DISCLOSURE", subject_id=pk(d["id"]))
    assert sum(1 for e in corrected if e.payload.get("correction")) == 4


def pk(global_id: str) -> int:
    from api.relay import from_global_id

    return int(from_global_id(global_id)[1])


async def deliveries() -> list[tuple[int, str, list[int], bool]]:
    rows = await Job.filter(kind="deliver").order_by("id")
    return [
        (j.payload["user_id"], j.payload["channel"], j.payload["event_ids"], j.payload["digest"])
        for j in rows
    ]


async def test_routing_enqueues_deliveries_by_preference_and_verified_phone(gql, demo, audience):
    villager = demo.users["VILLAGER"]
    await User.exclude(id=villager.id).update(phone_verified_at=None)  # the demo verifies all
    await User.filter(id=villager.id).update(phone_verified_at=datetime.now(UTC))
    follower = audience["follower"]  # no verified phone: the inbox only
    token = await gql.login(VILLAGER)
    change = {"categories": [{"category": "REPLIES", "sms": "OFF"}]}
    await gql.mutate("updateNotificationPreferences", UPDATE, change, token=token)

    await notify([villager.id, follower.id], "FLAG_STATUS", "Flag", 1, status="ACCEPTED")
    await notify([villager.id], "NEW_DISCLOSURE", "Disclosure", 2, category="FARMING")
    await notify([villager.id], "NEW_DISCLOSURE", "Disclosure", 3, category="FARMING", urgent=True)
    await notify([villager.id], "COMMENT_REPLY", "Comment", 4, urgent=True)  # OFF wins
    assert await run_jobs("notify_dispatch") == 4
    ids = {e.subject_id: e.id for e in await NotificationEvent.filter(user_id=villager.id)}
    assert await deliveries() == [
        (villager.id, "SMS", [ids[1]], False),  # own flag: at once
        (villager.id, "SMS", [ids[3]], False),  # urgent beats the digest
    ]
    # the dispatch again (its worker died before the acknowledgement), even after the
    # deliveries ran and released their unique keys: nothing is sent twice
    await Job.filter(kind="deliver").update(status=JobStatus.DONE, unique_key=None)
    await Job.filter(kind="notify_dispatch").update(status=JobStatus.QUEUED)
    assert await run_jobs("notify_dispatch") == 4
    assert len(await deliveries()) == 2


async def test_the_evening_digest_bundles_a_day_once(gql, demo, audience, settings):
    villager = demo.users["VILLAGER"]
    await User.exclude(id=villager.id).update(phone_verified_at=None)  # the demo verifies all
    await User.filter(id=villager.id).update(phone_verified_at=datetime.now(UTC))
    clerk = await gql.login(CLERK)
    for title in ("春耕通知", "水费公示"):
        await published(gql, clerk, demo.villages[0], category="VILLAGE_AFFAIRS", title=title)
    await run_jobs("fanout_disclosure")
    await run_jobs("notify_dispatch")
    assert await deliveries() == []  # the default for new disclosures: the digest
    day = (
        await NotificationEvent.filter(user_id=villager.id)
        .order_by("id")
        .values_list("id", flat=True)
    )

    local = datetime.now(SHANGHAI)
    evening = local.replace(hour=20, minute=0, second=5, microsecond=0)
    if evening < local:
        evening += timedelta(days=1)
    assert await send_digests(evening.astimezone(UTC)) == 1  # only the villager has a phone
    assert await deliveries() == [(villager.id, "SMS", list(day), True)]
    # the job again, or a second scheduler: the day's claim holds
    assert await send_digests(evening.astimezone(UTC) + timedelta(minutes=3)) == 0
    assert await DigestRun.filter(user_id=villager.id).count() == 1
    # the next day bundles only what came after, and not what was read in the app meanwhile
    for title in ("低保名单", "秋收安排"):
        await published(gql, clerk, demo.villages[0], category="VILLAGE_AFFAIRS", title=title)
    await run_jobs("fanout_disclosure")
    seen, unseen = await NotificationEvent.filter(user_id=villager.id).order_by("-id").limit(2)
    token = await gql.login(VILLAGER)
    mark = """mutation($input: MarkNotificationsReadInput!) {
      markNotificationsRead(input: $input) { marked } }"""
    read = await gql.mutate(
        "markNotificationsRead", mark, {"ids": [gid("Notification", seen.id)]}, token=token
    )
    assert read == {"marked": 1}
    assert await send_digests(evening.astimezone(UTC) + timedelta(days=1)) == 1
    assert (await deliveries())[-1] == (villager.id, "SMS", [unseen.id], True)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def settings(settings: Settings, clock: MovableClock, request) -> Settings:
    """The injectable clock everywhere; the scheduler and a worker for the test that says so."""
    jobs = "running_scheduler" in request.node.name
    return settings.with_overrides(
        jobs=jobs,
        clock=clock,
        job_poll_seconds=0.02,
        job_stop_grace_seconds=0.5,
        scheduler_wakeup_seconds=0.05,
    )


async def test_the_running_scheduler_sends_the_digest_at_eight_in_beijing(gql, demo, clock):
    villager = demo.users["VILLAGER"]
    await User.exclude(id=villager.id).update(phone_verified_at=None)  # the demo verifies all
    await User.filter(id=villager.id).update(phone_verified_at=datetime.now(UTC))
    clerk = await gql.login(CLERK)
    await published(gql, clerk, demo.villages[0], category="FARMING", title="病虫害预报")
    for _ in range(200):  # the worker fans it out
        if await NotificationEvent.filter(user_id=villager.id).exists():
            break
        await asyncio.sleep(0.02)
    event = await NotificationEvent.get(user_id=villager.id)
    local = clock().astimezone(SHANGHAI)
    evening = local.replace(hour=20, minute=0, second=0, microsecond=0)
    if evening <= local:
        evening += timedelta(days=1)
    clock.move(evening - local + timedelta(minutes=1))
    for _ in range(300):
        if await Job.filter(kind="deliver").exists():
            break
        await asyncio.sleep(0.02)
    job = await Job.get(kind="deliver")
    assert job.payload == {
        "user_id": villager.id,
        "channel": "SMS",
        "event_ids": [event.id],
        "digest": True,
    }


async def fanouts() -> list[tuple[int, int]]:
    jobs = await Job.filter(kind="fanout_disclosure").order_by("id")
    return [(j.payload["disclosure_id"], j.payload["version"]) for j in jobs]


async def test_scheduled_publication_and_an_approved_correction_fan_out(gql, demo):
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0], title="秋收通知")
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    out = await step(gql, "PublishDisclosure", clerk, id=d["id"], publishAt=later)
    assert out["disclosure"]["status"] == "SCHEDULED" and await fanouts() == []
    assert await publish_due(datetime.now(UTC) + timedelta(hours=3)) == 1
    assert await fanouts() == [(pk(d["id"]), 1)]

    # FINANCE: a correction waits for the supervisor; readers hear when it is published
    supervisor = await gql.login("13800000005")
    f = await draft(gql, clerk, demo.villages[0], category="FINANCE", title="三月收支")
    for name, token in (("Submit", clerk), ("Approve", supervisor), ("Publish", clerk)):
        assert (await step(gql, f"{name}Disclosure", token, id=f["id"]))["errors"] == []
    staged = await step(
        gql, "CorrectDisclosure", clerk, id=f["id"], reason="笔误", title="三月收支（更正）"
    )
    assert staged["errors"] == [] and (await fanouts())[-1] == (pk(f["id"]), 1)
    assert (await step(gql, "ApproveDisclosure", supervisor, id=f["id"]))["errors"] == []
    assert (await fanouts())[-1] == (pk(f["id"]), 2)
    await run_jobs("fanout_disclosure")
    events = await NotificationEvent.filter(kind="NEW_DISCLOSURE", subject_id=pk(f["id"]))
    # version 1's job ran after version 2 was out: only the newest is news
    assert {e.payload["version"] for e in events} == {2}
    token = await gql.login(VILLAGER)
    texts = [
        e["node"]["text"] for e in (await gql.data(INBOX, token=token))["notifications"]["edges"]
    ]
    assert "您关注的地方有财务公开更正" in texts


async def test_a_must_read_notice_is_told_once_to_residents_and_to_followers_elsewhere(
    gql, demo, audience
):
    official = await gql.login("13800000003")
    notice = await published(
        gql, official, demo.townships[0], category="NOTICE", title="防汛通知", mustRead=True
    )
    await run_jobs("fanout_disclosure")
    # residents were told at once as MUST_READ_NOTICE: no second event for the same notice
    token = await gql.login(VILLAGER)
    notes = (await gql.data(INBOX, token=token))["notifications"]["edges"]
    assert [n["node"]["kind"] for n in notes] == ["MUST_READ_NOTICE"]
    # a follower of the township living elsewhere hears of it as news
    assert await kinds(gql, "13911110001") == ["NEW_DISCLOSURE"]
    events = await NotificationEvent.filter(subject_type="Disclosure", subject_id=pk(notice["id"]))
    told = [e.user_id for e in events]
    assert len(told) == len(set(told)) >= 4  # nobody twice


async def test_those_told_of_a_disclosure_hear_when_it_is_retracted(gql, demo, audience):
    clerk = await gql.login(CLERK)
    d = await published(gql, clerk, demo.villages[0], category="VILLAGE_AFFAIRS", title="低保名单")
    await run_jobs("fanout_disclosure")
    told = set(
        await NotificationEvent.filter(kind="NEW_DISCLOSURE").values_list("user_id", flat=True)
    )
    out = await step(gql, "RetractDisclosure", clerk, id=d["id"], reason="名单有误，重新核实")
    assert out["errors"] == []
    assert await Job.filter(kind="announce_retraction").count() == 1  # committed with it
    assert await run_jobs("announce_retraction") == 1
    retracted = await NotificationEvent.filter(kind="DISCLOSURE_RETRACTED")
    assert {e.user_id for e in retracted} == told and len(retracted) == len(told)
    assert await kinds(gql, "13911110001") == ["DISCLOSURE_RETRACTED", "NEW_DISCLOSURE"]
    assert await kinds(gql, "13911110003") == []  # never told, not told now
    token = await gql.login(VILLAGER)
    notes = (await gql.data(INBOX, token=token))["notifications"]["edges"]
    assert notes[0]["node"]["kind"] == "DISCLOSURE_RETRACTED"
    assert notes[0]["node"]["text"] == "您收到过的一项村务公开已被撤回，撤回理由已公开"
    # the job again (a worker killed before its acknowledgement): nothing more
    assert await announce_retraction(pk(d["id"]), datetime.now(UTC)) == 0
    assert await NotificationEvent.filter(kind="DISCLOSURE_RETRACTED").count() == len(told)
