"""Attacks on the replay layer (api.cache_hits), the Redis mirror of the data versions
(models.data_versions.RedisVersions) and the plain token check (models.accounts.auth).

A hostile client tries to make another client receive a wrong answer or a viewer's answer;
someone with Redis access forges, deletes and rolls back the versions; hostile tokens must
all answer UNAUTHENTICATED."""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import json
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import jwt
import orjson
import pytest
from redis.asyncio import Redis

from api import cache_hits
from api.app import create_app
from api.cache_hits import CacheHits
from models import data_versions
from models.accounts.auth import plain_claims
from tests.client import CREATE_REGION, error_codes
from tests.test_cache_hits import feed_params
from tests.test_degraded import REDIS_SERVER, OwnRedis
from tests.test_disclosures import ADMIN, CLERK, OFFICIAL, VILLAGER, gid, published
from tests.test_flags import raise_flag
from tests.test_prices import BOARD, RECORD, two_markets
from tests.test_response_cache import FrozenClock, clock, settings, titles

__all__ = ["clock", "settings"]  # test_response_cache's fixtures: a frozen clock

ME = "query { me { id phone } }"


def replayer(app) -> CacheHits:
    layer = app.middleware_stack
    while not isinstance(layer, CacheHits):
        layer = layer.app
    return layer


# -- the replay layer: another client's wrong answer ------------------------------------


SCHEMA = {"query": "{ __schema { types { name kind } } }"}  # big enough to be compressed


async def test_duplicate_headers_cannot_poison_another_clients_slot(app, client, demo):
    """The stack reads the first Accept-Encoding / Accept-Language (Starlette's Headers);
    a slot keyed on the last would hand a gzip body to a client that asked for none, or
    the English answer to a client that asked for Chinese."""
    # gzip first (the stack compresses), identity after (the slot of a plain client)
    hostile = [("accept-encoding", "gzip"), ("accept-encoding", "identity")]
    for _ in range(2):
        attacker = await client.get("/graphql", params=SCHEMA, headers=hostile)
    assert attacker.headers.get("content-encoding") == "gzip"
    for _ in range(2):
        plain = await client.get("/graphql", params=SCHEMA, headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.json()["data"]["__schema"]["types"]
    # English first, Chinese after: a Chinese client must get the Chinese answer's key
    params = feed_params(demo.villages[0])
    clean = {
        lang: (
            await client.get(
                "/graphql", params={**params, "x": lang}, headers={"accept-language": lang}
            )
        ).headers["etag"]
        for lang in ("en", "zh-CN")
    }
    assert clean["en"] != clean["zh-CN"]
    hostile_lang = [("accept-language", "en"), ("accept-language", "zh-CN")]
    for _ in range(2):
        await client.get("/graphql", params=params, headers=hostile_lang)
    for _ in range(2):
        zh = await client.get("/graphql", params=params, headers={"accept-language": "zh-CN"})
        assert zh.headers["etag"] == clean["zh-CN"]


# -- the Redis mirror: forged messages, a deleted, changed or rolled-back hash ----------


def mirror_of(settings) -> data_versions.RedisVersions:
    if settings.redis_url is None:
        pytest.skip("the Redis mirror of the data versions")
    store = data_versions.current()
    assert isinstance(store, data_versions.RedisVersions)
    return store


async def eventually(check, seconds: float = 4.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def feed_titles(client, params) -> list[str]:
    return titles((await client.get("/graphql", params=params)).json())


async def test_forged_higher_versions_never_freeze_the_mirror(app, client, gql, demo, settings):
    """Someone with Redis access publishes huge counts for the village in the mirror's own
    generation. The mirror only takes higher counts: without a check it would ignore every
    real bump after it (lower) and replay the old feed for good."""
    store = mirror_of(settings)
    village = demo.villages[0]
    params = feed_params(village)
    assert await feed_titles(client, params) == []
    fields = sorted(await data_versions.region_fields([village.id]) or ())
    forged = ["gen", store.mirror_gen]
    for name in [*fields, data_versions.ALL, data_versions.SYS]:
        forged += [name, 10**12]
    raw = Redis.from_url(settings.redis_url)
    try:
        await raw.publish(store.channel, orjson.dumps(forged))

        async def forged_taken() -> bool:
            return store.peek([f"r:{village.id}"]) == [10**12]

        assert await eventually(forged_taken, 1.0)
        assert await feed_titles(client, params) == []  # kept under the forged counts
        assert await feed_titles(client, params) == []
        await published(gql, await gql.login(CLERK), village, title="伪造之后发布")

        async def fresh() -> bool:
            return await feed_titles(client, params) == ["伪造之后发布"]

        assert await eventually(fresh)  # within the mirror's next full read
        assert store.peek([f"r:{village.id}"]) != [10**12]
        # and it keeps following: the next write is seen at once
        await published(gql, await gql.login(CLERK), village, title="第二次发布")
        assert "第二次发布" in await feed_titles(client, params)
    finally:
        await raw.aclose()


async def test_a_hash_rolled_back_to_older_counts_brings_no_old_answer(
    app, client, gql, demo, settings
):
    """Redis restored from an older snapshot: the same generation, lower counts. Keys made
    from them would be the keys of answers kept before; the mirror would ignore writes."""
    store = mirror_of(settings)
    village = demo.villages[0]
    params = feed_params(village)
    clerk = await gql.login(CLERK)
    raw = Redis.from_url(settings.redis_url)
    try:
        assert await feed_titles(client, params) == []
        before = await raw.hgetall(store.key)  # the snapshot
        await published(gql, clerk, village, title="快照之后")
        assert await feed_titles(client, params) == ["快照之后"]
        await raw.delete(store.key)
        await raw.hset(store.key, mapping={k: v for k, v in before.items()})  # restored
        # the follower's next full read sees the counts went back (a restart from a snapshot
        # also breaks its connection: it reads in full at once). Not covered: as many writes
        # as were lost, all before that read, make the same counts again (nothing tells them)
        await asyncio.sleep(data_versions.RESYNC_SECONDS * 1.5)
        await published(gql, clerk, village, title="恢复之后")

        async def fresh() -> bool:
            return sorted(await feed_titles(client, params)) == sorted(["快照之后", "恢复之后"])

        assert await eventually(fresh)
        gen = int((await raw.hget(store.key, data_versions.GEN)) or 0)
        assert gen != int(before[b"gen"])  # a new generation: no key of before comes back
        for _ in range(3):  # stays fresh
            assert sorted(await feed_titles(client, params)) == sorted(["快照之后", "恢复之后"])
    finally:
        await raw.aclose()


@pytest.mark.parametrize(
    "garbage",
    [
        b"not json",
        b"[]",
        b"{}",
        b"null",
        b'["gen"]',
        b'["gen", "x", "all", 1]',
        b'["gen", 1, "all"]',
        b'["gen", [1], "all", {"a": 1}]',
        b"\xff\xfe",
        b'"gen"',
    ],
)
async def test_garbage_on_the_channel_is_survived(app, client, gql, demo, settings, garbage):
    """Each forged message may cost the mirror (reads go to Redis), never an answer: the
    follower logs, retries and is trusted again, and writes are seen throughout."""
    store = mirror_of(settings)
    village = demo.villages[0]
    params = feed_params(village)
    raw = Redis.from_url(settings.redis_url)
    try:
        assert await feed_titles(client, params) == []
        await raw.publish(store.channel, garbage)
        await raw.publish(store.channel, garbage)
        await published(gql, await gql.login(CLERK), village, title="垃圾消息之后")
        assert await feed_titles(client, params) == ["垃圾消息之后"]

        async def trusted() -> bool:
            return store.peek([data_versions.ALL]) is not None

        assert await eventually(trusted, 8.0)
        assert store._follower is not None and not store._follower.done()
        await published(gql, await gql.login(CLERK), village, title="再次发布")
        assert "再次发布" in await feed_titles(client, params)
    finally:
        await raw.aclose()


@pytest.mark.parametrize("how", ["delete", "new gen", "flushall keys", "lower gen field"])
async def test_the_hash_deleted_or_its_generation_changed(app, client, gql, demo, settings, how):
    store = mirror_of(settings)
    village = demo.villages[0]
    params = feed_params(village)
    raw = Redis.from_url(settings.redis_url)
    try:
        assert await feed_titles(client, params) == []
        assert await feed_titles(client, params) == []
        if how == "delete":
            await raw.delete(store.key)
        elif how == "new gen":
            await raw.hset(store.key, data_versions.GEN, "12345")
        elif how == "flushall keys":  # FLUSHALL, limited to this run's keys (shared server)
            keys = [k async for k in raw.scan_iter(match=settings.redis_prefix + "*")]
            await raw.delete(*keys)
        else:
            await raw.hdel(store.key, f"r:{village.id}")
        await published(gql, await gql.login(CLERK), village, title="之后发布")
        assert await feed_titles(client, params) == ["之后发布"]
        await asyncio.sleep(data_versions.RESYNC_SECONDS * 1.5)  # a full read later
        assert await feed_titles(client, params) == ["之后发布"]
        await published(gql, await gql.login(CLERK), village, title="再发布")
        assert sorted(await feed_titles(client, params)) == sorted(["之后发布", "再发布"])
    finally:
        await raw.aclose()


# -- the replay layer: If-None-Match, viewers, headers, memory --------------------------


async def test_if_none_match_tricks_give_a_304_only_for_the_current_answer(app, client, gql, demo):
    village = demo.villages[0]
    params = feed_params(village)
    first = await client.get("/graphql", params=params)
    etag = first.headers["etag"]
    await client.get("/graphql", params=params)  # kept
    inner = etag[2:]  # "…" with its quotes
    for value, status in [
        ("*", 200),  # not honoured: a 304 needs the very tag
        (etag[:-5] + '"', 200),  # a prefix of the tag
        (inner[1:-1], 200),  # unquoted
        (inner[:10], 200),
        (f'W/"other", {etag}', 304),  # a list holding it: the client has this answer
        (f'{etag}, W/"other"', 304),
        (etag.upper(), 200),
    ]:
        for _ in range(2):  # down the stack, then perhaps replayed: the same status
            response = await client.get("/graphql", params=params, headers={"if-none-match": value})
            assert response.status_code == status, value
            if status == 200:
                assert response.content == first.content
    # two If-None-Match headers: the stack reads the first; nothing kept from them
    for pair in (
        [("if-none-match", etag), ("if-none-match", "x")],
        [("if-none-match", "x"), ("if-none-match", etag)],
    ):
        response = await client.get("/graphql", params=params, headers=pair)
        assert response.status_code == (304 if pair[0][1] == etag else 200)
    # after a write the old tag never gets a 304, replayed or not
    await published(gql, await gql.login(CLERK), village, title="写之后")
    for _ in range(2):
        response = await client.get("/graphql", params=params, headers={"if-none-match": etag})
        assert response.status_code == 200 and titles(response.json()) == ["写之后"]
        assert response.headers["etag"] != etag


async def test_a_viewers_answer_is_never_replayed_to_anyone(app, client, gql, demo):
    token = await gql.login(VILLAGER)
    params = {"query": ME}
    for headers in (
        [("authorization", f"Bearer {token}")],
        [("Authorization", f"Bearer {token}")],  # ASGI lowercases names
        [("AUTHORIZATION", f"bearer {token}")],
        [("accept-language", "zh"), ("authorization", f"Bearer {token}")],  # after another
    ):
        for _ in range(2):
            signed = await client.get("/graphql", params=params, headers=headers)
            assert signed.json()["data"]["me"]["phone"], signed.text
            assert "public" not in signed.headers.get("cache-control", "")
    for headers in (
        {},
        {"accept-language": "zh"},
        {"authorization": ""},
        {"cookie": f"token={token}"},
    ):
        for _ in range(2):
            anonymous = await client.get("/graphql", params=params, headers=headers)
            assert anonymous.json()["data"]["me"] is None, headers
    # an empty Authorization: anonymous, answered by the stack (never kept by the layer)
    layer = replayer(app)
    kept = len(layer.kept)
    await client.get("/graphql", params={"query": ME, "x": "1"}, headers={"authorization": ""})
    assert len(layer.kept) == kept


async def test_request_ids_of_a_replay_are_fresh_and_single(app, client, demo):
    params = feed_params(demo.villages[0])
    first = await client.get("/graphql", params=params)
    await client.get("/graphql", params=params)
    seen = {first.headers["x-request-id"]}
    for value in (
        "short",
        "a" * 65,
        "<script>alert(1)</script>",
        "ok-id-but\u00e9xx",
        "id with space",
    ):
        replay = await client.get(
            "/graphql", params=params, headers={"x-request-id": value.encode("latin-1")}
        )
        ids = [v for k, v in replay.headers.multi_items() if k == "x-request-id"]
        assert len(ids) == 1 and ids[0] != value and len(ids[0]) == 32 and ids[0] not in seen
        seen.add(ids[0])
        assert replay.content == first.content
    both = await client.get(
        "/graphql",
        params=params,
        headers=[("x-request-id", "first-id-1"), ("x-request-id", "second-id-2")],
    )
    assert [v for k, v in both.headers.multi_items() if k == "x-request-id"] == ["second-id-2"]
    for name in ("content-security-policy", "x-content-type-options", "x-frame-options"):
        assert both.headers[name] == first.headers[name]


async def test_head_and_odd_query_strings_never_share_a_slot_wrongly(app, client, demo):
    params = feed_params(demo.villages[0])
    head = await client.head("/graphql", params=params)
    assert head.status_code == 405 and head.content == b""
    body = await client.get("/graphql", params=params)
    assert body.status_code == 200 and titles(body.json()) == []
    again = await client.head("/graphql", params=params)  # never the kept GET
    assert again.status_code == 405 and again.content == b""
    # the same document encoded differently: its own slot, the same answer
    query = "{ __typename }"
    answers = set()
    for raw in (
        "query=%7B%20__typename%20%7D",
        "query=%7B+__typename+%7D",
        "query={%20__typename%20}",
    ):
        for _ in range(2):
            response = await client.get(f"/graphql?{raw}")
            answers.add(response.content)
    assert answers == {b'{"data":{"__typename":"Query"}}'}
    # one raw string, two documents depending on a header outside the slot: none exists,
    # but a mutation over GET stays refused, replayed or not
    mutation = {"query": "mutation { logout { ok } }"}
    for _ in range(2):
        refused = await client.get("/graphql", params=mutation)
        assert refused.status_code == 405
    assert (await client.get("/graphql", params={"query": query})).status_code == 200


async def test_the_replay_memory_is_counted_honestly_and_bounded(app, client, demo, monkeypatch):
    """Many distinct query strings (junk parameters cost an attacker nothing): what the
    layer counts must be what it holds, else its bound is several times the 16 MB."""
    for i in range(3):
        await client.get("/graphql", params={"query": "{ __typename }", "w": str(i)})
    layer = replayer(app)
    gc.collect()
    tracemalloc.start()
    try:
        counted = layer.size
        before = tracemalloc.take_snapshot()
        for i in range(300):
            await client.get("/graphql", params={"query": "{ __typename }", "x": f"{i:06d}"})
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    counted = layer.size - counted
    assert held <= counted * 1.2, (held, counted)
    # and the bound holds: the oldest go first
    monkeypatch.setattr(cache_hits, "MAX_BYTES", 50_000)
    for i in range(100):
        await client.get("/graphql", params={"query": "{ __typename }", "y": f"{i:06d}"})
    assert layer.size <= 50_000 and len(layer.kept) < 50
    assert layer.size == sum(k.size for k in layer.kept.values())


async def test_a_scripts_sqlite_write_ends_a_replay(app, client, gql, demo, settings):
    if not settings.is_sqlite:
        pytest.skip("SQLite's data_version")
    village = demo.villages[0]
    params = feed_params(village)
    await published(gql, await gql.login(CLERK), village, title="原标题")
    assert await feed_titles(client, params) == ["原标题"]
    assert await feed_titles(client, params) == ["原标题"]  # replayed
    path = settings.database_url.removeprefix("sqlite://")
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "c.execute(\"UPDATE disclosure SET title = '脚本改的'\"); c.commit()"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, path)
    assert await process.wait() == 0
    assert await feed_titles(client, params) == ["脚本改的"]


async def test_the_time_window_ends_replays_and_304s(app, client, demo, clock: FrozenClock):
    params = feed_params(demo.villages[0])
    first = await client.get("/graphql", params=params)
    await client.get("/graphql", params=params, headers={"if-none-match": first.headers["etag"]})
    await client.get("/graphql", params=params, headers={"if-none-match": first.headers["etag"]})
    clock.move(timedelta(seconds=app.state.settings.response_cache_window_seconds))
    after = await client.get(
        "/graphql", params=params, headers={"if-none-match": first.headers["etag"]}
    )
    assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]


# -- hostile tokens: every one UNAUTHENTICATED, none accepted, none a crash -------------


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(key: str, header: str, claims: str, alg=hashlib.sha256) -> str:
    """A token from raw JSON texts (duplicate keys, odd types), signed with `key`."""
    head, body = b64(header.encode()), b64(claims.encode())
    mac = hmac.new(key.encode(), f"{head}.{body}".encode(), alg).digest()
    return f"{head}.{body}.{b64(mac)}"


async def me_codes(client, token: str | bytes, method: str = "POST") -> list[str]:
    headers = {"authorization": token if isinstance(token, bytes) else f"Bearer {token}".encode()}
    if method == "POST":
        response = await client.post("/graphql", json={"query": ME}, headers=headers)
    else:
        response = await client.get("/graphql", params={"query": ME}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data", {}).get("me") is None, body
    return error_codes(body)


async def test_hostile_tokens_are_unauthenticated(app, client, gql, settings, demo):
    key = settings.secret_key
    other = "another-secret-key-of-enough-length-0123456789"
    real = jwt.decode(
        await gql.login(VILLAGER), key, algorithms=["HS256"], options={"verify_exp": False}
    )
    sub, sid, now = real["sub"], real["sid"], int(time.time())
    good = {"sub": sub, "sid": sid, "typ": "access", "iat": now - 5, "exp": now + 600}
    std = '{"alg":"HS256","typ":"JWT"}'

    def claims(**changes) -> str:
        return json.dumps({k: v for k, v in {**good, **changes}.items() if v is not ...})

    valid = sign(key, std, claims())
    NONE_HEAD = b64(b'{"alg":"none","typ":"JWT"}')  # noqa: N806
    head, body, signature = valid.split(".")
    standard = base64.b64encode(base64.urlsafe_b64decode(signature + "=")).decode()
    hostile = [
        # not signed with our key: each must fail whatever it says
        sign(other, std, claims()),
        NONE_HEAD + f".{body}.",
        NONE_HEAD + f".{body}.{signature}",
        sign(key, '{"alg":"HS512","typ":"JWT"}', claims(), hashlib.sha512),
        sign(key, '{"alg":"HS384","typ":"JWT"}', claims(), hashlib.sha384),
        # duplicate keys: json keeps the last in both checks; "none" last is refused
        sign(key, '{"alg":"HS256","typ":"JWT","alg":"none"}', claims()),
        sign(key, std, claims()[:-1] + ', "typ": "refresh"}'),
        sign(key, std, claims()[:-1] + f', "exp": {now - 10}}}'),
        # our key, claims that are not an access token's
        sign(key, std, claims(typ="refresh")),
        sign(key, std, claims(typ=...)),
        sign(key, std, claims(exp=now - 1)),
        sign(key, std, claims(exp=True)),
        sign(key, std, claims(exp=None)),
        sign(key, std, claims(exp=...)),
        sign(key, std, claims(iat=now + 3600)),  # issued in the future
        sign(key, std, claims(sub=int(sub))),  # not a string
        sign(key, std, claims(sub=...)),
        sign(key, std, claims(sid=...)),
        sign(key, std, "[]"),
        sign(key, std, '"a string"'),
        sign(key, "[]", claims()),
        # the signature part: junk, another encoding, cut
        f"{head}.{body}.{signature}!",
        f"{head}.{body}.{signature[:20]}*{signature[20:]}",
        f"{head}.{body}.{signature}==",
        # the standard alphabet ("+/" for "-_"), where the signature has one of them
        *([f"{head}.{body}.{standard}"] if standard.rstrip("=") != signature else []),
        f"{head}.{body}.{signature[:-1]}",
        f"{head}.{body}.{signature} x",
        f"{head} .{body}.{signature}",
        f"{head}.{body}",
        f"{head}.{body}.{signature}.{signature}",
        "..",
        "",
        "a" * 20_000 + "." + "b" * 20_000 + "." + "c" * 43,
        f"{head}.{body}.{signature}".replace(".", "\u3002"),
    ]
    for token in hostile:
        for method in ("POST", "GET"):
            assert await me_codes(client, token, method) == ["UNAUTHENTICATED"], token[:120]
    for raw in (
        b"Bearer",
        b"Bearer ",
        b"Basic " + valid.encode(),
        b"Token " + valid.encode(),
        b"Bearer\t" + valid.encode(),
        b"Bearer " + valid.encode() + b"\xff",
        "Bearer 令牌".encode(),
    ):
        assert await me_codes(client, raw) == ["UNAUTHENTICATED"], raw
    # the token as issued, and what PyJWT also takes (its canonical padding, an extra
    # header field, an extra claim): signed by us, so the same viewer, never another
    for token in (
        valid,
        valid + "=",
        sign(key, '{"alg":"HS256","typ":"JWT","kid":"x"}', claims()),
        sign(key, std, claims(extra="x")),
        sign(key, std, claims(exp=str(now + 600))),
    ):  # PyJWT reads it as a number
        response = await client.post(
            "/graphql", json={"query": ME}, headers={"authorization": f"Bearer {token}"}
        )
        assert response.json()["data"]["me"]["phone"], token


async def test_our_key_with_odd_subjects_is_never_a_crash(app, client, settings, demo):
    """Defence in depth (only the key's holder can sign these): a subject or session that
    is no user id or session id is refused, never an INTERNAL_SERVER_ERROR."""
    key, now = settings.secret_key, int(time.time())
    std = '{"alg":"HS256","typ":"JWT"}'
    for sub, sid in [
        ("abc", "x"),
        ("\uff17", "x"),
        ("1", "not-a-uuid"),
        ("1", ""),
        ("1e3", "x"),
        ("99999999999999999999999", "00000000-0000-4000-8000-000000000001"),
        ("-1", "00000000-0000-4000-8000-000000000001"),
        ("1", "\u0000"),
    ]:
        claims = json.dumps({"sub": sub, "sid": sid, "typ": "access", "iat": now, "exp": now + 600})
        token = sign(key, std, claims)
        assert await me_codes(client, token) == ["UNAUTHENTICATED"], (sub, sid)
    for sid in ({"a": 1}, ["x"], 5):
        claims = json.dumps({"sub": "1", "sid": sid, "typ": "access", "iat": now, "exp": now + 600})
        assert await me_codes(client, sign(key, std, claims)) == ["UNAUTHENTICATED"], sid


def test_plain_claims_never_accepts_what_pyjwt_refuses() -> None:
    """The fast check against PyJWT on each hostile shape signed with the right key."""
    key, now = "k" * 48, int(time.time())
    std = '{"alg":"HS256","typ":"JWT"}'
    base = {"sub": "7", "sid": "s", "typ": "access", "iat": now - 1, "exp": now + 600}
    texts = [
        (std, json.dumps(base)),
        ('{"typ":"JWT","alg":"HS256"}', json.dumps(base)),  # another order: PyJWT's
        ('{"alg":"HS256","typ":"JWT","alg":"HS256"}', json.dumps(base)),
        ('{"alg":"none","typ":"JWT","alg":"HS256"}', json.dumps(base)),
        (std, json.dumps(base)[:-1] + ', "exp": 1}'),
        (std, json.dumps(base)[:-1] + ', "sub": 7}'),
        (std, json.dumps({**base, "exp": now + 600.5})),
        (std, json.dumps({**base, "iat": now + 100})),
        (std, json.dumps({**base, "exp": now + 1})),  # inside plain's one second margin
        (std, json.dumps({**base, "iat": True})),
        (std, json.dumps({**base, "exp": 2**70})),
        (std, " " + json.dumps(base)),
        ('{"alg":"HS256","typ":"JWT"} ', json.dumps(base)),
        (std, json.dumps(base, ensure_ascii=False).replace('"s"', '"\u00e9"')),
    ]
    for header, claims in texts:
        token = sign(key, header, claims)
        fast = plain_claims(key, token)
        try:
            slow = jwt.decode(
                token, key, algorithms=["HS256"], options={"require": ["exp", "sub", "sid"]}
            )
        except jwt.PyJWTError:
            slow = None
        assert fast is None or fast == slow, (header, claims)


async def test_every_kind_of_write_ends_a_replay(app, client, gql, demo):
    """GETs replayed by the layer, then one write of each kind: the next GET has it."""
    village, county = demo.villages[0], demo.county
    clerk, official = await gql.login(CLERK), await gql.login(OFFICIAL)
    villager, admin = await gql.login(VILLAGER), await gql.login(ADMIN)
    item = (await published(gql, clerk, village, title="原公示"))["id"]

    async def replayed(query: str, variables: dict) -> dict:
        params = {"query": query, "variables": orjson.dumps(variables).decode()}
        first = await client.get("/graphql", params=params)
        second = await client.get("/graphql", params=params)  # from the layer
        assert second.content == first.content
        return second.json()["data"]

    async def after_write(query: str, variables: dict) -> dict:
        params = {"query": query, "variables": orjson.dumps(variables).decode()}
        return (await client.get("/graphql", params=params)).json()["data"]

    bodies = """query($r: ID) { disclosures(regionId: $r) { edges { node {
      title body version flagCounts { open } commentCount status } } } }"""
    feed = {"r": gid("Region", village.id)}
    assert (await replayed(bodies, feed))["disclosures"]["edges"][0]["node"]["version"] == 1
    correct = """mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) {
      errors { code } } }"""
    out = await gql.mutate(
        "correctDisclosure",
        correct,
        {"id": item, "body": "更正后的正文。", "reason": "数字错误"},
        token=clerk,
    )
    assert out["errors"] == []
    node = (await after_write(bodies, feed))["disclosures"]["edges"][0]["node"]
    assert node["version"] == 2 and node["body"] == "更正后的正文。"

    # a comment added, then hidden
    comments = "query($t: ID!) { comments(targetId: $t) { edges { node { body hiddenReason } } } }"
    assert (await replayed(comments, {"t": item}))["comments"]["edges"] == []
    add = """mutation($input: AddCommentInput!) { addComment(input: $input) {
      comment { id } errors { code } } }"""
    added = await gql.mutate(
        "addComment", add, {"targetId": item, "body": "钱去哪了？"}, token=villager
    )
    assert (await after_write(comments, {"t": item}))["comments"]["edges"][0]["node"]["body"]
    await replayed(comments, {"t": item})
    hide = """mutation($input: ModerateCommentInput!) { hideComment(input: $input) {
      errors { code } } }"""
    hidden = await gql.mutate(
        "hideComment", hide, {"id": added["comment"]["id"], "reason": "人身攻击"}, token=official
    )
    assert hidden["errors"] == []
    [edge] = (await after_write(comments, {"t": item}))["comments"]["edges"]
    assert edge["node"] == {"body": None, "hiddenReason": "人身攻击"}

    # a flag, then a retraction
    await replayed(bodies, feed)
    await raise_flag(gql, villager, item)
    assert (await after_write(bodies, feed))["disclosures"]["edges"][0]["node"]["flagCounts"] == {
        "open": 1
    }
    await replayed(bodies, feed)
    retract = """mutation($input: RetractDisclosureInput!) { retractDisclosure(input: $input) {
      errors { code } } }"""
    await gql.mutate("retractDisclosure", retract, {"id": item, "reason": "名单有误"}, token=clerk)
    assert (await after_write(bodies, feed))["disclosures"]["edges"][0]["node"]["status"] == (
        "RETRACTED"
    )

    # a region created by the admin
    regions = "query($p: ID) { regions(parentId: $p) { edges { node { name } } } }"
    names = [
        e["node"]["name"]
        for e in (await replayed(regions, {"p": gid("Region", county.id)}))["regions"]["edges"]
    ]
    created = await gql.mutate(
        "createRegion",
        CREATE_REGION,
        {
            "parentId": gid("Region", county.id),
            "kind": "TOWNSHIP",
            "name": "新设镇",
            "code": "990102199000",
        },
        token=admin,
    )
    assert created["errors"] == []
    after = (await after_write(regions, {"p": gid("Region", county.id)}))["regions"]["edges"]
    assert sorted(e["node"]["name"] for e in after) == sorted([*names, "新设镇"])

    # a price recorded
    market, _ = await two_markets(gql, demo)
    board = {"r": gid("Region", village.id)}
    assert (await replayed(BOARD, board)) == {"latestPrices": []}
    day = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    row = {"commodity": "RICE", "market": market["id"], "priceFen": 250, "date": day}
    assert (await gql.mutate("recordMarketPrices", RECORD, {"prices": [row]}, token=official))[
        "errors"
    ] == []
    [price] = (await after_write(BOARD, board))["latestPrices"]
    assert price["priceFen"] == 250


OWN_REDIS = {"test_a_redis_restarted_from_an_older_snapshot_brings_no_old_answer"}
WITH_CORS = {"test_a_browser_on_another_origin_always_gets_its_cors_headers"}
BROWSER_ORIGIN = "https://app.example"


@pytest.fixture
async def app(request, settings, tmp_path):
    """The suite's app; for a test in OWN_REDIS, on a redis-server of its own (the test
    stops and starts it; never the one the suite may share)."""
    server = None
    if request.node.originalname in OWN_REDIS:
        if REDIS_SERVER is None:
            pytest.skip("needs redis-server on PATH")
        server = OwnRedis(tmp_path)
        server.start()
        await server.wait_up()
        settings = settings.with_overrides(redis_url=server.url, redis_prefix="degraded:")
    if request.node.originalname in WITH_CORS:
        settings = settings.with_overrides(cors_origins=(BROWSER_ORIGIN,))
    application = create_app(settings)
    application.state.own_redis = server
    try:
        async with application.router.lifespan_context(application):
            application.state.services.redis_guard.backoff = 0.2  # retry soon after a restart
            yield application
    finally:
        if server is not None:
            server.stop()


async def test_a_redis_restarted_from_an_older_snapshot_brings_no_old_answer(
    app, client, gql, demo
):
    """A real redis-server of this test's own: SAVE, a publication, a restart that loads
    the older snapshot (the same generation, lower counts), another publication: the
    next read has both, never the answer kept between them."""
    server: OwnRedis = app.state.own_redis
    params = feed_params(demo.villages[0])
    clerk = await gql.login(CLERK)
    assert await feed_titles(client, params) == []
    raw = Redis.from_url(server.url)
    try:
        await raw.save()  # the snapshot a restart will load
    finally:
        await raw.aclose()
    await published(gql, clerk, demo.villages[0], title="快照后发布")
    assert await feed_titles(client, params) == ["快照后发布"]
    assert await feed_titles(client, params) == ["快照后发布"]  # kept
    server.stop()  # no save at shutdown: the restart loads the older snapshot
    server.start()
    await server.wait_up()
    store = data_versions.current()
    assert isinstance(store, data_versions.RedisVersions)

    async def trusted() -> bool:
        return store.peek([data_versions.ALL]) is not None

    assert await eventually(trusted, 10.0)  # the follower is back
    await published(gql, clerk, demo.villages[0], title="重启后发布")
    expected = sorted(["快照后发布", "重启后发布"])
    assert sorted(await feed_titles(client, params)) == expected
    assert sorted(await feed_titles(client, params)) == expected


async def test_a_browser_on_another_origin_always_gets_its_cors_headers(app, client, demo):
    """With CORS on, a replay recorded for a client without Origin must not reach a
    browser (it would lack Access-Control-Allow-Origin), nor the other way round."""
    params = feed_params(demo.villages[0])
    for _ in range(2):
        plain = await client.get("/graphql", params=params)
        assert "access-control-allow-origin" not in plain.headers
    for origin, allowed in ((BROWSER_ORIGIN, True), ("https://evil.example", False)):
        for _ in range(2):
            response = await client.get("/graphql", params=params, headers={"origin": origin})
            assert response.status_code == 200
            assert (response.headers.get("access-control-allow-origin") == origin) is allowed
    for _ in range(2):
        plain = await client.get("/graphql", params=params)
        assert "access-control-allow-origin" not in plain.headers


async def test_forged_lower_or_foreign_generation_messages_are_not_trusted(
    app, client, gql, demo, settings
):
    """Lower counts in the mirror's generation are ignored (counts only grow); another
    generation makes the mirror wait for its next full read. Neither brings back an
    answer kept before a write."""
    store = mirror_of(settings)
    village = demo.villages[0]
    params = feed_params(village)
    fields = sorted(await data_versions.region_fields([village.id]) or ())
    raw = Redis.from_url(settings.redis_url)
    try:
        assert await feed_titles(client, params) == []
        known = store.peek([*fields, data_versions.ALL])
        assert known is not None
        lower = ["gen", store.mirror_gen]
        for name in [*fields, data_versions.ALL]:
            lower += [name, 0]
        await raw.publish(store.channel, orjson.dumps(lower))
        await raw.publish(store.channel, orjson.dumps(["gen", 42, *lower[2:]]))
        await asyncio.sleep(0.1)
        assert store.peek([*fields, data_versions.ALL]) in (known, None)
        await published(gql, await gql.login(CLERK), village, title="伪造旧数之后")
        assert await feed_titles(client, params) == ["伪造旧数之后"]
        assert await feed_titles(client, params) == ["伪造旧数之后"]
    finally:
        await raw.aclose()
