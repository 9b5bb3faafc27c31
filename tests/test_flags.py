"""Flags through the API: the lifecycle for each role, deadlines and escalation, and the
flagger's identity kept from everyone but the officials and inspectors, on every path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.relay import to_global_id
from models.audit import AuditEntry
from models.flags import Flag, Holiday
from models.flags.deadlines import due_after
from models.flags.escalation import escalate_overdue_flags
from models.notifications import NotificationEvent
from tests.client import error_codes
from tests.test_comments import resident
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    published,
)

FLAG_FIELDS = """id status reasonCode body supportCount overdue escalated dueAt
  flagger { id name phone } supporters { name }
  events { kind note byOfficial actor { name } }"""
FLAG_ISSUE = f"""mutation($input: FlagIssueInput!) {{ flagIssue(input: $input) {{
  flag {{ {FLAG_FIELDS} }} errors {{ code field }} }} }}"""
STEP = """mutation($input: %sInput!) { %s(input: $input) {
  flag { id status events { kind note byOfficial actor { name } } } errors { code field } } }"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


async def step(gql, name, token, **data):
    field = name[0].lower() + name[1:]
    return await gql(STEP % (name, field), {"input": data}, token=token)


@pytest.fixture
async def item(gql, demo):
    d = await published(
        gql,
        await gql.login(CLERK),
        demo.villages[0],
        category="VILLAGE_AFFAIRS",
        title="修路工程决算公示",
        body="决算金额十二万元。",
    )
    return d["id"]


async def raise_flag(gql, token, target, **extra):
    data = {
        "targetId": target,
        "reasonCode": "AMOUNT_QUESTIONED",
        "body": "决算比预算多出两万元，没有说明原因。",
    }
    data.update(extra)
    payload = await gql.mutate("flagIssue", FLAG_ISSUE, data, token=token)
    assert payload["errors"] == [], payload
    return payload["flag"]


async def test_the_whole_lifecycle_with_public_notes(gql, demo, item):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item)
    assert flag["status"] == "SUBMITTED" and flag["flagger"]["name"] == "村民 赵大山"  # own flag
    official = await gql.login(OFFICIAL)
    for name, data, status in [
        ("AcceptFlag", {"note": "已受理，将核查决算明细"}, "ACCEPTED"),
        ("StartInvestigation", {"note": "镇经管站进村核账"}, "INVESTIGATING"),
        ("ResolveFlag", {"response": "多出部分为新增排水沟，已补充公示"}, "RESOLVED"),
    ]:
        body = await step(gql, name, official, id=flag["id"], **data)
        assert body["data"][name[0].lower() + name[1:]]["flag"]["status"] == status, body
    confirm = await step(gql, "ConfirmResolution", villager, id=flag["id"])
    assert confirm["data"]["confirmResolution"]["flag"]["status"] == "CONFIRMED"
    timeline = (
        await gql.data(
            "query($id: ID!) { flag(id: $id) { events { kind note byOfficial actor { name } } } }",
            {"id": flag["id"]},
        )
    )["flag"]["events"]
    assert [e["kind"] for e in timeline] == [
        "SUBMITTED",
        "ACCEPTED",
        "INVESTIGATING",
        "RESOLVED",
        "CONFIRMED",
    ]
    assert timeline[0]["actor"] is None and timeline[-1]["actor"] is None  # the flagger's own steps
    assert timeline[1]["actor"] == {"name": "镇干部 张伟"} and timeline[3]["note"].startswith(
        "多出部分"
    )
    assert await AuditEntry.filter(action__startswith="flag.").count() == 5
    kinds = await NotificationEvent.filter(user_id=demo.users["VILLAGER"].id).values_list(
        "kind", flat=True
    )
    # the three official steps; their own confirmation is no news to the flagger
    assert list(kinds).count("FLAG_STATUS") == 3
    assert (
        await NotificationEvent.filter(
            user_id=demo.users["OFFICIAL"].id, kind="FLAG_ASSIGNED"
        ).count()
        == 1
    )
    counts = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { flagCounts { total open resolved } } }",
        {"id": item},
    )
    assert counts["disclosure"]["flagCounts"] == {"total": 1, "open": 0, "resolved": 1}


async def test_forbidden_steps_for_each_role(gql, demo, item):
    flag = await raise_flag(gql, await gql.login(VILLAGER), item)
    for phone in (VILLAGER, CLERK, SUPERVISOR, INSPECTOR, ADMIN):
        body = await step(gql, "AcceptFlag", await gql.login(phone), id=flag["id"])
        assert error_codes(body) == ["FORBIDDEN"], phone
    official = await gql.login(OFFICIAL)
    body = await step(gql, "ResolveFlag", official, id=flag["id"], response="直接办结")
    assert body["data"]["resolveFlag"]["errors"] == [{"code": "WRONG_STATUS", "field": "id"}]
    body = await step(gql, "RejectFlag", official, id=flag["id"], reason="")
    assert body["data"]["rejectFlag"]["errors"][0]["code"] == "REASON_REQUIRED"
    body = await step(gql, "ConfirmResolution", official, id=flag["id"])
    assert error_codes(body) == ["FORBIDDEN"]  # only the flagger answers
    assert (await Flag.get(id=int(_pk(flag["id"])))).status == "SUBMITTED"


async def test_reopening_once_sends_the_flag_to_the_county(gql, demo, item):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item)
    official = await gql.login(OFFICIAL)
    await step(gql, "RejectFlag", official, id=flag["id"], reason="决算已经审计")
    reopened = await step(gql, "ReopenFlag", villager, id=flag["id"], reason="审计报告没有公开")
    assert reopened["data"]["reopenFlag"]["flag"]["status"] == "REOPENED"
    assert (
        await NotificationEvent.filter(
            user_id=demo.users["INSPECTOR"].id, kind="FLAG_ESCALATED"
        ).count()
        == 1
    )
    inspector = await gql.login(INSPECTOR)
    accepted = await step(gql, "AcceptFlag", inspector, id=flag["id"], note="县纪委已接手")
    assert accepted["data"]["acceptFlag"]["flag"]["status"] == "ACCEPTED"
    await step(gql, "ResolveFlag", inspector, id=flag["id"], response="审计报告已补充公开")
    again = await step(gql, "ReopenFlag", villager, id=flag["id"], reason="还是不满意")
    assert again["data"]["reopenFlag"]["errors"] == [{"code": "WRONG_STATUS", "field": "id"}]


async def test_me_too_once_per_user_and_similar_flags_are_offered(gql, demo, item):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item)
    neighbour = await resident(gql, demo, "13911115501")
    similar = await gql.data(
        "query($t: ID!) { similarFlags(targetId: $t) { id supportCount } }",
        {"t": item},
        token=neighbour,
    )
    assert [f["id"] for f in similar["similarFlags"]] == [flag["id"]]
    support = """mutation($input: SupportFlagInput!) { supportFlag(input: $input) {
      flag { supportCount } errors { code } } }"""
    for _ in range(2):
        out = await gql.mutate("supportFlag", support, {"id": flag["id"]}, token=neighbour)
        assert out["flag"]["supportCount"] == 1
    own = await gql.mutate("supportFlag", support, {"id": flag["id"]}, token=villager)
    assert own["errors"] == [{"code": "OWN_FLAG"}]


async def test_bad_flags_are_refused_and_change_nothing(gql, demo, item):
    villager = await gql.login(VILLAGER)
    cases = [
        ({"body": "短"}, "INVALID_FLAG_BODY"),
        ({"mediaIds": [gid("Media", 999)]}, "NOT_FOUND"),
    ]
    for extra, code in cases:
        data = {"targetId": item, "reasonCode": "OTHER", "body": "决算比预算多出两万元。"}
        data.update(extra)
        out = await gql.mutate("flagIssue", FLAG_ISSUE, data, token=villager)
        assert out["errors"][0]["code"] == code
    newcomer = await resident(gql, demo, "13911115502", verify=False)
    out = await gql.mutate(
        "flagIssue",
        FLAG_ISSUE,
        {"targetId": item, "reasonCode": "OTHER", "body": "我也觉得有问题。"},
        token=newcomer,
    )
    assert out["errors"] == [{"code": "RESIDENCY_REQUIRED", "field": "targetId"}]
    assert await Flag.all().count() == 0


IDENTITY = """query($id: ID!) { node(id: $id) { ... on Flag { flagger { name phone } supporters { name } events { actor { name } } } } }"""


async def test_the_flaggers_identity_is_hidden_on_every_path(gql, demo, item):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item)
    supporter = await resident(gql, demo, "13911115503")
    await gql.mutate(
        "supportFlag",
        "mutation($input: SupportFlagInput!) { supportFlag(input: $input) { errors { code } } }",
        {"id": flag["id"]},
        token=supporter,
    )
    paths = {
        "node": (IDENTITY, {"id": flag["id"]}, lambda d: d["node"]),
        "flag": (
            "query($id: ID!) { flag(id: $id) { flagger { name } supporters { name } events { actor { name } } } }",
            {"id": flag["id"]},
            lambda d: d["flag"],
        ),
        "nested": (
            "query($id: ID!) { disclosure(id: $id) { flags { flagger { name } supporters { name } events { actor { name } } } } }",
            {"id": item},
            lambda d: d["disclosure"]["flags"][0],
        ),
        "similar": (
            "query($t: ID!) { similarFlags(targetId: $t) { flagger { name } supporters { name } events { actor { name } } } }",
            {"t": item},
            lambda d: d["similarFlags"][0],
        ),
    }
    hidden_from = {
        "public": None,
        "clerk": await gql.login(CLERK),
        "supervisor": await gql.login(SUPERVISOR),
        "admin": await gql.login(ADMIN),
        "other villager": await resident(gql, demo, "13911115504"),
    }
    for who, token in hidden_from.items():
        for path, (query, variables, pick) in paths.items():
            node = pick(await gql.data(query, variables, token=token))
            assert node["flagger"] is None and node["supporters"] == [], (who, path)
            assert all(e["actor"] is None for e in node["events"]), (who, path)
            body = await gql(query, variables, token=token)
            assert "赵大山" not in str(body) and "13800000006" not in str(body), (who, path)
        queue = await gql(
            "query($r: ID!) { flags(regionId: $r) { edges { node { id } } } }",
            {"r": gid("Region", demo.villages[0].id)},
            token=token,
        )
        assert error_codes(queue) == (["UNAUTHENTICATED"] if token is None else ["FORBIDDEN"]), who
    for phone in (OFFICIAL, INSPECTOR):
        node = (await gql.data(IDENTITY, {"id": flag["id"]}, token=await gql.login(phone)))["node"]
        assert node["flagger"]["name"] == "村民 赵大山" and len(node["supporters"]) == 1
    # Error messages do not name anyone either.
    body = await step(gql, "AcceptFlag", await gql.login(CLERK), id=flag["id"])
    assert "赵大山" not in str(body)


async def test_the_officials_queue_puts_the_oldest_due_first(gql, demo, item):
    villager = await gql.login(VILLAGER)
    first = await raise_flag(gql, villager, item)
    second = await raise_flag(gql, villager, item, reasonCode="RECEIPT_MISSING")
    await Flag.filter(id=_pk(second["id"])).update(due_at=datetime.now(UTC) - timedelta(days=1))
    queue = await gql.data(
        "query($r: ID!, $o: Boolean) { flags(regionId: $r, overdue: $o) { edges { node { id overdue } } } }",
        {"r": gid("Region", demo.townships[0].id)},
        token=await gql.login(OFFICIAL),
    )
    assert [e["node"]["id"] for e in queue["flags"]["edges"]] == [second["id"], first["id"]]
    late = await gql.data(
        "query($r: ID!) { flags(regionId: $r, overdue: true) { edges { node { id } } } }",
        {"r": gid("Region", demo.townships[0].id)},
        token=await gql.login(OFFICIAL),
    )
    assert [e["node"]["id"] for e in late["flags"]["edges"]] == [second["id"]]


async def test_an_overdue_flag_escalates_when_the_clock_moves_on(gql, demo, item):
    flag = await raise_flag(gql, await gql.login(VILLAGER), item)
    stored = await Flag.get(id=_pk(flag["id"]))
    assert await escalate_overdue_flags(stored.due_at - timedelta(minutes=1)) == 0
    assert await escalate_overdue_flags(stored.due_at + timedelta(minutes=1)) == 1
    assert await escalate_overdue_flags(stored.due_at + timedelta(hours=2)) == 0  # once
    node = (
        await gql.data(
            "query($id: ID!) { flag(id: $id) { escalated events { kind } } }", {"id": flag["id"]}
        )
    )["flag"]
    assert node["escalated"] is True and node["events"][-1]["kind"] == "ESCALATED"
    assert await AuditEntry.filter(action="flag.escalate").count() == 1
    assert (
        await NotificationEvent.filter(
            user_id=demo.users["INSPECTOR"].id, kind="FLAG_ESCALATED"
        ).count()
        == 1
    )


async def test_deadlines_skip_weekends_and_holidays(app):
    # Submitted on Thursday 2026-10-01 (a holiday week): 1–7 October off, 10 October worked.
    for day in range(1, 8):
        await Holiday.create(day=date(2026, 10, day), name="国庆节")
    await Holiday.create(day=date(2026, 10, 10), name="国庆调休", workday=True)
    submitted = datetime(2026, 10, 1, 3, tzinfo=UTC)  # 11:00 in Beijing
    due = await due_after(submitted, 5)
    # Working days: 8, 9, 10 (Saturday, worked), 12, 13 → due at the end of 13 October.
    assert due == datetime(2026, 10, 13, 16, tzinfo=UTC)
    plain = await due_after(datetime(2026, 11, 2, 3, tzinfo=UTC), 5)  # a Monday
    assert plain == datetime(2026, 11, 9, 16, tzinfo=UTC)


def _pk(global_id: str) -> int:
    from api.relay import from_global_id

    return int(from_global_id(global_id)[1])


STATS = """query($r: ID!, $level: RegionKind, $sort: StatsSort, $desc: Boolean) {
  supervisionStats(regionId: $r, from: "2026-07-01", to: "2026-08-01", level: $level,
                   sortBy: $sort, descending: $desc, first: 50) {
    edges { node { region { name } onTimeDisclosureRate disclosuresDue disclosuresOnTime
      flagsReceived flagsResolved flagsRejected flagsOverdue flagsReopened
      medianHoursToFirstResponse medianHoursToResolution } } } }"""


async def test_league_tables_equal_hand_counts(gql, demo):
    from models.disclosures import CatalogueItem, Disclosure

    clerk = await gql.login(CLERK)
    v0, v1 = demo.villages[0], demo.villages[1]
    t0 = datetime(2026, 7, 3, 2, tzinfo=UTC)
    hours = timedelta(hours=1)
    # Village 0: three flags. Answered in 2 h and resolved at 10 h; rejected after 4 h;
    # never answered, past its due time.
    item = (await published(gql, clerk, v0, title="二季度村务"))["id"]
    for _ in range(3):
        await raise_flag(gql, await gql.login(VILLAGER), item)
    flags = await Flag.all().order_by("id")
    await Flag.filter(id=flags[0].id).update(
        created_at=t0,
        first_response_at=t0 + 2 * hours,
        closed_at=t0 + 10 * hours,
        status="RESOLVED",
    )
    await Flag.filter(id=flags[1].id).update(
        created_at=t0,
        first_response_at=t0 + 4 * hours,
        closed_at=t0 + 4 * hours,
        status="REJECTED",
        reopened=True,
    )
    await Flag.filter(id=flags[2].id).update(created_at=t0, due_at=t0 + 120 * hours)
    # Village 0 publishes two quarterly items for Q2: one on time, one late (due 20 July).
    for code, day in (("CW-03", 15), ("CW-01", 25)):
        d = await Disclosure.create(
            region=v0,
            region_path=v0.path,
            category="VILLAGE_AFFAIRS",
            catalogue_item=await CatalogueItem.get(code=code),
            title=code,
            body="…",
            period="2026-Q2",
            author_id=demo.users["CLERK"].id,
            status="PUBLISHED",
            version=1,
            first_published_at=datetime(2026, 7, day, 2, tzinfo=UTC),
            published_at=datetime(2026, 7, day, 2, tzinfo=UTC),
        )
        assert d.id
    due_items = await CatalogueItem.filter(
        required=True,
        parent_id=None,
        active=True,
        frequency__in=["MONTHLY", "QUARTERLY", "HALF_YEARLY"],
    ).count()  # June (due 10 July), Q2 and H1 (due 20 July) all fall due in July

    data = await gql.data(STATS, {"r": gid("Region", demo.townships[0].id)})
    by_name = {e["node"]["region"]["name"]: e["node"] for e in data["supervisionStats"]["edges"]}
    assert set(by_name) == {v.name for v in demo.villages[:4]}
    first = by_name[v0.name]
    assert first["disclosuresDue"] == due_items and first["disclosuresOnTime"] == 1
    assert first["onTimeDisclosureRate"] == round(1 / due_items, 4)
    assert (
        first["flagsReceived"],
        first["flagsResolved"],
        first["flagsRejected"],
        first["flagsOverdue"],
        first["flagsReopened"],
    ) == (3, 1, 1, 1, 1)
    assert first["medianHoursToFirstResponse"] == 3.0  # median of 2 h and 4 h
    assert first["medianHoursToResolution"] == 10.0
    second = by_name[v1.name]
    assert second["flagsReceived"] == 0 and second["disclosuresOnTime"] == 0
    assert second["medianHoursToFirstResponse"] is None

    ranked = await gql.data(
        STATS, {"r": gid("Region", demo.townships[0].id), "sort": "ON_TIME_RATE", "desc": True}
    )
    assert ranked["supervisionStats"]["edges"][0]["node"]["region"]["name"] == v0.name
    county = await gql.data(STATS, {"r": gid("Region", demo.county.id), "level": "TOWNSHIP"})
    townships = {
        e["node"]["region"]["name"]: e["node"] for e in county["supervisionStats"]["edges"]
    }
    assert townships["东溪镇"]["flagsReceived"] == 3
    assert townships["东溪镇"]["disclosuresDue"] == 4 * due_items
    assert townships["南岭乡"]["flagsReceived"] == 0
    # Public: no token needed, and nothing personal in it.
    assert "赵大山" not in str(data)


async def test_league_tables_are_cached_and_refreshed(app, gql, demo):
    from models.flags import StatsSnapshot
    from models.regions import RegionKind

    stats = app.state.services.stats
    assert await stats.refresh() == 1  # one county, both levels
    if app.state.services.redis is None:
        assert await StatsSnapshot.all().count() == 2
    this_year = datetime.now(UTC).year
    cached = await stats.get(
        demo.county, date(this_year, 1, 1), date(this_year + 1, 1, 1), RegionKind.TOWNSHIP
    )
    # the store keeps the rows' scan order, which PostgreSQL does not fix (the API sorts)
    by_id = sorted(cached, key=lambda r: r.region.id)
    assert [r.region.name for r in by_id] == ["东溪镇", "南岭乡", "西坪镇"]


AUDIT = """query($r: ID!) { auditLog(regionId: $r, action: "flag.submit") { edges { node {
  action objectType actor { name } ip } } } }"""


async def test_audit_log_reads_hide_the_flagger_from_admins(gql, demo, item):
    await raise_flag(gql, await gql.login(VILLAGER), item)
    village = gid("Region", demo.villages[0].id)
    admin_view = await gql.data(AUDIT, {"r": village}, token=await gql.login(ADMIN))
    entries = [e["node"] for e in admin_view["auditLog"]["edges"]]
    assert entries == [{"action": "flag.submit", "objectType": "Flag", "actor": None, "ip": None}]
    inspector_view = await gql.data(AUDIT, {"r": village}, token=await gql.login(INSPECTOR))
    assert inspector_view["auditLog"]["edges"][0]["node"]["actor"] == {"name": "村民 赵大山"}
    for phone in (VILLAGER, CLERK, SUPERVISOR, OFFICIAL):
        body = await gql(AUDIT, {"r": village}, token=await gql.login(phone))
        assert error_codes(body) == ["FORBIDDEN"], phone
    # Other entries keep their actors for admins: accountability of officials is public.
    publish = await gql.data(
        'query($r: ID!) { auditLog(regionId: $r, action: "disclosure.publish") { edges { node { actor { name } } } } }',
        {"r": village},
        token=await gql.login(ADMIN),
    )
    assert publish["auditLog"]["edges"][0]["node"]["actor"] == {"name": "村文书 刘芳"}


async def test_a_system_admin_keeps_the_holiday_table(gql, demo, settings):
    from scripts.create_admin import create_admin

    mutation = """mutation($input: SetHolidayInput!) { setHoliday(input: $input) {
      holiday { day name workday } errors { code } } }"""
    body = await gql(
        mutation, {"input": {"day": "2026-10-01", "name": "国庆节"}}, token=await gql.login(ADMIN)
    )
    assert error_codes(body) == ["FORBIDDEN"]  # a county admin: the calendar is national
    await create_admin(settings, "13700000007", "operator-password", "运维")
    operator = await gql.login("13700000007", "operator-password")
    for day, name, workday in [("2026-10-01", "国庆节", False), ("2026-10-10", "国庆调休", True)]:
        out = await gql.mutate(
            "setHoliday", mutation, {"day": day, "name": name, "workday": workday}, token=operator
        )
        assert out["holiday"] == {"day": day, "name": name, "workday": workday}
    listed = await gql.data("{ holidays(year: 2026) { day workday } }")
    assert listed["holidays"] == [
        {"day": "2026-10-01", "workday": False},
        {"day": "2026-10-10", "workday": True},
    ]
    await gql.mutate(
        "setHoliday", mutation, {"day": "2026-10-01", "name": "x", "remove": True}, token=operator
    )
    assert len((await gql.data("{ holidays(year: 2026) { day } }"))["holidays"]) == 1
