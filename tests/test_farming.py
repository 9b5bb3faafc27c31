"""Farming information through the API: tags, urgency, validity and expiry; an urgent pest
or weather warning told at once on every channel not turned off (digests and mutes
notwithstanding); search by tag; the chain over the new fields; who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from tortoise import Tortoise

from api.jobs.periodic import register_handlers
from models.accounts import User
from models.deliveries import Delivery
from models.disclosures import (
    Disclosure,
    DisclosureVersion,
    FarmingTag,
    LedgerEntry,
    ledger,
)
from models.jobs import Job, JobStatus
from models.jobs.handlers import HANDLERS, JobContext
from models.notifications import NotificationEvent
from models.policy import Viewer
from models.regions import Region, RegionKind
from models.regions.operations import create_region
from notifications.deliver import DELIVER
from notifications.digest import send_digests
from scripts import verify_ledger
from tests.client import GRANT_ROLE, error_codes
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    gid,
    step,
)
from tests.test_fanout import UPDATE, deliveries, person, pk, run_jobs
from tests.test_integrity import verdict

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIELDS = """id status version category tags urgency validFrom expiresAt
  versions { version tags urgency validFrom expiresAt reason }"""
CREATE = f"""mutation($input: CreateDisclosureInput!) {{ createDisclosure(input: $input) {{
  disclosure {{ {FIELDS} }} errors {{ code field }} }} }}"""
UPDATE_DRAFT = f"""mutation($input: UpdateDisclosureInput!) {{ updateDisclosure(input: $input) {{
  disclosure {{ {FIELDS} }} errors {{ code field }} }} }}"""
CORRECT = f"""mutation($input: CorrectDisclosureInput!) {{ correctDisclosure(input: $input) {{
  disclosure {{ {FIELDS} }} errors {{ code field }} }} }}"""
TAGGED = """query($region: ID, $tag: FarmingTag, $search: String, $first: Int, $after: String) {
  disclosures(regionId: $region, tag: $tag, search: $search, first: $first, after: $after) {
    edges { node { id title tags urgency validFrom } } pageInfo { hasNextPage endCursor } } }"""
FOLLOWING = """query($tag: FarmingTag) { following(tag: $tag) { edges { node { id } } } }"""
INBOX = """{ notifications { edges { node { kind text target { id } } } } }"""
PASSWORD = "river-stone-42"


def later(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0).isoformat()


async def create(gql, token, region, **data) -> dict:
    data = {
        "regionId": gid("Region", region.id),
        "category": "FARMING",
        "title": "稻飞虱防治",
        "body": "近期稻飞虱发生较重，请及时用药。",
        **data,
    }
    return await gql.mutate("createDisclosure", CREATE, data, token=token)


async def farming(gql, token, region, **data) -> dict:
    """A published farming item (or another category when `category` says so)."""
    made = await create(gql, token, region, **data)
    assert made["errors"] == [], made
    out = await step(gql, "PublishDisclosure", token, id=made["disclosure"]["id"])
    assert out["errors"] == [], out
    return made["disclosure"]


async def inbox(gql, phone) -> list[tuple[str, str, str]]:
    token = await gql.login(phone, PASSWORD)
    edges = (await gql.data(INBOX, token=token))["notifications"]["edges"]
    return [(e["node"]["kind"], e["node"]["text"], e["node"]["target"]["id"]) for e in edges]


async def other_county_village() -> Region:
    system = Viewer.for_system("test")
    county = await create_region(system, None, RegionKind.COUNTY, "远山县", None)
    township = await create_region(system, county.id, RegionKind.TOWNSHIP, "石桥镇", None)
    return await create_region(system, township.id, RegionKind.VILLAGE, "石桥村", None)


async def send_sms(app) -> int:
    """Run the queued `deliver` jobs as a worker would, with the app's services (the SMS
    provider in tests is "log": it records the Delivery as sent)."""
    register_handlers()
    now, ran = datetime.now(UTC), 0
    for job in await Job.filter(kind=DELIVER, status=JobStatus.QUEUED).order_by("id"):
        viewer = Viewer.for_system(f"job:{DELIVER}")
        services = app.state.services
        ctx = JobContext(job.id, DELIVER, job.payload, 1, now, lambda: now, viewer, services)
        await HANDLERS[DELIVER](ctx)
        await Job.filter(id=job.id).update(status=JobStatus.DONE, unique_key=None)
        ran += 1
    return ran


def next_evening() -> datetime:
    """The next 20:00 in Beijing: the evening digest."""
    local = datetime.now(SHANGHAI)
    evening = local.replace(hour=20, minute=0, second=5, microsecond=0)
    return (evening if evening > local else evening + timedelta(days=1)).astimezone(UTC)


async def test_an_urgent_pest_warning_reaches_everyone_below_at_once_digest_or_mute(
    app, gql, demo, settings
):
    """A county's urgent pest warning: a villager who chose the digest and muted farming gets
    an SMS at once; one who turned SMS off gets the inbox only; another county nothing. A
    non-urgent item waits for the digest, and the muting villager never hears of it."""
    villager = demo.users["VILLAGER"]  # village 0: the digest (default) and FARMING muted
    no_sms = await person(settings, "13911120001", demo.villages[1], resident=True)
    plain = await person(settings, "13911120002", demo.villages[4], resident=True)  # defaults
    far = await person(settings, "13911120003", await other_county_village(), resident=True)
    mine = [villager.id, no_sms.id, plain.id, far.id]
    await User.exclude(id__in=mine).update(phone_verified_at=None)  # the demo verifies all
    await User.filter(id__in=mine).update(phone_verified_at=datetime.now(UTC))
    choose = {
        "categories": [{"category": "NEW_DISCLOSURES", "sms": "DIGEST"}],
        "mutedDisclosureCategories": ["FARMING"],
    }
    out = await gql.mutate(
        "updateNotificationPreferences", UPDATE, choose, token=await gql.login(VILLAGER)
    )
    assert out["errors"] == []
    off = {"categories": [{"category": "NEW_DISCLOSURES", "sms": "OFF"}]}
    token = await gql.login("13911120001", PASSWORD)
    assert (await gql.mutate("updateNotificationPreferences", UPDATE, off, token=token))[
        "errors"
    ] == []

    admin = await gql.login(ADMIN)  # the county's publisher
    warning = await farming(
        gql,
        admin,
        demo.county,
        title="稻飞虱紧急预警",
        tags=["PEST"],
        urgency="URGENT",
        validFrom=later(days=1),
        expiresAt=later(days=10),
    )
    assert (warning["tags"], warning["urgency"]) == (["PEST"], "URGENT")
    assert await run_jobs("fanout_disclosure") == 1
    await run_jobs("notify_dispatch")
    events = {e.user_id: e for e in await NotificationEvent.filter(subject_id=pk(warning["id"]))}
    assert {events[u].kind for u in mine if u in events} == {"FARMING_WARNING"}
    assert set(mine) & set(events) == {villager.id, no_sms.id, plain.id}  # not `far`
    assert events[villager.id].payload["urgent"] is True
    text = "紧急农技预警（病虫害），请立即查看"  # no person, no title
    assert await inbox(gql, "13911120001") == [("FARMING_WARNING", text, warning["id"])]
    assert await inbox(gql, "13911120003") == []
    # at once, by SMS, to those whose SMS mode is not OFF: the digest does not wait for it
    sent = [(u, c, ids, digest) for u, c, ids, digest in await deliveries() if u in mine]
    assert sorted(sent) == sorted(
        [
            (villager.id, "SMS", [events[villager.id].id], False),
            (plain.id, "SMS", [events[plain.id].id], False),
        ]
    )
    assert await send_sms(app) == 2
    sms = await Delivery.filter(user_id=villager.id, channel="SMS").first()
    assert sms is not None and sms.status == "SENT" and not sms.digest
    assert sms.sent_at is not None and sms.sent_at < next_evening()

    # not urgent: NEW_DISCLOSURE, mutes respected, the evening digest
    advice = await farming(gql, admin, demo.county, title="小麦播种技术要点", tags=["CROP"])
    await run_jobs("fanout_disclosure")
    await run_jobs("notify_dispatch")
    told = await NotificationEvent.filter(subject_id=pk(advice["id"])).values_list(
        "user_id", "kind"
    )
    mine_told = sorted((u, k) for u, k in told if u in mine)
    assert mine_told == sorted([(no_sms.id, "NEW_DISCLOSURE"), (plain.id, "NEW_DISCLOSURE")])
    assert await Job.filter(kind=DELIVER, status=JobStatus.QUEUED).count() == 0  # nothing at once
    assert await send_digests(next_evening()) == 1  # `plain` alone: the others are OFF/muted
    evening = [d for d in await deliveries() if d[3]]
    advice_event = await NotificationEvent.get(subject_id=pk(advice["id"]), user_id=plain.id)
    assert evening == [(plain.id, "SMS", [advice_event.id], True)]  # not the warning again

    # a correction of the warning (lifting it) is told as urgently, as a correction
    lifted = await gql.mutate(
        "correctDisclosure",
        CORRECT,
        {
            "id": warning["id"],
            "reason": "虫情缓解，解除预警",
            "urgency": "NORMAL",
            "validFrom": later(hours=5),
        },
        token=admin,
    )
    assert lifted["errors"] == [] and lifted["disclosure"]["urgency"] == "NORMAL"
    assert [v["urgency"] for v in lifted["disclosure"]["versions"]] == ["URGENT", "NORMAL"]
    await run_jobs("fanout_disclosure")
    await run_jobs("notify_dispatch")
    fixed = await NotificationEvent.get(
        user_id=villager.id, subject_id=pk(warning["id"]), seq__gt=events[villager.id].seq
    )
    assert fixed.kind == "FARMING_WARNING" and fixed.payload["correction"]
    assert (await inbox(gql, "13911120001"))[0][1] == "紧急农技预警（病虫害）有更正，请立即查看"
    assert (villager.id, "SMS", [fixed.id], False) in await deliveries()

    # retracted: everyone told of the warning hears of it, the muting villager too
    out = await step(gql, "RetractDisclosure", admin, id=warning["id"], reason="发布有误")
    assert out["errors"] == []
    await run_jobs("announce_retraction")
    assert await NotificationEvent.exists(user_id=villager.id, kind="DISCLOSURE_RETRACTED")
    assert (await verdict(gql, demo.county))["ok"]


async def test_tag_search_finds_only_tagged_farming_items_below_and_above(gql, demo, settings):
    official, clerk = await gql.login(OFFICIAL), await gql.login(CLERK)
    home, township = demo.villages[0], demo.townships[0]
    start = later(days=2)  # advice for later is in the feeds at once, with its date
    pest = await farming(
        gql, official, township, title="稻飞虱防治", tags=["PEST", "CROP"], validFrom=start
    )
    crop = await farming(gql, clerk, home, title="水稻晒田", tags=["CROP"], body="晒田控蘖。")
    await farming(gql, clerk, home, title="稻田用水", category="VILLAGE_AFFAIRS")
    await farming(gql, clerk, home, title="稻种补贴", tags=["POLICY"], body="稻种补贴发放。")
    # another township's pest advice: not in village 0's feed
    other = await official_elsewhere(gql, demo, settings, "13911130001")
    elsewhere = await farming(gql, other, demo.townships[1], tags=["PEST"])

    async def ids(token=None, **variables) -> list[str]:
        data = await gql.data(TAGGED, variables, token=token)
        return [e["node"]["id"] for e in data["disclosures"]["edges"]]

    village = gid("Region", home.id)
    assert await ids(region=village, tag="PEST") == [pest["id"]]  # from the township above
    shown = await gql.data(TAGGED, {"region": village, "tag": "PEST"})
    node = shown["disclosures"]["edges"][0]["node"]
    assert (node["tags"], node["urgency"]) == (["CROP", "PEST"], "NORMAL")
    assert datetime.fromisoformat(node["validFrom"]) == datetime.fromisoformat(start)
    assert await ids(region=village, tag="CROP") == [crop["id"], pest["id"]]  # newest first
    assert await ids(region=village, tag="WEATHER") == []
    assert await ids(tag="PEST") == [elsewhere["id"], pest["id"]]  # everywhere
    assert await ids(region=gid("Region", township.id), tag="PEST") == [pest["id"]]
    # with text: tagged items holding the words, title matches first
    assert await ids(region=village, tag="CROP", search="晒田") == [crop["id"]]
    assert await ids(tag="PEST", search="稻飞虱") == [elsewhere["id"], pest["id"]]
    assert await ids(tag="POLICY", search="晒田") == []
    # a page at a time
    first = await gql.data(TAGGED, {"region": village, "tag": "CROP", "first": 1})
    page = first["disclosures"]
    assert [e["node"]["id"] for e in page["edges"]] == [crop["id"]]
    assert page["pageInfo"]["hasNextPage"]
    rest = await ids(region=village, tag="CROP", first=1, after=page["pageInfo"]["endCursor"])
    assert rest == [pest["id"]]
    # the following feed: a villager following their village hears from above too
    token = await gql.login(VILLAGER)
    follow = """mutation($input: FollowRegionInput!) { followRegion(input: $input) {
      following errors { code } } }"""
    assert (await gql.mutate("followRegion", follow, {"regionId": village}, token=token))[
        "following"
    ]
    followed = await gql.data(FOLLOWING, {"tag": "PEST"}, token=token)
    assert [e["node"]["id"] for e in followed["following"]["edges"]] == [pest["id"]]
    # an unknown tag is refused by the schema
    assert error_codes(await gql(TAGGED, {"tag": "FISH"})) == ["BAD_USER_INPUT"]


def test_no_tag_name_holds_another_so_the_substring_filter_is_exact():
    assert not any(a != b and a in b for a in FarmingTag for b in FarmingTag)


async def official_elsewhere(gql, demo, settings, phone: str) -> str:
    """A signed-in official of township 1 (the demo's official holds township 0)."""
    user = await person(settings, phone, demo.villages[4], resident=False)
    out = await gql.mutate(
        "grantRole",
        GRANT_ROLE,
        {
            "userId": gid("User", user.id),
            "role": "OFFICIAL",
            "regionId": gid("Region", demo.townships[1].id),
        },
        token=await gql.login(ADMIN),
    )
    assert out["errors"] == [], out
    return await gql.login(phone, PASSWORD)


async def test_farming_fields_are_checked_and_a_refusal_changes_nothing(gql, demo):
    official, clerk = await gql.login(OFFICIAL), await gql.login(CLERK)
    township, home = demo.townships[0], demo.villages[0]
    refused = [
        ({"tags": ["CROP"], "urgency": "URGENT"}, [("URGENT_NEEDS_WARNING", "urgency")]),
        ({"urgency": "URGENT"}, [("URGENT_NEEDS_WARNING", "urgency")]),
        ({"category": "NOTICE", "tags": ["PEST"]}, [("FARMING_ONLY", "tags")]),
        ({"category": "NOTICE", "urgency": "URGENT"}, [("FARMING_ONLY", "urgency")]),
        ({"category": "NOTICE", "validFrom": later(days=1)}, [("FARMING_ONLY", "validFrom")]),
        (
            {"tags": ["WEATHER"], "validFrom": later(days=3), "expiresAt": later(days=2)},
            [("EXPIRY_INVALID", "expiresAt")],
        ),
    ]
    for data, codes in refused:
        out = await create(gql, official, township, **data)
        assert [(e["code"], e["field"]) for e in out["errors"]] == codes, data
    out = await create(gql, clerk, home, category="VILLAGE_AFFAIRS", expiresAt=later(days=2))
    assert [e["code"] for e in out["errors"]] == ["EXPIRY_INVALID"]
    assert await Disclosure.all().count() == 0

    # already expired (or expiring before its scheduled time): never published
    stale = await create(gql, official, township, tags=["PEST"], expiresAt=later(seconds=-60))
    assert stale["errors"] == []
    out = await step(gql, "PublishDisclosure", official, id=stale["disclosure"]["id"])
    assert out["errors"] == [{"code": "EXPIRY_INVALID", "field": "expiresAt"}]
    soon = await create(gql, official, township, tags=["PEST"], expiresAt=later(hours=1))
    publish = """mutation($input: PublishDisclosureInput!) { publishDisclosure(input: $input) {
      errors { code field } } }"""
    out = await gql.mutate(
        "publishDisclosure",
        publish,
        {"id": soon["disclosure"]["id"], "publishAt": later(hours=2)},
        token=official,
    )
    assert out["errors"] == [{"code": "EXPIRY_INVALID", "field": "expiresAt"}]
    assert set(await Disclosure.all().values_list("status", flat=True)) == {"DRAFT"}
    assert await LedgerEntry.all().count() == 0

    # forging urgency onto other categories through update and correct
    affairs = await create(gql, clerk, home, category="VILLAGE_AFFAIRS")
    forged = await gql.mutate(
        "updateDisclosure",
        UPDATE_DRAFT,
        {"id": affairs["disclosure"]["id"], "urgency": "URGENT", "tags": ["PEST"]},
        token=clerk,
    )
    assert [e["code"] for e in forged["errors"]] == ["FARMING_ONLY", "FARMING_ONLY"]
    assert (await step(gql, "PublishDisclosure", clerk, id=affairs["disclosure"]["id"]))[
        "errors"
    ] == []
    forged = await gql.mutate(
        "correctDisclosure",
        CORRECT,
        {"id": affairs["disclosure"]["id"], "reason": "改为紧急", "urgency": "URGENT"},
        token=clerk,
    )
    assert [e["code"] for e in forged["errors"]] == ["FARMING_ONLY"]
    row = await Disclosure.get(id=pk(affairs["disclosure"]["id"]))
    assert (row.version, row.urgent, row.tags) == (1, False, "")

    # a published warning keeps a warning tag while urgent, and never gets a past expiry
    # (that would hide it from the feed without a public retraction)
    warning = await farming(gql, official, township, tags=["WEATHER"], urgency="URGENT")
    for data, code in (
        ({"tags": ["CROP"]}, "URGENT_NEEDS_WARNING"),
        ({"expiresAt": later(seconds=-5)}, "EXPIRY_INVALID"),
    ):
        out = await gql.mutate(
            "correctDisclosure",
            CORRECT,
            {"id": warning["id"], "reason": "更正", **data},
            token=official,
        )
        assert [e["code"] for e in out["errors"]] == [code], data
    row = await Disclosure.get(id=pk(warning["id"]))
    assert (row.version, row.tags, row.urgent, row.expires_at) == (1, "WEATHER", True, None)
    assert await DisclosureVersion.filter(disclosure_id=row.id).count() == 1


async def refusal(gql, name: str, data: dict, token: str | None) -> list[str]:
    """The codes a mutation answers: top-level errors (FORBIDDEN, NOT_FOUND,
    UNAUTHENTICATED) or the payload's own."""
    field = name[0].lower() + name[1:]
    query = f"""mutation($input: {name}Input!) {{ {field}(input: $input) {{
      errors {{ code field }} }} }}"""
    body = await gql(query, {"input": data}, token=token)
    if "errors" in body:
        return error_codes(body)
    return [e["code"] for e in body["data"][field]["errors"]]


async def test_each_role_forbidden_steps_on_a_townships_farming_information(gql, demo, settings):
    township = demo.townships[0]
    tokens: dict[str, str | None] = {
        phone: await gql.login(phone) for phone in (VILLAGER, CLERK, SUPERVISOR, INSPECTOR)
    }
    tokens["another township's official"] = await official_elsewhere(
        gql, demo, settings, "13911140001"
    )
    new = {
        "regionId": gid("Region", township.id),
        "category": "FARMING",
        "title": "稻瘟病预警",
        "body": "注意防治。",
        "tags": ["PEST"],
        "urgency": "URGENT",
    }
    for who, token in tokens.items():
        assert await refusal(gql, "CreateDisclosure", new, token) == ["FORBIDDEN"], who
    assert await refusal(gql, "CreateDisclosure", new, None) == ["UNAUTHENTICATED"]
    official = await gql.login(OFFICIAL)
    # a township's official publishes for the township, not for the county above it
    above = {**new, "regionId": gid("Region", demo.county.id)}
    assert await refusal(gql, "CreateDisclosure", above, official) == ["FORBIDDEN"]

    made = await create(gql, official, township, tags=["PEST"], urgency="URGENT")
    d = made["disclosure"]["id"]
    # staff of other places do not see the draft at all; the rest may not publish anything
    expected = {CLERK: "NOT_FOUND", "another township's official": "NOT_FOUND"}
    for who, token in tokens.items():
        codes = await refusal(gql, "PublishDisclosure", {"id": d}, token)
        assert codes == [expected.get(who, "FORBIDDEN")], who
    assert await refusal(gql, "PublishDisclosure", {"id": d}, None) == ["UNAUTHENTICATED"]
    assert (await step(gql, "PublishDisclosure", official, id=d))["errors"] == []
    tokens[None] = None  # type: ignore[index]
    for who, token in tokens.items():
        for name, extra in (
            ("CorrectDisclosure", {"reason": "解除", "urgency": "NORMAL"}),
            ("RetractDisclosure", {"reason": "撤回"}),
        ):
            codes = await refusal(gql, name, {"id": d, **extra}, token)
            assert codes == (["UNAUTHENTICATED"] if token is None else ["FORBIDDEN"]), (who, name)
    row = await Disclosure.get(id=pk(d))
    assert (row.status, row.version, row.urgent) == ("PUBLISHED", 1, True)
    assert await LedgerEntry.all().count() == 1


TAMPERING = {
    "version's expiry": "UPDATE disclosure_version SET expires_at = {at} WHERE disclosure_id = {d}",
    "version's start": "UPDATE disclosure_version SET valid_from = NULL WHERE disclosure_id = {d}",
    "version's tags": "UPDATE disclosure_version SET tags = 'CROP' WHERE disclosure_id = {d}",
    "version's urgency": "UPDATE disclosure_version SET urgent = NOT urgent WHERE disclosure_id = {d}",
    "served expiry": "UPDATE disclosure SET expires_at = {at} WHERE id = {d}",
    "served expiry removed": "UPDATE disclosure SET expires_at = NULL WHERE id = {d}",
    "served start": "UPDATE disclosure SET valid_from = {at} WHERE id = {d}",
    "served tags": "UPDATE disclosure SET tags = 'CROP,PEST,WEATHER' WHERE id = {d}",
    "served urgency": "UPDATE disclosure SET urgent = NOT urgent WHERE id = {d}",
}


async def test_changing_a_warnings_tags_urgency_or_validity_breaks_the_chain_at_its_entry(
    gql, demo, tmp_path
):
    official = await gql.login(OFFICIAL)
    township = demo.townships[0]
    await farming(gql, official, township, title="秋播技术", tags=["CROP"])
    d = await farming(
        gql,
        official,
        township,
        tags=["PEST", "WEATHER"],
        urgency="URGENT",
        validFrom=later(days=1),
        expiresAt=later(days=7),
    )
    await farming(
        gql, official, township, category="NOTICE", title="停水通知", expiresAt=later(days=2)
    )
    assert (await verdict(gql, township))["ok"]
    target = pk(d["id"])
    for name, statement in TAMPERING.items():
        disclosure = await Disclosure.get(id=target)
        version = await DisclosureVersion.get(disclosure_id=target)
        await sql(statement.format(d=target, at="'2030-01-01 00:00:00+00:00'"))
        broken = await verdict(gql, township)  # the command line must agree (see verdict)
        assert (broken["ok"], broken["firstBrokenAt"], broken["length"]) == (False, 2, 3), name
        await disclosure.save()  # put them back
        await version.save()
        assert (await verdict(gql, township))["ok"], name

    # the exported file checks offline; a forged urgency in it breaks at its entry
    _, entries, _ = await verify_ledger.load_checked(township.code)
    assert entries[1]["content"]["urgency"] == "URGENT"
    assert entries[1]["content"]["tags"] == ["PEST", "WEATHER"]
    exported = tmp_path / "chain.json"
    verify_ledger.write_export(exported, township, entries)
    assert verify_ledger.main(["--file", str(exported)]) == 0
    document = orjson.loads(exported.read_bytes())
    document["entries"][1]["content"]["urgency"] = "NORMAL"
    exported.write_bytes(orjson.dumps(document))
    assert verify_ledger.main(["--file", str(exported)]) == 1
    assert ledger.verify_entries(document["entries"]).first_broken_at == 2


async def test_entries_written_before_format_4_verify_as_they_did(gql, demo):
    """An entry of format 3 (written before tags and urgency were chained) is recomputed in
    format 3: it still verifies, and its farming fields were never part of it."""
    official = await gql.login(OFFICIAL)
    township = demo.townships[0]
    old = await farming(gql, official, township, tags=["PEST"], urgency="URGENT")
    entry = await LedgerEntry.get(disclosure_id=pk(old["id"]))
    disclosure = await Disclosure.get(id=pk(old["id"]))
    version = await DisclosureVersion.get(id=entry.version_id)
    content = ledger.publish_content(township, disclosure, version, None, format=3)
    assert "urgency" not in content and "tags" not in content
    await LedgerEntry.filter(id=entry.id).update(
        format=3, hash=ledger.chain_hash(ledger.GENESIS, content)
    )
    new = await farming(gql, official, township, tags=["WEATHER"], urgency="URGENT")
    assert (await verdict(gql, township))["ok"]
    _, entries, _ = await verify_ledger.load_checked(township.code)
    assert [e["content"]["format"] for e in entries] == [3, 4]
    assert "urgency" not in entries[0]["content"]
    # what format 3 did not chain, it does not vouch for; format 4 does
    await sql(f"UPDATE disclosure SET tags = 'CROP' WHERE id = {pk(old['id'])}")
    assert (await verdict(gql, township))["ok"]
    await sql(f"UPDATE disclosure SET tags = 'CROP' WHERE id = {pk(new['id'])}")
    assert (await verdict(gql, township))["firstBrokenAt"] == 2


async def sql(statement: str) -> None:
    await Tortoise.get_connection("default").execute_script(statement)
