"""Repeated anonymous GETs replayed in front of the stack (api.cache_hits): the same bytes
and headers as the stack's answer, never stale after a write, never for a viewer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
from redis.asyncio import Redis

from api.response_cache import ResponseCache
from api.services import connect_redis
from models import data_versions
from tests.test_disclosures import CLERK, VILLAGER, gid, published
from tests.test_response_cache import FEED, FrozenClock, clock, executions, settings, titles

__all__ = ["clock", "settings"]  # the fixtures of test_response_cache, used here too


class Lookups:
    """Counts the response cache's lookups: a replayed answer makes none."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = ResponseCache.get

        async def counted(cache: ResponseCache, key: str):
            self.count += 1
            return await original(cache, key)

        monkeypatch.setattr(ResponseCache, "get", counted)


def feed_params(region) -> dict[str, str]:
    return {"query": FEED, "variables": orjson.dumps({"region": gid("Region", region.id)}).decode()}


def kept_headers(response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")


async def test_a_replay_is_the_stacks_answer_byte_for_byte(app, client, demo, monkeypatch):
    lookups = Lookups(monkeypatch)
    params = feed_params(demo.villages[0])
    for headers in (
        {"accept-encoding": "gzip", "accept-language": "zh-CN"},
        {"accept-encoding": "br", "accept-language": "en"},
        {"accept-encoding": "identity"},
    ):
        first = await client.get("/graphql", params=params, headers=headers)
        assert first.status_code == 200 and "public" in first.headers["cache-control"]
        before, ran = lookups.count, executions(app)
        again = await client.get(
            "/graphql", params=params, headers={**headers, "x-request-id": "client-chosen-1"}
        )
        assert lookups.count == before and executions(app) == ran  # replayed: no lookup
        assert again.content == first.content
        assert kept_headers(again) == kept_headers(first)
        assert again.headers["x-request-id"] == "client-chosen-1"
        assert first.headers["x-request-id"] != again.headers["x-request-id"]
        for name in ("content-security-policy", "x-content-type-options", "x-frame-options"):
            assert again.headers[name] == first.headers[name]
    # a conditional request: 304 from the stack once, then replayed
    etag = first.headers["etag"]
    not_modified = await client.get("/graphql", params=params, headers={"if-none-match": etag})
    assert not_modified.status_code == 304
    before = lookups.count
    replayed = await client.get("/graphql", params=params, headers={"if-none-match": etag})
    assert replayed.status_code == 304 and replayed.content == b""
    assert kept_headers(replayed) == kept_headers(not_modified) and lookups.count == before
    # an ETag the client holds from before: the whole answer
    other = await client.get("/graphql", params=params, headers={"if-none-match": 'W/"old"'})
    assert other.status_code == 200 and other.content == first.content


async def test_a_write_is_seen_by_the_next_read(app, client, gql, demo, monkeypatch):
    lookups = Lookups(monkeypatch)
    village = demo.villages[0]
    params = {r.id: feed_params(r) for r in (village, demo.townships[0], demo.county)}
    for p in params.values():
        await client.get("/graphql", params=p)
        assert titles((await client.get("/graphql", params=p)).json()) == []
    clerk = await gql.login(CLERK)
    await published(gql, clerk, village, title="修路方案公示")
    for p in params.values():  # the village, its township and its county: at once
        assert titles((await client.get("/graphql", params=p)).json()) == ["修路方案公示"]
    before = lookups.count
    assert titles((await client.get("/graphql", params=params[village.id])).json()) == [
        "修路方案公示"
    ]
    assert lookups.count == before  # kept again after the write


async def test_the_time_window_and_a_closed_cache_end_a_replay(
    app, client, demo, clock: FrozenClock, monkeypatch
):
    lookups = Lookups(monkeypatch)
    params = feed_params(demo.villages[0])
    await client.get("/graphql", params=params)
    await client.get("/graphql", params=params)
    before = lookups.count
    clock.move(timedelta(seconds=app.state.settings.response_cache_window_seconds))
    await client.get("/graphql", params=params)
    assert lookups.count == before + 1  # a new window: down the stack


async def test_a_viewer_a_post_and_an_error_are_never_replayed(app, client, gql, demo, monkeypatch):
    lookups = Lookups(monkeypatch)
    params = feed_params(demo.villages[0])
    anonymous = await client.get("/graphql", params=params)
    await client.get("/graphql", params=params)
    # a token (valid or not) goes down the stack and is executed, never replayed
    before = executions(app)
    bad = await client.get("/graphql", params=params, headers={"authorization": "Bearer nope"})
    assert executions(app) == before + 1 and "public" not in bad.headers["cache-control"]
    token = await gql.login(VILLAGER)
    signed = await client.get(
        "/graphql", params=params, headers={"authorization": f"Bearer {token}"}
    )
    assert signed.status_code == 200 and "public" not in signed.headers["cache-control"]
    # an answer with errors is not kept: each one goes down the stack
    broken = {"query": FEED, "variables": orjson.dumps({"region": "UmVnaW9uOjk5OTk5"}).decode()}
    first = await client.get("/graphql", params=broken)
    before = executions(app)
    second = await client.get("/graphql", params=broken)
    assert first.json() == second.json() and executions(app) == before + 1
    # a POST is never replayed (only the stack's own cache answers it)
    before = lookups.count
    await client.post(
        "/graphql", json={"query": FEED, "variables": orjson.loads(params["variables"])}
    )
    assert lookups.count == before + 1
    # junk in the query string: the same answer, through the stack the first time
    junk = {**params, "x": "y" * 200}
    assert (await client.get("/graphql", params=junk)).content == anonymous.content


async def test_another_process_s_write_reaches_the_mirror(app, client, demo, settings):
    if settings.redis_url is None:
        pytest.skip("the Redis mirror: SQLite's other processes are seen through data_version")
    params = feed_params(demo.villages[0])
    first = await client.get("/graphql", params=params)
    await client.get("/graphql", params=params)
    store = data_versions.current()
    assert isinstance(store, data_versions.RedisVersions)
    # another process (a script): its own client and store, the same hash and channel
    redis = connect_redis(settings)
    assert redis is not None
    other = data_versions.RedisVersions(redis, settings.redis_prefix)
    try:
        before = store.peek([f"r:{demo.villages[0].id}"])
        await other.bump({data_versions.ALL, f"r:{demo.villages[0].id}"})
        for _ in range(100):  # published: the mirror has it within a message's time
            if store.peek([f"r:{demo.villages[0].id}"]) != before:
                break
            await asyncio.sleep(0.01)
        assert store.peek([f"r:{demo.villages[0].id}"]) != before
        again = await client.get("/graphql", params=params)
        assert again.headers["etag"] != first.headers["etag"]
    finally:
        await redis.aclose()


async def test_a_redis_that_lost_its_data_never_brings_an_old_answer_back(
    app, client, gql, demo, settings
):
    if settings.redis_url is None:
        pytest.skip("Redis only")
    store = data_versions.current()
    assert isinstance(store, data_versions.RedisVersions)
    params = feed_params(demo.villages[0])
    empty = await client.get("/graphql", params=params)
    assert titles(empty.json()) == []
    # Redis restarted empty: the counters start again from nothing
    raw = Redis.from_url(settings.redis_url)
    try:
        counts = {k.decode(): v for k, v in (await raw.hgetall(store.key)).items()}
        await raw.delete(store.key)
        await published(gql, await gql.login(CLERK), demo.villages[0], title="重启后发布")
        # bump the new counters up to the old ones: only the generation tells them apart
        for name, value in counts.items():
            if name != data_versions.GEN:
                await raw.hset(store.key, name, int(value))
        answer = await client.get("/graphql", params=params)
        assert titles(answer.json()) == ["重启后发布"]
        for _ in range(300):  # the mirror's next full read takes the new generation
            if store.mirror_gen != int(counts[data_versions.GEN]):
                break
            await asyncio.sleep(0.01)
        assert store.peek([data_versions.ALL]) is not None
        assert titles((await client.get("/graphql", params=params)).json()) == ["重启后发布"]
    finally:
        await raw.aclose()
