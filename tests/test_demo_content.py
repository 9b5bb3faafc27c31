"""The demo `make run` loads (seed_demo with content): every screen has something real, all
of it made through the domain operations at times in the past, read back over HTTP.

Seeding takes seconds, so one test per backend seeds once and walks every screen.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from api.relay import to_global_id
from models.disclosures.periods import SHANGHAI
from scripts.demo.content import year_of_months
from scripts.seed_demo import SOURCE, seed_demo

INSPECTOR, OFFICIAL, SUPERVISOR = "13800000002", "13800000003", "13800000005"
FEATURED = ("东溪村", "柳塘村", "南岭村", "西坪村")


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


async def test_the_demo_has_a_year_of_village_life(app, settings, gql):
    started = datetime.now(UTC)
    demo = await seed_demo(settings, content=True)
    assert demo is not None
    villages = {v.name: v for v in demo.villages}
    inspector = await gql.login(INSPECTOR)

    await every_chain_verifies(gql, [villages[n].id for n in FEATURED] + [demo.townships[0].id])
    await twelve_published_months_with_receipts(gql, villages["东溪村"].id, started)
    await a_decided_risk_hit_and_a_correction(gql, villages["东溪村"].id, started)
    await the_league_table_is_believable(gql, demo.county.id, villages, started)
    await flags_in_every_status(gql, demo.county.id, inspector, started)
    await comments_with_replies(gql, villages["东溪村"].id)
    await the_seed_is_in_the_audit_log(gql, demo.county.id, inspector)
    await what_a_farmer_opens_the_app_for(gql, villages["东溪村"].id)
    assert await seed_demo(settings) is None  # only ever into an empty database


async def every_chain_verifies(gql, region_ids):
    for region_id in region_ids:
        check = await gql.data(
            "query($v: ID!) { verifyLedger(villageId: $v) { ok length firstBrokenAt } }",
            {"v": gid("Region", region_id)},
        )
        assert check["verifyLedger"]["ok"], check
        assert check["verifyLedger"]["length"] >= 2


MONTH = """query($v: ID!, $y: Int!, $m: Int!) { monthlyAccount(villageId: $v, year: $y, month: $m) {
  status version openingBalanceFen closingBalanceFen incomeFen expenseFen lineCount disclosureId
  lines(first: 50) { edges { node { lineNo date direction subjectCode amountFen counterparty
    summary receipt { url mimeType width } } } } } }"""


async def twelve_published_months_with_receipts(gql, village_id, started):
    months = year_of_months(started)
    closing = None
    summaries = set()
    for year, month in months:  # read as the public reads them: no token
        data = await gql.data(MONTH, {"v": gid("Region", village_id), "y": year, "m": month})
        account = data["monthlyAccount"]
        assert account["status"] == "PUBLISHED"
        if closing is not None:  # each month opens with the last one's closing balance
            assert account["openingBalanceFen"] == closing
        closing = account["closingBalanceFen"]
        assert (
            closing == account["openingBalanceFen"] + account["incomeFen"] - account["expenseFen"]
        )
        lines = [e["node"] for e in account["lines"]["edges"]]
        assert len(lines) == account["lineCount"] >= 5
        assert {line["direction"] for line in lines} == {"INCOME", "EXPENSE"}
        assert all(
            line["subjectCode"] in {"501", "502", "503", "504", "511", "513", "514", "515"}
            for line in lines
        )
        assert all(date.fromisoformat(line["date"]).month == month for line in lines)
        receipts = [line["receipt"] for line in lines if line["receipt"]]
        assert receipts and all(r["url"] and r["mimeType"] == "image/jpeg" for r in receipts)
        summaries |= {line["summary"] for line in lines}
        published = await gql.data(
            "query($id: ID!) { disclosure(id: $id) { firstPublishedAt period } }",
            {"id": account["disclosureId"]},
        )
        at = parse(published["disclosure"]["firstPublishedAt"])
        assert date(year, month, 28) < at.date() + timedelta(days=4) and at < started
        assert published["disclosure"]["period"] == f"{year}-{month:02d}"
    assert len(summaries) > 12 * 5  # the months differ, not one month repeated
    # a receipt is a real image the public can fetch
    url = receipts[0]["url"]
    response = await gql.client.get(url)
    assert response.status_code == 200 and response.content[:2] == b"\xff\xd8"


async def a_decided_risk_hit_and_a_correction(gql, village_id, started):
    token = await gql.login(SUPERVISOR)
    hits, corrected = [], []
    for year, month in year_of_months(started):
        data = await gql.data(
            """query($v: ID!, $y: Int!, $m: Int!) { monthlyAccount(villageId: $v, year: $y,
              month: $m) { version disclosureId riskHits { rule status note decidedAt } } }""",
            {"v": gid("Region", village_id), "y": year, "m": month},
            token=token,
        )
        account = data["monthlyAccount"]
        hits += account["riskHits"]
        if account["version"] > 1:
            corrected.append(account["disclosureId"])
    assert hits and {h["status"] for h in hits} == {"CLEARED"}
    assert all(h["note"] and parse(h["decidedAt"]) < started for h in hits)
    assert {h["rule"] for h in hits} == {"DUPLICATE_PAYMENT"}
    [disclosure_id] = corrected
    data = await gql.data(
        """query($id: ID!) { disclosure(id: $id) { approvedAt
          versions { version reason publishedAt } } }""",
        {"id": disclosure_id},
    )
    first, second = data["disclosure"]["versions"]
    assert first["reason"] is None and "514" in second["reason"]
    assert parse(first["publishedAt"]) < parse(second["publishedAt"]) < started
    # the correction's approval is the one shown, at the time it was published
    assert parse(data["disclosure"]["approvedAt"]) == parse(second["publishedAt"])


async def the_league_table_is_believable(gql, county_id, villages, started):
    today = started.date()
    data = await gql.data(
        """query($r: ID!, $from: Date!, $to: Date!) { supervisionStats(regionId: $r,
          from: $from, to: $to, first: 50) { edges { node { region { name }
          onTimeDisclosureRate disclosuresDue disclosuresOnTime flagsReceived flagsOverdue
          flagsResolved flagsRejected flagsReopened medianHoursToFirstResponse } } } }""",
        {
            "r": gid("Region", county_id),
            "from": (today - timedelta(days=365)).isoformat(),
            "to": (today + timedelta(days=1)).isoformat(),
        },
    )
    stats = {e["node"]["region"]["name"]: e["node"] for e in data["supervisionStats"]["edges"]}
    for name in FEATURED:
        row = stats[name]
        assert 0.5 < row["onTimeDisclosureRate"] < 1, row  # mostly on time, not all
        assert row["disclosuresOnTime"] < row["disclosuresDue"]
    assert stats["西坪村"]["onTimeDisclosureRate"] < stats["东溪村"]["onTimeDisclosureRate"]
    flagged = [stats["东溪村"], stats["柳塘村"]]
    assert sum(r["flagsReceived"] for r in flagged) == 8
    assert sum(r["flagsOverdue"] for r in flagged) >= 2  # one never answered, one late
    assert all(r["medianHoursToFirstResponse"] for r in flagged)

    statuses: Counter[str] = Counter()
    for year, month in year_of_months(started)[::3]:
        period = f"{year}-Q{(month - 1) // 3 + 1}"
        report = await gql.data(
            """query($r: ID!, $p: String!) { disclosureCompliance(regionId: $r, period: $p,
              first: 50) { edges { node { village { name } onTime late missing pending } } } }""",
            {"r": gid("Region", county_id), "p": period},
        )
        for edge in report["disclosureCompliance"]["edges"]:
            node = edge["node"]
            if node["village"]["name"] in FEATURED:
                statuses.update(
                    {k: node[k] for k in ("onTime", "late", "missing", "pending") if node[k]}
                )
    assert statuses["onTime"] > 3 * (statuses["late"] + statuses["missing"])
    assert statuses["late"] > 0 and statuses["missing"] > 0


FLAGS = """query($r: ID!, $s: FlagStatus, $o: Boolean, $e: Boolean) { flags(regionId: $r,
  status: $s, overdue: $o, escalated: $e, first: 50) { edges { node { status anonymous overdue
  escalated createdAt dueAt firstResponseAt supportCount flagger { name }
  events { kind at byOfficial } } } } }"""


async def flags_in_every_status(gql, county_id, inspector, started):
    region = gid("Region", county_id)
    data = await gql.data(FLAGS, {"r": region}, token=inspector)
    flags = [e["node"] for e in data["flags"]["edges"]]
    statuses = Counter(f["status"] for f in flags)
    assert set(statuses) == {
        "SUBMITTED",
        "ACCEPTED",
        "INVESTIGATING",
        "RESOLVED",
        "REJECTED",
        "CONFIRMED",
        "REOPENED",
    }
    assert {f["anonymous"] for f in flags} == {True, False}
    assert any(f["supportCount"] for f in flags)
    assert len({f["flagger"]["name"] for f in flags}) >= 4  # from several villagers
    for flag in flags:  # every step in the past, in order, the deadline after submission
        times = [parse(e["at"]) for e in flag["events"]]
        assert times == sorted(times) and times[-1] < started
        assert parse(flag["createdAt"]) < parse(flag["dueAt"])
    overdue = await gql.data(FLAGS, {"r": region, "o": True}, token=inspector)
    [late] = [e["node"] for e in overdue["flags"]["edges"]]
    assert late["status"] == "SUBMITTED" and late["escalated"]
    assert parse(late["dueAt"]) < started
    assert [e["kind"] for e in late["events"]] == ["SUBMITTED", "ESCALATED"]
    escalated = await gql.data(FLAGS, {"r": region, "e": True}, token=inspector)
    assert {e["node"]["status"] for e in escalated["flags"]["edges"]} >= {"SUBMITTED", "REOPENED"}


async def comments_with_replies(gql, village_id):
    feed = await gql.data(
        """query($r: ID!) { disclosures(regionId: $r, first: 50) { edges { node { id title
          category commentCount } } } }""",
        {"r": gid("Region", village_id)},
    )
    items = [e["node"] for e in feed["disclosures"]["edges"]]
    # the village's own items and its township's notices
    assert {i["category"] for i in items} == {
        "FINANCE",
        "VILLAGE_AFFAIRS",
        "PARTY",
        "NOTICE",
        "FARMING",
    }
    commented = [i["id"] for i in items if i["commentCount"]]
    assert len(commented) >= 2
    threads = []
    for target in commented:
        data = await gql.data(
            """query($t: ID!) { comments(targetId: $t) { edges { node { body official
              author { name } replies { body official author { name } } } } } }""",
            {"t": target},
        )
        threads += [e["node"] for e in data["comments"]["edges"]]
    replies = [r for t in threads for r in t["replies"]]
    assert any(r["official"] for r in replies)  # an answer from the village's staff
    assert any(not r["official"] for r in replies)  # and a villager's reply
    assert not any(t["official"] for t in threads)  # the questions are the villagers'


async def the_seed_is_in_the_audit_log(gql, county_id, inspector):
    for action in ("accounts.approve", "flag.submit", "comment.add", "disclosure.publish"):
        log = await gql.data(
            """query($r: ID!, $a: String) { auditLog(regionId: $r, action: $a, first: 5) {
              edges { node { action requestId actor { name } } } } }""",
            {"r": gid("Region", county_id), "a": action},
            token=inspector,
        )
        entries = [e["node"] for e in log["auditLog"]["edges"]]
        assert entries and all(e["requestId"] == SOURCE for e in entries), action


FARMER = """query($v: ID!, $from: Date!, $to: Date!) {
  latestPrices(regionId: $v) { commodity { code } market { name } priceFen weekAgoFen changeFen }
  marketPrices(commodity: "RICE", regionId: $v, from: $from, to: $to) {
    points { date } minFen maxFen avgFen }
  mySubsidies { edges { node { item amountFen village { name } } } }
  myMustReadNotices { edges { node { title } } }
  disclosures(regionId: $v, tag: PEST) { edges { node { title tags } } } }"""


async def what_a_farmer_opens_the_app_for(gql, village_id):
    """Prices on the board with their week's change, a month's series, the villager's own
    subsidy row, a must-read notice they have not acknowledged, a pest warning by tag."""
    # prices are dated in Beijing: from 16:00 UTC on, Beijing's date is already tomorrow's
    today = datetime.now(SHANGHAI).date()
    found = await gql.data(
        FARMER,
        {
            "v": gid("Region", village_id),
            "from": (today - timedelta(days=40)).isoformat(),
            "to": today.isoformat(),
        },
        token=await gql.login("13800000006"),
    )
    board = found["latestPrices"]
    assert len({row["market"]["name"] for row in board}) == 2 and len(board) == 20
    assert all(row["weekAgoFen"] and row["changeFen"] is not None for row in board)
    series = found["marketPrices"]
    assert len(series["points"]) == 28 and series["minFen"] <= series["avgFen"] <= series["maxFen"]
    mine = [e["node"] for e in found["mySubsidies"]["edges"]]
    assert len(mine) == 1 and mine[0]["village"]["name"] == "东溪村" and mine[0]["amountFen"] > 0
    assert [e["node"]["title"] for e in found["myMustReadNotices"]["edges"]] == [
        "关于做好秋冬季森林防火工作的通知"
    ]
    assert [e["node"]["tags"] for e in found["disclosures"]["edges"]] == [["CROP", "PEST"]]
