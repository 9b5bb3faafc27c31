"""Live notifications over a real WebSocket (graphql-transport-ws) to uvicorn on a loopback
port: what a villager hears and when, `since`, the protocol's close codes, who hears what,
and (PostgreSQL + Redis) two app processes and a Redis that goes away and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.app import create_app
from api.settings import Settings
from models.accounts import Session
from models.accounts.auth import issue_access_token
from models.jobs import Job, JobStatus
from models.notifications import NotificationEvent
from notifications import live
from notifications.events import notify
from notifications.live import Hub, RedisHub, stream
from scripts.seed_demo import DEMO_PASSWORD, Demo, seed_demo
from tests.client import GQL, LOGIN
from tests.loopback import on_loopback
from tests.test_disclosures import CLERK, OFFICIAL, VILLAGER, published
from tests.test_flags import raise_flag, step
from tests.test_jobs import eventually

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = "graphql-transport-ws"
ADDED = """subscription($since: Int) { notificationAdded(since: $since) {
  id kind text seq createdAt readAt target { id ... on Flag { status } } } }"""
SEQS = "subscription($since: Int) { notificationAdded(since: $since) { seq kind } }"
NEWS = "subscription { notificationAdded { seq kind text target { id } } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    settings: Settings
    http: str
    ws: str
    gql: GQL
    demo: Demo

    def user_id(self, role: str) -> int:
        return self.demo.users[role].id


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[Server]:
    async with on_loopback(create_app(settings), lifespan="on") as port:
        demo = await seed_demo(settings, content=False)
        assert demo is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield Server(
                settings,
                f"http://127.0.0.1:{port}",
                f"ws://127.0.0.1:{port}/graphql",
                GQL(http),
                demo,
            )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(live_init_timeout_seconds=0.3, live_queue_size=8)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    async with serve(settings) as s:
        yield s


# -- a graphql-transport-ws client, as thin as the protocol ---------------------------------


async def recv(ws: ClientConnection, wait: float = 5.0) -> dict[str, Any]:
    message = orjson.loads(await asyncio.wait_for(ws.recv(), wait))
    assert isinstance(message, dict)
    return message


async def send(ws: ClientConnection, message: Any) -> None:
    await ws.send(orjson.dumps(message).decode())


async def closed_with(ws: ClientConnection, wait: float = 5.0) -> int | None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), wait)
    return ws.close_code


@contextlib.asynccontextmanager
async def socket_to(url: str, **headers: str) -> AsyncIterator[ClientConnection]:
    async with connect(
        url, subprotocols=[PROTOCOL], additional_headers=headers, open_timeout=5
    ) as ws:
        assert ws.subprotocol == PROTOCOL
        yield ws


@contextlib.asynccontextmanager
async def signed_in(url: str, token: str, **payload: Any) -> AsyncIterator[ClientConnection]:
    async with socket_to(url) as ws:
        await send(
            ws,
            {"type": "connection_init", "payload": {"authorization": f"Bearer {token}", **payload}},
        )
        assert await recv(ws) == {"type": "connection_ack"}
        yield ws


async def subscribe(
    ws: ClientConnection, op_id: str = "1", query: str = ADDED, **variables: Any
) -> None:
    await send(
        ws,
        {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}},
    )


async def nexts(ws: ClientConnection, count: int, wait: float = 5.0) -> list[dict[str, Any]]:
    out = []
    while len(out) < count:
        message = await recv(ws, wait)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        out.append(message["payload"]["data"]["notificationAdded"])
    return out


async def silent(ws: ClientConnection, within: float = 0.3) -> bool:
    """Nothing arrives for `within` seconds (ping/pong round trip proves the socket alive)."""
    try:
        message = await asyncio.wait_for(ws.recv(), within)
    except TimeoutError:
        await send(ws, {"type": "ping"})
        return await recv(ws) == {"type": "pong"}
    raise AssertionError(f"unexpected message: {message!r}")


async def record(
    user_id: int, count: int = 1, kind: str = "FLAG_STATUS"
) -> list[NotificationEvent]:
    """Record `count` events for a user, in the inbox only (no job runs here)."""
    for n in range(count):
        await notify([user_id], kind, "flag", 1000 + n, status="ACCEPTED")
    return await NotificationEvent.filter(user_id=user_id).order_by("-seq").limit(count)


async def recorded(user_id: int, count: int = 1) -> list[NotificationEvent]:
    """`record`, handed to the process's hub the way the dispatch job does."""
    events = sorted(await record(user_id, count), key=lambda e: e.seq)
    await live.publish(events)
    return events


async def news_told() -> None:
    """A publication's fan-out and its dispatch have run (their events come before ours)."""

    async def idle() -> bool:
        kinds = ["fanout_disclosure", "notify_dispatch", "deliver"]
        return not await Job.filter(
            kind__in=kinds, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).exists()

    await eventually(idle)


async def subscribed(user_id: int, count: int = 1) -> None:
    """Wait until the process's hub holds `count` subscriptions of this user."""
    hub = live.current()
    assert hub is not None
    await eventually(lambda: _count(hub, user_id, count), within=5)


async def _count(hub: Hub, user_id: int, count: int) -> bool:
    return len(hub.subscribers.get(user_id, ())) >= count


# -- what a villager hears ----------------------------------------------------------------


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return settings.with_overrides(
        jobs=True, job_poll_seconds=0.02, job_lease_seconds=2.0, job_stop_grace_seconds=0.5
    )


async def test_a_villager_hears_their_flag_accepted_while_subscribed(job_settings):
    async with serve(job_settings) as s:
        clerk = await s.gql.login(CLERK)
        item = await published(s.gql, clerk, s.demo.villages[0], category="VILLAGE_AFFAIRS")
        await news_told()
        villager = await s.gql.login(VILLAGER)
        flag = await raise_flag(s.gql, villager, item["id"])
        official = await s.gql.login(OFFICIAL)
        async with (
            signed_in(s.ws, villager, acceptLanguage="en") as ws,
            signed_in(s.ws, clerk) as other,
        ):
            await subscribe(ws)
            await subscribe(other)
            await subscribed(s.user_id("VILLAGER"))
            await subscribed(s.user_id("CLERK"))
            body = await step(s.gql, "AcceptFlag", official, id=flag["id"], note="已受理")
            assert body["data"]["acceptFlag"]["errors"] == [], body
            # the dispatch job runs in the app's own job runner and publishes it
            [note] = await nexts(ws, 1)
            assert note["kind"] == "FLAG_STATUS" and note["seq"] == 2  # 1: the news of the item
            assert note["text"] == "A flag you follow: accepted"  # the socket's language
            assert note["target"] == {"id": flag["id"], "status": "ACCEPTED"}
            assert note["readAt"] is None and note["createdAt"]
            # the inbox holds the same notification under the same id
            inbox = await s.gql.data(
                "{ notifications { edges { node { id seq } } } }", token=villager
            )
            assert inbox["notifications"]["edges"][0]["node"] == {"id": note["id"], "seq": 2}
            # the clerk, subscribed all along, heard nothing of it
            assert await silent(other)


async def test_a_villager_hears_when_a_clerk_publishes(job_settings):
    """The whole path: a clerk publishes over HTTP; the fan-out job records the news, the
    dispatch job publishes it, the villager's open socket receives it."""
    async with serve(job_settings) as s:
        clerk = await s.gql.login(CLERK)
        villager = await s.gql.login(VILLAGER)
        async with signed_in(s.ws, villager) as ws:
            await subscribe(ws, query=NEWS)
            await subscribed(s.user_id("VILLAGER"))
            item = await published(s.gql, clerk, s.demo.villages[0], category="VILLAGE_AFFAIRS")
            [note] = await nexts(ws, 1)
            assert note["kind"] == "NEW_DISCLOSURE"
            assert note["text"] == "您关注的地方有新的村务公开"
            assert note["target"] == {"id": item["id"]}


async def test_since_replays_the_inbox_then_follows_live_each_once_in_order(server):
    uid = server.user_id("VILLAGER")
    token = await server.gql.login(VILLAGER)
    await record(uid, 3)
    async with signed_in(server.ws, token) as replayed, signed_in(server.ws, token) as fresh:
        await subscribe(replayed, query=SEQS, since=1)
        assert [n["seq"] for n in await nexts(replayed, 2)] == [2, 3]
        await subscribe(fresh, query=SEQS)  # no since: only what comes after now
        await subscribed(uid, 2)
        assert await silent(fresh)

        events = await recorded(uid, 2)
        assert [n["seq"] for n in await nexts(replayed, 2)] == [4, 5]
        assert [n["seq"] for n in await nexts(fresh, 2)] == [4, 5]
        # the dispatch job run twice (a worker killed before its acknowledgement): once only
        await live.publish(events)
        assert await silent(replayed) and await silent(fresh)

        # a gap (seq 6 and 7 recorded, only 8 published): the missing ones come from the inbox
        await record(uid, 2)
        await recorded(uid, 1)
        assert [n["seq"] for n in await nexts(replayed, 3)] == [6, 7, 8]
        assert [n["seq"] for n in await nexts(fresh, 3)] == [6, 7, 8]
        # out of order (two jobs finishing the other way round): still 9 then 10
        later = await record(uid, 2)
        await live.publish(later)  # newest first
        assert [n["seq"] for n in await nexts(fresh, 2)] == [9, 10]

    # a phone back after losing its connection asks for what it missed, nothing more
    async with signed_in(server.ws, token) as back:
        await subscribe(back, query=SEQS, since=8)
        assert [n["seq"] for n in await nexts(back, 2)] == [9, 10]
        assert await silent(back)
        await subscribe(back, "2", query=SEQS, since=0)  # two subscriptions on one socket
        replay = [await recv(back) for _ in range(10)]
        assert {m["id"] for m in replay} == {"2"}
        assert [m["payload"]["data"]["notificationAdded"]["seq"] for m in replay] == list(
            range(1, 11)
        )


async def test_no_one_hears_anyone_elses_notifications(server):
    villager, clerk = await server.gql.login(VILLAGER), await server.gql.login(CLERK)
    vid, cid = server.user_id("VILLAGER"), server.user_id("CLERK")
    await record(vid, 2)
    async with signed_in(server.ws, clerk) as ws:
        # `since` replays one's own inbox only
        await subscribe(ws, query=SEQS, since=0)
        await subscribed(cid)
        assert await silent(ws)
        await recorded(vid, 3)
        assert await silent(ws)
        [mine] = await recorded(cid, 1)
        assert await nexts(ws, 1) == [{"seq": mine.seq, "kind": "FLAG_STATUS"}]
    # and a socket that could not sign in hears nothing at all
    async with socket_to(server.ws) as ws:
        await send(ws, {"type": "connection_init", "payload": {"token": "forged"}})
        assert await closed_with(ws) == 4403
    assert villager  # signed in, but never subscribed: nothing to hear


async def test_a_slow_subscriber_drops_its_queue_and_catches_up_from_the_inbox(server):
    """Domain level: more events than the queue holds, nobody reading meanwhile."""
    uid = server.user_id("VILLAGER")
    hub = Hub(queue_size=4)
    events = stream(hub, uid, None)
    first = asyncio.ensure_future(anext(events))
    await eventually(lambda: _count(hub, uid, 1))
    for _ in range(3):  # 3 × 4 events: the queue overflows, its contents are dropped
        batch = sorted(await record(uid, 4), key=lambda e: e.seq)
        hub.deliver(batch)
    [sub] = hub.subscribers[uid]
    assert len(sub.items) <= 4 and sub.dropped > 0
    got = [(await first).seq] + [(await anext(events)).seq for _ in range(11)]
    assert got == list(range(1, 13))
    await events.aclose()
    assert uid not in hub.subscribers  # closing the stream unsubscribes


async def test_the_reconnect_backoff_grows_with_jitter_and_stays_capped():
    hub = RedisHub("redis://127.0.0.1:1/0", "x:", reconnect_seconds=0.5, reconnect_max_seconds=30)
    try:
        assert 0.25 <= hub.backoff(0) <= 0.5
        assert 2.0 <= hub.backoff(3) <= 4.0
        assert all(15 <= hub.backoff(n) <= 30 for n in (6, 100, 5000))  # hours of outage
        assert len({hub.backoff(4) for _ in range(20)}) > 1  # jitter: processes spread out
    finally:
        await hub.stop()


async def test_a_hub_stopped_while_it_connects_stops(settings):
    """A cancellation landing inside redis-py's connect can be swallowed: stop still ends."""
    if settings.is_sqlite:
        pytest.skip("the Redis hub is the PostgreSQL half's")
    for pause in (0, 0, 0.001, 0.002, 0.005, 0.01, 0.02):
        hub = RedisHub(settings.redis_url or "", settings.redis_prefix)
        await hub.start()
        await asyncio.sleep(pause)
        await asyncio.wait_for(hub.stop(), 5)
        assert not hub.connected


# -- the protocol ---------------------------------------------------------------------------


async def test_ping_pong_complete_and_the_init_timeout(server):
    token = await server.gql.login(VILLAGER)
    uid = server.user_id("VILLAGER")
    async with signed_in(server.ws, token) as ws:
        await send(ws, {"type": "ping", "payload": {"t": 1}})
        assert (await recv(ws))["type"] == "pong"
        await send(ws, {"type": "pong"})  # an unanswered heartbeat is fine
        await subscribe(ws, query=SEQS)
        await subscribed(uid)
        await send(ws, {"id": "1", "type": "complete"})
        await eventually(lambda: _gone(uid))
        await recorded(uid, 1)
        assert await silent(ws)
        await subscribe(ws, query=SEQS, since=0)  # the id is free again
        assert await nexts(ws, 1) == [{"seq": 1, "kind": "FLAG_STATUS"}]
    await eventually(lambda: _gone(uid))  # a closed socket leaves no subscriber behind

    async with socket_to(server.ws) as ws:  # 4408: no connection_init in time
        started = time.monotonic()
        assert await closed_with(ws) == 4408
        assert time.monotonic() - started < 3


async def _gone(user_id: int) -> bool:
    hub = live.current()
    return hub is not None and user_id not in hub.subscribers


async def test_every_close_code(server, settings):
    token = await server.gql.login(VILLAGER)
    init = {"type": "connection_init", "payload": {"token": token}}
    cases: list[tuple[list[Any], int]] = [
        ([b"\x00binary"], 4400),
        (["not json"], 4400),
        ([[1, 2]], 4400),
        ([{"payload": {}}], 4400),
        ([{"type": "hello"}], 4400),
        ([{"type": "connection_init", "payload": "Bearer x"}], 4400),
        ([init, {"type": "subscribe", "payload": {"query": SEQS}}], 4400),  # no id
        ([init, {"id": "1", "type": "subscribe", "payload": "{ me { id } }"}], 4400),
        ([init, {"id": "1", "type": "subscribe", "payload": {"query": 7}}], 4400),
        ([{"id": "1", "type": "subscribe", "payload": {"query": SEQS}}], 4401),
        ([{"type": "connection_init"}], 4403),  # no token
        ([{"type": "connection_init", "payload": {"token": "forged"}}], 4403),
        ([{"type": "connection_init", "payload": {"authorization": "Basic " + token}}], 4403),
        ([init, {"type": "connection_init"}], 4429),
        (
            [
                init,
                {"id": "a", "type": "subscribe", "payload": {"query": SEQS}},
                {"id": "a", "type": "subscribe", "payload": {"query": SEQS}},
            ],
            4409,
        ),
    ]
    for messages, code in cases:
        async with socket_to(server.ws) as ws:
            for message in messages:
                if isinstance(message, bytes):
                    await ws.send(message)
                elif isinstance(message, str):
                    await ws.send(message)
                else:
                    await send(ws, message)
            assert await closed_with(ws) == code, (messages, code)

    # an expired token, a signed-out session's token, a refresh token: forbidden as well
    session = await Session.get(user_id=server.user_id("VILLAGER"))
    expired = issue_access_token(
        settings.auth, session.user_id, str(session.id), datetime.now(UTC) - timedelta(hours=1)
    )
    signed_out = await server.gql.login(VILLAGER)
    assert (await server.gql.data("mutation { logout { ok } }", token=signed_out))["logout"]["ok"]
    login = await server.gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    for bad in (expired, signed_out, login["refreshToken"]):
        async with socket_to(server.ws) as ws:
            await send(ws, {"type": "connection_init", "payload": {"token": bad}})
            assert await closed_with(ws) == 4403
    # a socket asking for another protocol is not served
    async with connect(server.ws, subprotocols=["graphql-ws"], open_timeout=5) as ws:
        assert await closed_with(ws) == 4406


async def test_a_socket_lives_no_longer_than_its_token(server, settings):
    await server.gql.login(VILLAGER)
    session = await Session.get(user_id=server.user_id("VILLAGER"))
    # four seconds left (exp is whole seconds: 3 to 4): a loaded CI host still opens the
    # socket in time, and it closes when the token ends, not at the next session check
    issued = datetime.now(UTC) - timedelta(seconds=settings.access_token_seconds - 4)
    short = issue_access_token(settings.auth, session.user_id, str(session.id), issued)
    async with signed_in(server.ws, short) as ws:
        await subscribe(ws, query=SEQS)
        started = time.monotonic()
        assert await closed_with(ws, wait=10) == 4403  # the client reconnects with a fresh token
        assert time.monotonic() - started < 6
        assert settings.live_session_check_seconds > 6  # so the token's end closed it


@pytest.fixture
def quick_checks(settings: Settings) -> Settings:
    return settings.with_overrides(live_session_check_seconds=0.2)


async def test_a_socket_closes_when_its_session_ends(quick_checks):
    """A password reset (or a sign-out) ends the session: its live sockets close too, not a
    token's life later (someone who took the phone stops hearing the villager's news)."""
    async with serve(quick_checks) as s:
        token = await s.gql.login(VILLAGER)
        other = await s.gql.login(VILLAGER)  # another session of the same villager
        async with signed_in(s.ws, token) as ws, signed_in(s.ws, other) as kept:
            await subscribe(ws, query=SEQS)
            await subscribe(kept, query=SEQS)
            await subscribed(s.user_id("VILLAGER"), 2)
            sessions = await Session.filter(user_id=s.user_id("VILLAGER")).order_by("created_at")
            await Session.filter(id=sessions[-2].id).update(revoked_at=datetime.now(UTC))
            assert await closed_with(ws) == 4403
            assert await silent(kept, within=0.6)  # the other session's socket stays
            await recorded(s.user_id("VILLAGER"), 1)
            assert len(await nexts(kept, 1)) == 1


async def test_what_a_socket_may_ask(server):
    token = await server.gql.login(VILLAGER)
    async with signed_in(server.ws, token) as ws:
        # queries and mutations go over HTTP
        await subscribe(ws, "q", query="{ me { id } }")
        refused = await recv(ws)
        assert refused["type"] == "error" and refused["id"] == "q"
        assert refused["payload"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
        assert "WebSocket" in refused["payload"][0]["message"]
        # the HTTP limits hold: too deep, invalid, a bad variable, a negative since
        deep = "subscription { " + "a { " * 13 + "b" + " }" * 13 + " }"  # 14 levels
        await subscribe(ws, "d", query=deep)
        too_deep = await recv(ws)
        assert too_deep["id"] == "d" and too_deep["type"] == "error"
        assert too_deep["payload"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX"}
        assert "12" in too_deep["payload"][0]["message"]  # the depth limit, named
        await subscribe(ws, "v", query="subscription { notificationAdded { nope } }")
        invalid = await recv(ws)
        assert (
            invalid["type"] == "error"
            and invalid["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        )
        await subscribe(ws, "t", query=SEQS, since="x")
        typed = await recv(ws)
        assert (
            typed["type"] == "error"
            and typed["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        )
        await subscribe(ws, "n", query=SEQS, since=-1)
        negative = await recv(ws)
        assert negative == {
            "id": "n",
            "type": "error",
            "payload": [
                {
                    "message": "since 不能为负数",
                    "locations": [{"line": 1, "column": 29}],
                    "path": ["notificationAdded"],
                    "extensions": {"code": "BAD_USER_INPUT"},
                }
            ],
        }
        # a few subscriptions per socket, no more
        for n in range(5):
            await subscribe(ws, f"s{n}", query=SEQS)
        await subscribe(ws, "s5", query=SEQS)
        crowded = await recv(ws)
        assert crowded["id"] == "s5" and crowded["type"] == "error"
        assert await silent(ws)


# -- across processes, through Redis (PostgreSQL + Redis half) ------------------------------


def app_env(settings: Settings, data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url or "",
        REDIS_PREFIX=settings.redis_prefix,
        SECRET_KEY=settings.secret_key,
        DATA_DIR=str(data_dir),
        CUNWU_GRAPHIQL="0",
        **extra,
    )
    return env


async def start_app(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url) as http:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/readyz")).status_code == 200:
                    return process, url
            assert process.returncode is None and time.monotonic() < deadline, "app did not start"
            await asyncio.sleep(0.05)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


async def test_a_subscriber_on_one_process_hears_an_event_published_on_another(settings, tmp_path):
    if settings.is_sqlite:
        pytest.skip("app processes share PostgreSQL and Redis")
    # process A is this test's own uvicorn (no jobs); process B a subprocess running the jobs
    async with serve(settings) as a:
        b, b_url = await start_app(
            app_env(settings, tmp_path / "b", CUNWU_JOBS="1", JOB_POLL_SECONDS="0.05")
        )
        try:
            clerk = await a.gql.login(CLERK)
            item = await published(a.gql, clerk, a.demo.villages[0], category="VILLAGE_AFFAIRS")
            await news_told()
            villager = await a.gql.login(VILLAGER)
            flag = await raise_flag(a.gql, villager, item["id"])
            official = await a.gql.login(OFFICIAL)
            async with signed_in(a.ws, villager) as ws, signed_in(a.ws, clerk) as other:
                await subscribe(ws)
                await subscribe(other)
                await subscribed(a.user_id("VILLAGER"))
                await subscribed(a.user_id("CLERK"))
                # B serves the step and runs its dispatch job; A's subscriber hears it
                async with httpx.AsyncClient(base_url=b_url) as http:
                    body = await step(
                        GQL(http), "AcceptFlag", official, id=flag["id"], note="已受理"
                    )
                assert body["data"]["acceptFlag"]["errors"] == [], body
                [note] = await nexts(ws, 1, wait=10)
                assert note["kind"] == "FLAG_STATUS" and note["seq"] == 2  # 1: the news of the item
                assert note["target"] == {"id": flag["id"], "status": "ACCEPTED"}
                assert await silent(other)
        finally:
            await stop_process(b)


@contextlib.asynccontextmanager
async def own_redis(port: int, workdir: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    process = await asyncio.create_subprocess_exec(
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                await asyncio.sleep(0.02)
                continue
            writer.close()
            break
        yield process
    finally:
        await stop_process(process)


async def test_a_redis_restart_loses_nothing(settings, tmp_path):
    if settings.is_sqlite:
        pytest.skip("Redis is the PostgreSQL half's")
    port = free_port()
    ours = settings.with_overrides(
        redis_url=f"redis://127.0.0.1:{port}/0",
        live_reconnect_seconds=0.05,
        live_reconnect_max_seconds=0.2,
    )
    async with own_redis(port, tmp_path) as redis_process:
        async with serve(ours) as s:
            hub = live.current()
            assert isinstance(hub, RedisHub)
            await eventually(lambda: _true(hub.connected))
            uid = s.user_id("VILLAGER")
            token = await s.gql.login(VILLAGER)
            async with signed_in(s.ws, token) as ws:
                await subscribe(ws, query=SEQS)
                await subscribed(uid)
                await recorded(uid, 1)
                assert [n["seq"] for n in await nexts(ws, 1)] == [1]

                await stop_process(redis_process)  # Redis goes away
                await eventually(lambda: _true(not hub.connected))
                ready = await s.gql.client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["live"] == "reconnecting"
                # meanwhile another process records two; its publish reaches nobody
                await record(uid, 2)
                # a phone that reconnects now asks with since and misses nothing
                async with signed_in(s.ws, token) as phone:
                    await subscribe(phone, query=SEQS, since=1)
                    assert [n["seq"] for n in await nexts(phone, 2)] == [2, 3]

                    async with own_redis(port, tmp_path) as again:  # back, on the same port
                        # the hub resubscribes, and the subscriber catches up from the inbox
                        assert [n["seq"] for n in await nexts(ws, 2, wait=10)] == [2, 3]
                        assert hub.connected and hub.connects == 2
                        # and later events arrive live, each once
                        await recorded(uid, 1)
                        assert [n["seq"] for n in await nexts(ws, 1)] == [4]
                        assert [n["seq"] for n in await nexts(phone, 1)] == [4]
                        assert await silent(ws)
                        await stop_process(again)
                    # this process's own publish while Redis is down reaches its subscribers
                    await eventually(lambda: _true(not hub.connected))
                    await recorded(uid, 1)
                    assert [n["seq"] for n in await nexts(ws, 1)] == [5]
                    assert [n["seq"] for n in await nexts(phone, 1)] == [5]


async def _true(value: bool) -> bool:
    return value
