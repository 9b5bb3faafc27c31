"""The response cache over HTTP: anonymous answers come from it until a write changes what
they read, at once (a publication, a county notice, a comment, a flag, a price, a
retraction; a script's write on the same SQLite file; another instance's write through
Redis); a 304 and a hit execute nothing; signed-in requests neither read nor fill it; a
rolled-back write changes nothing; Redis down costs the cache, not the answers. Attacks:
headers, language oddities, variable order, huge variables, errors, stale ETags."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from redis import exceptions as redis_errors
from tortoise.transactions import in_transaction

from api.app import create_app
from api.relay import from_global_id
from api.services import Services, connect_redis, response_cache
from api.settings import Settings
from models import data_versions
from models.audit import record
from models.disclosures import Disclosure
from models.policy import Viewer
from tests.client import GQL
from tests.test_disclosures import ADMIN, CLERK, OFFICIAL, VILLAGER, gid, published
from tests.test_flags import raise_flag
from tests.test_prices import BOARD, RECORD, two_markets

FEED = """query($region: ID) { disclosures(regionId: $region) {
  edges { node { id title status commentCount flagCounts { open } } } } }"""
COMMENTS = "query($t: ID!) { comments(targetId: $t) { edges { node { body } } } }"
ADD_COMMENT = """mutation($input: AddCommentInput!) { addComment(input: $input) {
  comment { id } errors { code } } }"""
RETRACT = """mutation($input: RetractDisclosureInput!) { retractDisclosure(input: $input) {
  disclosure { status } errors { code } } }"""
NOTICE_FEED = """query($region: ID) { disclosures(regionId: $region) {
  edges { node { id title acknowledgedByMe } } } }"""
ACK = """mutation($input: AcknowledgeNoticeInput!) { acknowledgeNotice(input: $input) {
  errors { code } } }"""


class FrozenClock:
    """A clock that stands still unless moved: the cache's time window never turns over
    in the middle of a test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def move(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(settings: Settings, clock: FrozenClock) -> Settings:
    return settings.with_overrides(clock=clock)


def executions(app) -> int:
    return app.state.graphql.executions


def titles(body: dict) -> list[str]:
    return [e["node"]["title"] for e in body["data"]["disclosures"]["edges"]]


async def test_a_write_makes_every_cached_read_fresh_at_once(app, gql, demo):
    village, township, county = demo.villages[0], demo.townships[0], demo.county
    feeds = {r: {"region": gid("Region", r.id)} for r in (village, township, county)}
    for variables in feeds.values():
        assert titles(await gql(FEED, variables)) == []
    ran = executions(app)
    for variables in feeds.values():  # all three from the cache
        assert titles(await gql(FEED, variables)) == []
    assert executions(app) == ran

    clerk = await gql.login(CLERK)
    item = (await published(gql, clerk, village, title="修路方案公示"))["id"]
    for variables in feeds.values():  # village, township and county: at once
        assert titles(await gql(FEED, variables)) == ["修路方案公示"]
    ran = executions(app)
    await gql(FEED, feeds[village])
    assert executions(app) == ran

    # a county notice reaches the village feed at once
    admin = await gql.login(ADMIN)
    await published(gql, admin, county, category="NOTICE", title="防火通知", body="禁止野外用火。")
    assert "防火通知" in titles(await gql(FEED, feeds[village]))

    # a comment: the comment list and the feed's count
    assert await gql.data(COMMENTS, {"t": item}) == {"comments": {"edges": []}}
    villager = await gql.login(VILLAGER)
    added = await gql.mutate(
        "addComment", ADD_COMMENT, {"targetId": item, "body": "材料费为什么高？"}, token=villager
    )
    assert added["errors"] == []
    comments = await gql.data(COMMENTS, {"t": item})
    assert comments["comments"]["edges"] == [{"node": {"body": "材料费为什么高？"}}]
    node = next(
        e["node"]
        for e in (await gql(FEED, feeds[village]))["data"]["disclosures"]["edges"]
        if e["node"]["id"] == item
    )
    assert node["commentCount"] == 1 and node["flagCounts"]["open"] == 0

    # a flag: the count in the township's feed
    await raise_flag(gql, villager, item)
    node = next(
        e["node"]
        for e in (await gql(FEED, feeds[township]))["data"]["disclosures"]["edges"]
        if e["node"]["id"] == item
    )
    assert node["flagCounts"]["open"] == 1

    # a retraction: the county's feed says so
    out = await gql.mutate(
        "retractDisclosure",
        RETRACT,
        {"id": item, "reason": "名单有误，核实后重新公示"},
        token=clerk,
    )
    assert out["errors"] == []
    edges = (await gql(FEED, feeds[county]))["data"]["disclosures"]["edges"]
    assert [e["node"]["status"] for e in edges if e["node"]["id"] == item] == ["RETRACTED"]


async def test_a_price_makes_the_board_fresh(app, gql, demo):
    market, _ = await two_markets(gql, demo)
    board = {"r": gid("Region", demo.villages[0].id)}
    assert await gql.data(BOARD, board) == {"latestPrices": []}
    ran = executions(app)
    assert await gql.data(BOARD, board) == {"latestPrices": []}
    assert executions(app) == ran
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    row = {"commodity": "RICE", "market": market["id"], "priceFen": 250, "date": day}
    official = await gql.login(OFFICIAL)
    assert (await gql.mutate("recordMarketPrices", RECORD, {"prices": [row]}, token=official))[
        "errors"
    ] == []
    [price] = (await gql.data(BOARD, board))["latestPrices"]
    assert price["priceFen"] == 250


async def test_a_304_and_a_hit_execute_nothing_and_a_write_changes_the_etag(app, client, gql, demo):
    params = {
        "query": FEED,
        "variables": orjson.dumps({"region": gid("Region", demo.county.id)}).decode(),
    }
    first = await client.get("/graphql", params=params)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert "Accept-Language" in first.headers["vary"]
    assert "Authorization" in first.headers["vary"]
    ran = executions(app)
    again = await client.get("/graphql", params=params)
    assert again.content == first.content and again.headers["etag"] == etag
    not_modified = await client.get("/graphql", params=params, headers={"if-none-match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert executions(app) == ran

    await published(gql, await gql.login(CLERK), demo.villages[0], title="新公示")
    stale = await client.get("/graphql", params=params, headers={"if-none-match": etag})
    assert stale.status_code == 200 and stale.headers["etag"] != etag
    assert titles(stale.json()) == ["新公示"]

    # a big answer: compressed once when kept, the same bytes when served again
    for n in range(6):
        await published(gql, await gql.login(CLERK), demo.villages[0], title=f"公示{n}" * 20)
    fresh = await client.get("/graphql", params=params, headers={"accept-encoding": "gzip"})
    hit = await client.get("/graphql", params=params, headers={"accept-encoding": "gzip"})
    assert fresh.headers["content-encoding"] == "gzip" == hit.headers["content-encoding"]
    assert fresh.content == hit.content and len(titles(hit.json())) == 7
    plain = await client.get("/graphql", params=params, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == hit.json()


async def test_signed_in_requests_never_read_or_fill_the_cache(app, gql, demo):
    admin = await gql.login(ADMIN)
    notice = await published(
        gql,
        admin,
        demo.county,
        category="NOTICE",
        title="防火通知",
        body="禁止野外用火。",
        mustRead=True,
    )
    feed = {"region": gid("Region", demo.villages[0].id)}
    villager = await gql.login(VILLAGER)
    assert (await gql.mutate("acknowledgeNotice", ACK, {"id": notice["id"]}, token=villager))[
        "errors"
    ] == []
    # signed in first: the anonymous read after it is not served the signed-in answer
    mine = await gql.data(NOTICE_FEED, feed, token=villager)
    assert mine["disclosures"]["edges"][0]["node"]["acknowledgedByMe"] is True
    ran = executions(app)
    anonymous = await gql.data(NOTICE_FEED, feed)
    assert anonymous["disclosures"]["edges"][0]["node"]["acknowledgedByMe"] is False
    assert executions(app) == ran + 1
    # the anonymous answer is cached now, and never given to the signed-in villager
    assert await gql.data(NOTICE_FEED, feed, token=villager) == mine
    assert executions(app) == ran + 2
    assert await gql.data(NOTICE_FEED, feed) == anonymous
    assert executions(app) == ran + 2
    # a signed-in GET stays private
    response = await gql.client.get(
        "/graphql",
        params={"query": NOTICE_FEED, "variables": orjson.dumps(feed).decode()},
        headers={"authorization": f"Bearer {villager}"},
    )
    assert response.headers["cache-control"] == "private, no-cache"


async def test_languages_and_hostile_headers_and_variables(app, client, gql, demo):
    feed = {"region": gid("Region", demo.villages[0].id)}
    cache = app.state.services.response_cache
    ran = executions(app)
    for lang in ("en", "zh", "en-GB;q=0.9, zh;q=0.1", "xx, yy;q=abc", "", "EN", "zh-CN"):
        await gql(FEED, feed, lang=lang or None)
    assert executions(app) == ran + 2  # one answer per language the endpoint speaks
    # headers that do not change the answer neither split nor poison it
    poisoned = await client.post(
        "/graphql",
        json={"query": FEED, "variables": feed},
        headers={
            "x-forwarded-for": "6.6.6.6",
            "x-forwarded-host": "evil.example",
            "x-request-id": "evil-request-0001",
        },
    )
    assert executions(app) == ran + 2
    assert b"evil" not in poisoned.content
    # the variables' key order does not matter; huge variables are answered, not kept
    two = "query($region: ID, $c: Category) { disclosures(regionId: $region, category: $c) { edges { node { id } } } }"
    await gql(two, {"region": feed["region"], "c": "FINANCE"})
    await gql(two, {"c": "FINANCE", "region": feed["region"]})
    assert executions(app) == ran + 3
    entries = len(cache.bodies)
    huge = {**feed, "padding": "x" * 20_000}
    await gql(FEED, huge)
    await gql(FEED, huge)
    assert executions(app) == ran + 5 and len(cache.bodies) == entries
    search = "query($region: ID, $q: String) { disclosures(regionId: $region, search: $q) { edges { node { id } } } }"
    await gql(search, {**feed, "q": "修路" * 3000})
    await gql(search, {**feed, "q": "修路" * 3000})
    # variables the operation does not declare: answered, never a key of their own
    await gql(FEED, {**feed, "junk": 1})
    await gql(FEED, {**feed, "junk": 2})
    assert executions(app) == ran + 9 and len(cache.bodies) == entries
    # answers with errors are not kept
    for _ in range(2):
        body = await gql(FEED, {"region": gid("Disclosure", 1)})
        assert body["errors"]
    assert executions(app) == ran + 11
    # a field with a side effect (a view counted) is always executed
    item = (await published(gql, await gql.login(CLERK), demo.villages[0]))["id"]
    one = "query($id: ID!) { disclosure(id: $id) { id } }"
    ran = executions(app)
    await gql(one, {"id": item})
    await gql(one, {"id": item})
    assert executions(app) == ran + 2
    # the anonymous `me` is the same null for all: no personal field reaches the cache
    assert await gql.data("{ me { id phone } }") == {"me": None}


async def test_a_rolled_back_write_bumps_nothing_and_a_committed_one_does(app, gql, demo):
    feed = {"region": gid("Region", demo.villages[0].id)}
    await gql(FEED, feed)
    store = data_versions.current()
    assert store is not None
    fields = [f"r:{demo.county.id}", f"r:{demo.villages[0].id}", "all"]
    before = await store.read(fields)
    disclosure = await Disclosure.first()
    obj = disclosure or demo.villages[0]

    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        async with in_transaction():
            await record(
                Viewer.for_system("test"), "test.write", obj, region_id=demo.villages[0].id
            )
            assert await store.read(fields) == before  # not before the commit
            raise Refused
    assert await store.read(fields) == before
    ran = executions(app)
    await gql(FEED, feed)
    assert executions(app) == ran  # still the cached answer
    async with in_transaction():
        await record(Viewer.for_system("test"), "test.write", obj, region_id=demo.villages[0].id)
    after = await store.read(fields)
    assert after is not None and before is not None
    assert all(a == b + 1 for a, b in zip(after, before, strict=True))
    # an outer transaction bumps once, when it commits, for writes in its inner ones
    async with in_transaction():
        async with in_transaction():
            await record(Viewer.for_system("test"), "test.write", obj, region_id=demo.county.id)
        assert await store.read(fields) == after
    final = await store.read(fields)
    assert final is not None and final[0] == after[0] + 1 and final[1] == after[1]


async def test_a_scripts_write_on_the_same_sqlite_file_is_seen(app, gql, demo, settings):
    if not settings.is_sqlite:
        pytest.skip("SQLite's data_version: PostgreSQL's processes bump through Redis")
    item = await published(gql, await gql.login(CLERK), demo.villages[0], title="原标题")
    feed = {"region": gid("Region", demo.villages[0].id)}
    assert titles(await gql(FEED, feed)) == ["原标题"]
    path = settings.database_url.removeprefix("sqlite://")
    pk = int(from_global_id(item["id"])[1])
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "c.execute('UPDATE disclosure SET title = ? WHERE id = ?', ('脚本改的', int(sys.argv[2])));"
        "c.commit()"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, path, str(pk))
    assert await process.wait() == 0
    assert titles(await gql(FEED, feed)) == ["脚本改的"]


async def test_two_instances_share_redis_and_redis_down_costs_only_the_cache(
    app, gql, demo, settings, monkeypatch
):
    if settings.redis_url is None:
        pytest.skip("Redis only")
    # a second instance: its own endpoint, services and in-process cache, the same Redis
    # (in one process the database and the data version store are shared, as its lifespan
    # would open them again)
    other = create_app(settings)
    redis = connect_redis(settings)
    services = other.state.services = Services.build(settings, redis)
    services.response_cache = response_cache(settings, redis, services.redis_guard, None)
    try:
        transport = httpx.ASGITransport(app=other, client=("203.0.113.8", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            second = GQL(c)
            feed = {"region": gid("Region", demo.townships[0].id)}
            assert titles(await second(FEED, feed)) == []
            ran = executions(app)
            app.state.services.response_cache.bodies = type(
                app.state.services.response_cache.bodies
            )(1 << 20)  # nothing in process: the entry comes from Redis
            assert titles(await gql(FEED, feed)) == []
            assert executions(app) == ran
            # a write through the first instance: the second sees it at once
            await published(gql, await gql.login(CLERK), demo.villages[0], title="共享的")
            assert titles(await second(FEED, feed)) == ["共享的"]

            # Redis stops answering: every request executes, with the right answer
            async def down(*args, **kwargs):
                raise redis_errors.ConnectionError("down")

            store = data_versions.current()
            assert isinstance(store, data_versions.RedisVersions)
            assert store.peek([data_versions.ALL]) is not None  # the lifespan follows
            for name in ("hmget", "hgetall", "hsetnx"):
                monkeypatch.setattr(store.redis, name, down)
            monkeypatch.setattr(store, "_script", down)
            store.guard.backoff = 0
            # the mirror's next full read fails: it is no longer trusted
            for _ in range(100):
                if store.peek([data_versions.ALL]) is None:
                    break
                await asyncio.sleep(0.05)
            assert store.peek([data_versions.ALL]) is None
            ran = executions(other)
            assert titles(await second(FEED, feed)) == ["共享的"]
            assert titles(await second(FEED, feed)) == ["共享的"]
            assert executions(other) == ran + 2
            # a write while Redis is down: its bump is lost, so every answer goes at recovery
            clerk = await gql.login(CLERK)
            await published(gql, clerk, demo.villages[0], title="断线时发布")
            assert store.lost
            monkeypatch.undo()
            assert titles(await second(FEED, feed)) == ["断线时发布", "共享的"]
            assert not store.lost
    finally:
        assert redis is not None
        await redis.aclose()
