"""Degraded, not down: with Redis stopped the service answers from its in-process fallbacks.

The test runs its own redis-server on a free port (never the one the suite may share), so
it runs in both halves: on SQLite with that Redis, and on PostgreSQL with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.relay import from_global_id
from api.settings import Settings
from tests.client import LOGIN, error_codes
from tests.test_comments import ADD
from tests.test_disclosures import CLERK, VILLAGER, published
from tests.test_flags import FLAG_ISSUE

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server on PATH")

DETAIL = "query($id: ID!) { disclosure(id: $id) { id title viewCount } }"
REGIONS = "query { regions(first: 1) { edges { node { name } } } }"


class OwnRedis:
    """A redis-server of this test's own, on a free port, that the test stops and starts."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_up(self) -> None:
        for _ in range(100):
            try:
                client = Redis.from_url(self.url)
                try:
                    await client.ping()
                    return
                finally:
                    await client.aclose()
            except Exception:
                await asyncio.sleep(0.05)
        raise AssertionError("own redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    async def keys(self) -> list[bytes]:
        client = Redis.from_url(self.url)
        try:
            return [k async for k in client.scan_iter(match="degraded:*")]
        finally:
            await client.aclose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def app(settings: Settings, own_redis: OwnRedis) -> AsyncIterator[object]:
    """The suite's app, but on this test's own Redis (overrides the conftest fixture)."""
    await own_redis.wait_up()
    application = create_app(
        settings.with_overrides(redis_url=own_redis.url, redis_prefix="degraded:")
    )
    async with application.router.lifespan_context(application):
        application.state.services.redis_guard.backoff = 0.2  # retry soon after a restart
        yield application


def no_internal_errors(body: dict) -> dict:
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body
    assert "errors" not in body, body
    return body["data"]


async def apq(client: httpx.AsyncClient, query: str, register: bool) -> dict:
    ext = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }
    payload: dict = {"extensions": ext}
    if register:
        payload["query"] = query
    response = await client.post("/graphql", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


async def everything_answers(gql, client, item: str, round: int) -> None:
    login = no_internal_errors(await gql(LOGIN, {"input": {"phone": VILLAGER, "password": "x"}}))
    assert login["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    villager = await gql.login(VILLAGER)
    comment = no_internal_errors(
        await gql(
            ADD, {"input": {"targetId": item, "body": f"路修得好，第{round}次"}}, token=villager
        )
    )
    assert comment["addComment"]["errors"] == [], comment
    flag = no_internal_errors(
        await gql(
            FLAG_ISSUE,
            {
                "input": {
                    "targetId": item,
                    "reasonCode": "AMOUNT_QUESTIONED",
                    "body": f"决算比预算多出两万元，没有说明原因（{round}）。",
                }
            },
            token=villager,
        )
    )
    assert "errors" in flag["flagIssue"], flag
    detail = no_internal_errors(await gql(DETAIL, {"id": item}))
    assert detail["disclosure"]["id"] == item
    # a query registered before, asked by its hash, and one registered now
    assert no_internal_errors(await apq(client, REGIONS, register=False))["regions"]
    fresh = f"query Round{round} {{ regions(first: 1) {{ edges {{ node {{ id }} }} }} }}"
    assert no_internal_errors(await apq(client, fresh, register=True))["regions"]
    assert no_internal_errors(await apq(client, fresh, register=False))["regions"]


async def test_with_redis_stopped_everything_answers_and_redis_is_used_again(
    app, client, gql, demo, own_redis, caplog
):
    item = (await published(gql, await gql.login(CLERK), demo.villages[0], title="修路方案公示"))[
        "id"
    ]
    assert no_internal_errors(await apq(client, REGIONS, register=True))["regions"]
    await everything_answers(gql, client, item, 1)
    assert await own_redis.keys(), "Redis is used while it answers"
    assert (await client.get("/readyz")).status_code == 200

    own_redis.stop()
    caplog.clear()
    with caplog.at_level("WARNING", logger="cunwu.redis"):
        await everything_answers(gql, client, item, 2)
        await asyncio.sleep(0.3)  # past the back-off: Redis is tried again, still down
        await everything_answers(gql, client, item, 3)
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1, "logged once per outage"
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("error")
    views = app.state.services.views
    pk = int(from_global_id(item)[1])
    assert (await views.pending([pk]))[pk] >= 2, "views counted in process meanwhile"

    own_redis.start()
    await own_redis.wait_up()
    await asyncio.sleep(0.3)
    with caplog.at_level("WARNING", logger="cunwu.redis"):
        await everything_answers(gql, client, item, 4)
    assert any("answers again" in r.getMessage() for r in caplog.records)
    keys = await own_redis.keys()
    assert any(b":rl:" in k for k in keys) and any(k.endswith(b"views") for k in keys), keys
    # ready again once the live hub's pub/sub is back too (its reconnect backs off)
    for _ in range(100):
        if (await client.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await client.get("/readyz")).status_code == 200
    # the views counted in process during the outage (rounds 2 and 3) reach the row with the
    # Redis one of round 4 (round 1's went with the restarted, unpersisted Redis)
    assert await views.flush() == 3


FEED = """query($region: ID) { disclosures(regionId: $region) { edges { node { title } } } }"""


async def test_cached_answers_stay_fresh_while_redis_stops_and_comes_back_empty(
    app, client, gql, demo, own_redis
):
    from tests.test_disclosures import gid

    params = {"query": FEED, "variables": f'{{"region": "{gid("Region", demo.villages[0].id)}"}}'}

    async def titles() -> list[str]:
        response = await client.get("/graphql", params=params)
        assert response.status_code == 200, response.text
        return [
            e["node"]["title"] for e in no_internal_errors(response.json())["disclosures"]["edges"]
        ]

    clerk = await gql.login(CLERK)
    assert await titles() == [] and await titles() == []  # kept, then replayed
    own_redis.stop()
    await published(gql, clerk, demo.villages[0], title="停机时发布")
    assert await titles() == ["停机时发布"]
    own_redis.start()  # empty: every counter starts again from nothing
    await own_redis.wait_up()
    await asyncio.sleep(0.3)  # past the guard's back-off
    assert await titles() == ["停机时发布"]
    await published(gql, clerk, demo.villages[0], title="恢复后发布")
    assert await titles() == ["恢复后发布", "停机时发布"]
    assert await titles() == ["恢复后发布", "停机时发布"]
