"""Delta sync over HTTP: a client syncs the feed, an item's comments and the prices, then
changes arrive and the next sync (from the `serverTime` it was given) brings exactly them,
tombstones included, paged by (updatedAt, id) even across equal times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.relay import from_global_id, to_global_id
from models.comments import Comment
from models.disclosures import Disclosure
from models.prices.recording import beijing_today
from tests.test_flags import resident

CLERK, OFFICIAL, VILLAGER = "13800000004", "13800000003", "13800000006"
EPOCH = "2000-01-01T00:00:00+00:00"

FEED = """query($r: ID!, $u: DateTime, $a: String) {
  disclosures(regionId: $r, updatedSince: $u, first: 2, after: $a) {
    serverTime pageInfo { hasNextPage endCursor }
    edges { node { id title status version updatedAt expiresAt retractedAt } } } }"""
COMMENTS = """query($t: ID!, $u: DateTime, $a: String) {
  comments(targetId: $t, updatedSince: $u, first: 2, after: $a) {
    serverTime pageInfo { hasNextPage endCursor }
    edges { node { id body status updatedAt } } } }"""
PRICES = """query($r: ID!, $u: DateTime, $a: String) {
  priceUpdates(regionId: $r, updatedSince: $u, first: 2, after: $a) {
    serverTime pageInfo { hasNextPage endCursor }
    edges { node { commodity { code } market { name } date priceFen revision updatedAt } } } }"""

CREATE = """mutation($input: CreateDisclosureInput!) { createDisclosure(input: $input) {
  disclosure { id } errors { code } } }"""
STEP = """mutation($input: %sInput!) { %s(input: $input) { errors { code } } }"""
ADD = """mutation($input: AddCommentInput!) { addComment(input: $input) {
  comment { id } errors { code } } }"""
RECORD = """mutation($input: RecordMarketPricesInput!) { recordMarketPrices(input: $input) {
  errors { code } } }"""
MARKET = """mutation($input: CreateMarketInput!) { createMarket(input: $input) {
  market { id } errors { code } } }"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def key_of(node: dict) -> str:
    if "id" in node:
        return node["id"]
    return f"{node['commodity']['code']}|{node['market']['name']}|{node['date']}"


class Client:
    """What a phone keeps: every item by key with the updatedAt it last saw."""

    def __init__(self, gql, query: str, name: str, token: str | None = None, **variables) -> None:
        self.gql, self.query, self.name, self.variables = gql, query, name, variables
        self.token = token
        self.held: dict[str, dict] = {}
        self.since = EPOCH

    async def sync(self) -> list[dict]:
        """Page through everything since the last sync; answer what was new to us."""
        after, pages, server_time, seen = None, 0, None, []
        while True:
            data = await self.gql.data(
                self.query, {**self.variables, "u": self.since, "a": after}, token=self.token
            )
            page = data[self.name]
            server_time = server_time or page["serverTime"]  # the first page's: the earliest
            seen += [e["node"] for e in page["edges"]]
            pages += 1
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        order = [(n["updatedAt"], key_of(n)) for n in seen]
        assert len(set(order)) == len(order), "a page repeated an item"
        new = [n for n in seen if self.held.get(key_of(n), {}).get("updatedAt") != n["updatedAt"]]
        self.held.update({key_of(n): n for n in seen})
        self.since = server_time
        return new


async def step(gql, name, token, kind=None, **data):
    mutation = name[0].lower() + name[1:]
    out = await gql.mutate(mutation, STEP % (kind or name, mutation), data, token=token)
    assert out["errors"] == [], out


async def publish(gql, token, region, title):
    out = await gql.mutate(
        "createDisclosure",
        CREATE,
        {
            "regionId": gid("Region", region.id),
            "category": "VILLAGE_AFFAIRS",
            "title": title,
            "body": f"{title}：详见村务公开栏。",
        },
        token=token,
    )
    assert out["errors"] == [], out
    await step(gql, "PublishDisclosure", token, id=out["disclosure"]["id"])
    return out["disclosure"]["id"]


async def test_a_client_syncs_changes_and_tombstones_without_missing_any(gql, demo):
    clerk, official = await gql.login(CLERK), await gql.login(OFFICIAL)
    villager = await gql.login(VILLAGER)
    village, town = demo.villages[0], demo.townships[0]
    titles = ["修路方案公示", "低保名单公示", "水渠维修通知", "秋收补贴发放"]
    ids = [await publish(gql, clerk, village, t) for t in titles]
    comments = []
    for body in ("什么时候开工？", "预算明细在哪里？", "广告：低价出售化肥"):
        out = await gql.mutate(
            "addComment", ADD, {"targetId": ids[0], "body": body}, token=villager
        )
        assert out["errors"] == [], out
        comments.append(out["comment"]["id"])
    market = await gql.mutate(
        "createMarket",
        MARKET,
        {"regionId": gid("Region", town.id), "name": "东溪镇集市"},
        token=official,
    )
    market_id = market["market"]["id"]
    today = beijing_today()

    async def prices(rows):
        out = await gql.mutate("recordMarketPrices", RECORD, {"prices": rows}, token=official)
        assert out["errors"] == [], out

    rice = {"commodity": "RICE", "market": market_id, "priceFen": 260, "date": today.isoformat()}
    await prices([rice, {**rice, "commodity": "CORN", "priceFen": 130}])

    # ties on updatedAt: three items changed "at once" page without loss or repeat
    tie = datetime.now(UTC) - timedelta(hours=1)
    await Disclosure.filter(id__in=[int(from_global_id(i)[1]) for i in ids[1:]]).update(
        updated_at=tie
    )

    feed = Client(gql, FEED, "disclosures", r=gid("Region", village.id))
    talk = Client(gql, COMMENTS, "comments", t=ids[0])
    board = Client(gql, PRICES, "priceUpdates", r=gid("Region", village.id))
    first = await feed.sync()
    assert sorted(n["title"] for n in first) == sorted(titles)
    assert [n["title"] for n in first[:3]] == titles[1:]  # the tie, by id
    assert len(await talk.sync()) == 3
    assert {n["commodity"]["code"] for n in await board.sync()} == {"RICE", "CORN"}

    # the changes
    new_id = await publish(gql, clerk, village, "村集体经济收益分配方案")
    await gql.mutate(
        "correctDisclosure",
        """mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) {
          errors { code } } }""",
        {"id": ids[0], "body": "修路方案已通过，预算十五万元。", "reason": "预算数字录入错误"},
        token=clerk,
    )
    await step(gql, "RetractDisclosure", clerk, id=ids[1], reason="名单有误，核实后重新公示")
    await step(gql, "HideComment", official, "ModerateComment", id=comments[2], reason="商业广告")
    await step(gql, "DeleteComment", villager, id=comments[1])
    await prices([{**rice, "priceFen": 270}])  # a correction of today's rice

    changed = {n["id"]: n for n in await feed.sync()}
    assert set(changed) == {new_id, ids[0], ids[1]}
    assert changed[ids[0]]["version"] == 2
    assert changed[ids[1]]["status"] == "RETRACTED" and changed[ids[1]]["retractedAt"]
    stones = {n["id"]: n for n in await talk.sync()}
    assert set(stones) == {comments[1], comments[2]}
    assert stones[comments[1]]["status"] == "DELETED" and stones[comments[1]]["body"] is None
    assert stones[comments[2]]["status"] == "HIDDEN" and stones[comments[2]]["body"] is None
    [price] = await board.sync()
    assert (price["commodity"]["code"], price["priceFen"], price["revision"]) == ("RICE", 270, 2)

    # a write stamped before our read but committed after it is not missed: its time is
    # within the margin the serverTime leaves
    assert not await feed.sync()
    late = datetime.now(UTC) - timedelta(seconds=5)
    pk = int(from_global_id(ids[2])[1])
    await Disclosure.filter(id=pk).update(title="水渠维修通知（更正）", updated_at=late)
    [caught] = await feed.sync()
    assert caught["id"] == ids[2] and caught["title"] == "水渠维修通知（更正）"
    assert datetime.fromisoformat(feed.since) < late
    assert not await feed.sync() and not await talk.sync() and not await board.sync()

    bad = await gql(FEED, {"r": gid("Region", village.id), "u": EPOCH, "a": "bm9wZQ"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


FLAGS = """query($r: ID!, $u: DateTime, $a: String) {
  flags(regionId: $r, updatedSince: $u, first: 2, after: $a) {
    serverTime pageInfo { hasNextPage endCursor }
    edges { node { id status supportCount updatedAt } } } }"""
FLAG = """mutation($input: FlagIssueInput!) { flagIssue(input: $input) {
  flag { id } errors { code } } }"""
FLAG_STEP = """mutation($input: %sInput!) { %s(input: $input) { errors { code } } }"""


async def test_an_official_syncs_the_flags_of_their_township(gql, demo):
    """Flags raised, accepted and supported reach the official's next sync exactly once each,
    paged by (updatedAt, id); a villager may not read the queue, synced or not."""
    clerk, official = await gql.login(CLERK), await gql.login(OFFICIAL)
    villager = await gql.login(VILLAGER)
    target = await publish(gql, clerk, demo.villages[0], "村道硬化工程决算")
    township = gid("Region", demo.townships[0].id)
    phone = Client(gql, FLAGS, "flags", token=official, r=township)
    assert await phone.sync() == []
    raised = []
    for body in ("决算比预算多两万元", "施工方与村干部有亲属关系", "验收记录没有公开"):
        out = await gql.mutate(
            "flagIssue",
            FLAG,
            {"targetId": target, "reasonCode": "AMOUNT_QUESTIONED", "body": body},
            token=villager,
        )
        assert out["errors"] == [], out
        raised.append(out["flag"]["id"])
    assert sorted(n["id"] for n in await phone.sync()) == sorted(raised)
    accepted = await gql.mutate(
        "acceptFlag",
        FLAG_STEP % ("AcceptFlag", "acceptFlag"),
        {"id": raised[0], "note": "已受理"},
        token=official,
    )
    assert accepted["errors"] == [], accepted
    neighbour = await resident(gql, demo, "13911115502")
    supported = await gql.mutate(
        "supportFlag",
        FLAG_STEP % ("SupportFlag", "supportFlag"),
        {"id": raised[1]},
        token=neighbour,
    )
    assert supported["errors"] == [], supported
    new = await phone.sync()
    assert {n["id"] for n in new} == {raised[0], raised[1]}
    assert phone.held[raised[1]]["supportCount"] == 1
    assert phone.held[raised[0]]["status"] == "ACCEPTED"
    assert await phone.sync() == []  # nothing changed since: nothing new
    body = await gql(FLAGS, {"r": township, "u": EPOCH}, token=villager)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


FEED_COUNTS = """query($r: ID!, $u: DateTime, $a: String) {
  disclosures(regionId: $r, updatedSince: $u, first: 2, after: $a) {
    serverTime pageInfo { hasNextPage endCursor }
    edges { node { id title commentCount updatedAt } } } }"""
LEDGER = """query($v: ID!) { verifyLedger(villageId: $v) { ok length headHash } }"""
COMMENT_STEP = """mutation($input: %sInput!) { %s(input: $input) {
  comment { status updatedAt } errors { code } } }"""


async def test_each_comment_change_stamps_it_and_a_count_change_resyncs_its_item(gql, demo):
    """A comment's updatedAt is its own column, moved by every change a reader sees; when
    the item's visible count changes the item comes back in the feed's sync with the new
    commentCount (an edit or a report below the threshold moves no count), and the hash
    chain is what it was."""
    clerk, official = await gql.login(CLERK), await gql.login(OFFICIAL)
    villager = await gql.login(VILLAGER)
    village = demo.villages[0]
    item = await publish(gql, clerk, village, "修路方案公示")
    other = await publish(gql, clerk, village, "水渠维修通知")
    chain = (await gql.data(LEDGER, {"v": gid("Region", village.id)}))["verifyLedger"]
    assert chain["ok"]
    feed = Client(gql, FEED_COUNTS, "disclosures", r=gid("Region", village.id))
    talk = Client(gql, COMMENTS, "comments", t=item)
    assert {n["id"] for n in await feed.sync()} == {item, other}
    assert await talk.sync() == []

    async def change(name: str, token: str, kind: str | None = None, **data) -> dict:
        mutation = name[0].lower() + name[1:]
        query = COMMENT_STEP % (kind or name, mutation)
        out = await gql.mutate(mutation, query, data, token=token)
        assert out["errors"] == [], out
        return out["comment"]

    async def synced(expect_count: int | None) -> dict:
        """The comment sync's one new node; the feed's: the item with its count, or nothing."""
        [node] = await talk.sync()
        items = await feed.sync()
        if expect_count is None:
            assert items == []
        else:
            assert [(n["id"], n["commentCount"]) for n in items] == [(item, expect_count)]
        return node

    out = await gql.mutate(
        "addComment", ADD, {"targetId": item, "body": "何时开工？"}, token=villager
    )
    first = out["comment"]["id"]
    added = await synced(expect_count=1)
    assert added["id"] == first and added["status"] == "VISIBLE"
    stored = await Comment.get(id=int(from_global_id(first)[1]))
    assert stored.updated_at == datetime.fromisoformat(added["updatedAt"])  # the column, served

    def at(node: dict) -> datetime:
        return datetime.fromisoformat(node["updatedAt"])

    edited = await change("EditComment", villager, id=first, body="何时开工？工期多久？")
    assert at(edited) > at(added)
    assert (await synced(expect_count=None))["body"] == "何时开工？工期多久？"

    hidden = await change("HideComment", official, "ModerateComment", id=first, reason="重复")
    assert at(hidden) > at(edited)
    assert (await synced(expect_count=0))["status"] == "HIDDEN"
    await change("RestoreComment", official, "ModerateComment", id=first, reason="核实无误")
    assert (await synced(expect_count=1))["status"] == "VISIBLE"

    # reports: below the threshold nothing anyone is served changes; at it, the count does
    reporters = [await resident(gql, demo, f"139111166{i:02d}") for i in range(3)]
    for n, token in enumerate(reporters):
        await change("ReportComment", token, id=first, reason="不实")
        if n < 2:
            assert await talk.sync() == [] and await feed.sync() == []
    assert (await synced(expect_count=0))["status"] == "REPORTED"
    # deleting a hidden comment changes it, not the count; deleting a visible one both
    await change("DeleteComment", villager, id=first)
    assert (await synced(expect_count=None))["status"] == "DELETED"
    out = await gql.mutate(
        "addComment", ADD, {"targetId": item, "body": "预算呢？"}, token=villager
    )
    assert (await synced(expect_count=1))["id"] == out["comment"]["id"]
    await change("DeleteComment", villager, id=out["comment"]["id"])
    assert (await synced(expect_count=0))["status"] == "DELETED"

    # (the other item never came back: `synced`); the chain is untouched by the moved time
    again = (await gql.data(LEDGER, {"v": gid("Region", village.id)}))["verifyLedger"]
    assert again == chain

    # three comments stamped at the same instant page by id, none lost or repeated
    out = await gql.mutate("addComment", ADD, {"targetId": item, "body": "第三条"}, token=villager)
    tie = datetime.now(UTC) - timedelta(hours=1)
    await Comment.filter(target_id=int(from_global_id(item)[1])).update(updated_at=tie)
    fresh = Client(gql, COMMENTS, "comments", t=item)
    assert [n["body"] for n in await fresh.sync()] == [None, None, "第三条"]  # two tombstones
