"""WeChat subscription messages against a WeChat API on 127.0.0.1: the requests WeChat would
receive, one access token shared by many sends and by two processes (in Redis on the
PostgreSQL + Redis half, in a database row on SQLite), a refused token refreshed and the
send retried once, a refused subscription not retried; bindWechat/unbindWechat over HTTP."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from api.settings import Settings
from models.audit import AuditEntry
from models.deliveries import WechatBinding, WechatToken
from models.redis_guard import RedisGuard
from notifications.channels import wechat_bound
from notifications.wechat import WechatClient, WechatConfig, WechatError, token_store
from tests.client import error_codes
from tests.fake_http import FakeServer, Received, fake_server
from tests.test_disclosures import CLERK, VILLAGER

APP_ID, SECRET = "wx0123456789abcdef", "wechat-secret-test"


@dataclass
class WechatFake:
    """WeChat's side: tokens it issued, which it refuses, what each send answers."""

    issued: list[str] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    sends: list[Received] = field(default_factory=list)
    send_answers: list[dict[str, Any]] = field(default_factory=list)  # next answers, in order
    expires_in: int = 7200
    sticky: bool = False  # a plain stable_token request returns the current token even if refused
    sessions: dict[str, str] = field(default_factory=dict)  # js_code -> openid

    def current(self) -> str | None:
        return self.issued[-1] if self.issued else None

    def respond(self, req: Received) -> tuple[int, Any]:
        if req.path == "/cgi-bin/stable_token":
            body = req.json
            self.token_requests.append(body)
            if body.get("appid") != APP_ID or body.get("secret") != SECRET:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            stale = self.current() in self.revoked and not self.sticky
            if body.get("force_refresh") or not self.issued or stale:
                self.issued.append(f"TOKEN-{len(self.issued) + 1}")
            return 200, {"access_token": self.current(), "expires_in": self.expires_in}
        if req.path == "/cgi-bin/message/subscribe/send":
            self.sends.append(req)
            token = req.query.get("access_token")
            if token not in self.issued or token in self.revoked:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            if self.send_answers:
                return 200, self.send_answers.pop(0)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 3000 + len(self.sends)}
        if req.path == "/sns/jscode2session":
            q = req.query
            if q.get("appid") != APP_ID or q.get("secret") != SECRET:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            openid = self.sessions.pop(q.get("js_code", ""), None)
            if openid is None or q.get("grant_type") != "authorization_code":
                return 200, {"errcode": 40029, "errmsg": "invalid code"}
            return 200, {"openid": openid, "session_key": "sk"}
        return 404, {"errcode": 404}


@pytest.fixture
async def wechat_fake() -> AsyncIterator[tuple[WechatFake, FakeServer]]:
    fake = WechatFake()
    async with fake_server(fake.respond) as server:
        yield fake, server


@pytest.fixture
def settings(settings: Settings, wechat_fake) -> Settings:
    return settings.with_overrides(
        wechat_app_id=APP_ID,
        wechat_app_secret=SECRET,
        wechat_base_url=wechat_fake[1].url,
        wechat_templates={"NOTIFY": "tmpl-notify"},
        wechat_page="pages/inbox/index",
    )


def client_for(settings: Settings, url: str, redis: Redis | None) -> WechatClient:
    config = WechatConfig(
        app_id=APP_ID, app_secret=SECRET, base_url=url, templates={"NOTIFY": "tmpl-notify"}
    )
    return WechatClient(config, token_store(redis, settings.redis_prefix, APP_ID))


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis | None]:
    if not settings.redis_url:
        yield None
        return
    r = Redis.from_url(settings.redis_url)
    yield r
    await r.aclose()


async def test_many_sends_from_two_processes_share_one_token(app, settings, wechat_fake, redis):
    fake, server = wechat_fake
    # two processes' clients: the shared store (Redis or the database row) is all they share
    first, second = client_for(settings, server.url, redis), client_for(settings, server.url, redis)
    try:
        sends = [
            c.send_subscribe(f"openid-{i}", "tmpl-notify", {"thing1": "问题反映已受理"})
            for i, c in enumerate([first, second] * 10)
        ]
        msgids = await asyncio.gather(*sends)
    finally:
        await first.aclose()
        await second.aclose()
    assert len(fake.token_requests) == 1, fake.token_requests
    assert fake.token_requests[0] == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": SECRET,
        "force_refresh": False,
    }
    assert len(set(msgids)) == 20 and all(m for m in msgids)
    req = fake.sends[0]
    assert req.method == "POST" and req.query == {"access_token": "TOKEN-1"}
    body = req.json
    assert body["template_id"] == "tmpl-notify" and body["touser"].startswith("openid-")
    assert body["data"] == {"thing1": {"value": "问题反映已受理"}}
    assert body["miniprogram_state"] == "formal" and body["lang"] == "zh_CN"


async def test_a_refused_token_is_refreshed_and_the_send_retried_once(
    app, settings, wechat_fake, redis
):
    fake, server = wechat_fake
    client = client_for(settings, server.url, redis)
    try:
        await client.send_subscribe("openid-1", "tmpl-notify", {"thing1": "一"})
        fake.revoked.add("TOKEN-1")  # WeChat no longer accepts it (42001/40001)
        msgid = await client.send_subscribe("openid-1", "tmpl-notify", {"thing1": "二"})
        assert msgid
        assert [r.query["access_token"] for r in fake.sends] == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]
        assert len(fake.token_requests) == 2
        # WeChat keeps handing out the token it refuses: a forced refresh, then it works
        fake.sticky = True  # stable_token's plain answer stays the refused token
        fake.revoked.add("TOKEN-2")
        await client.send_subscribe("openid-1", "tmpl-notify", {"thing1": "三"})
        assert [r["force_refresh"] for r in fake.token_requests[2:]] == [False, True]
        assert fake.sends[-1].query["access_token"] == "TOKEN-3"
        # a token that stays refused: one retry, then an error (not a loop)
        fake.revoked.update(fake.issued)
        fake.expires_in = 7200
        count = len(fake.sends)
        original = fake.respond

        def refuse_all(req: Received) -> tuple[int, Any]:
            if req.path == "/cgi-bin/message/subscribe/send":
                fake.sends.append(req)
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            return original(req)

        server.respond = refuse_all
        with pytest.raises(WechatError) as caught:
            await client.send_subscribe("openid-1", "tmpl-notify", {"thing1": "四"})
        assert caught.value.code == "40001" and len(fake.sends) == count + 2
    finally:
        await client.aclose()


async def test_a_token_near_its_expiry_is_refreshed_before_use(app, settings, wechat_fake, redis):
    fake, server = wechat_fake
    fake.expires_in = 200  # less than the five minutes' margin: never used as it is
    client = client_for(settings, server.url, redis)
    try:
        await client.send_subscribe("openid-1", "tmpl-notify", {"thing1": "一"})
        await client.send_subscribe("openid-1", "tmpl-notify", {"thing1": "二"})
    finally:
        await client.aclose()
    assert len(fake.token_requests) == 2


async def test_a_refused_subscription_is_final_and_a_busy_wechat_retryable(
    app, settings, wechat_fake, redis
):
    fake, server = wechat_fake
    fake.send_answers = [
        {"errcode": 43101, "errmsg": "user refuse to accept the msg"},
        {"errcode": -1, "errmsg": "system error"},
        {"errcode": 40037, "errmsg": "invalid template_id"},
    ]
    client = client_for(settings, server.url, redis)
    try:
        outcomes = []
        for _ in range(3):
            with pytest.raises(WechatError) as caught:
                await client.send_subscribe("openid-1", "tmpl-notify", {"thing1": "一"})
            outcomes.append((caught.value.code, caught.value.retryable, caught.value.refused))
    finally:
        await client.aclose()
    assert outcomes == [("43101", False, True), ("-1", True, False), ("40037", False, False)]


async def test_with_redis_unreachable_the_token_is_kept_in_the_database(app, wechat_fake):
    fake, server = wechat_fake
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=0.2)
    guard = RedisGuard(dead)
    config = WechatConfig(app_id=APP_ID, app_secret=SECRET, base_url=server.url)
    clients = [WechatClient(config, token_store(dead, "t:", APP_ID, guard)) for _ in range(2)]
    try:
        for c in clients:
            assert await c.send_subscribe("openid-1", "tmpl-notify", {"thing1": "一"})
    finally:
        for c in clients:
            await c.aclose()
        await dead.aclose()
    assert guard.is_down and len(fake.token_requests) == 1
    row = await WechatToken.get(app_id=APP_ID)
    assert row.token == "TOKEN-1" and row.refreshing_until is None


BIND = """mutation($input: BindWechatInput!) { bindWechat(input: $input) {
  bound errors { code field message } } }"""
UNBIND = "mutation { unbindWechat { bound removed errors { code } } }"
BOUND = "query { wechatBound }"


async def test_bind_and_unbind_wechat_over_http(gql, demo, settings, wechat_fake):
    fake, _ = wechat_fake
    fake.sessions = {"code-villager": "openid-villager", "code-again": "openid-villager"}
    villager = await gql.login(VILLAGER)
    clerk = await gql.login(CLERK)
    assert error_codes(await gql(BIND, {"input": {"code": "code-villager"}})) == ["UNAUTHENTICATED"]
    assert (await gql.data(BOUND, token=villager))["wechatBound"] is False

    out = await gql.mutate("bindWechat", BIND, {"code": "code-villager"}, token=villager)
    assert out == {"bound": True, "errors": []}
    assert (await gql.data(BOUND, token=villager))["wechatBound"] is True
    [binding] = await WechatBinding.all()
    assert binding.openid == "openid-villager"
    assert await wechat_bound([binding.user_id, binding.user_id + 1000]) == {binding.user_id}

    # a used or made-up code: a user error, nothing changes
    bad = await gql.mutate("bindWechat", BIND, {"code": "code-villager"}, token=clerk)
    assert bad["bound"] is False and bad["errors"][0]["code"] == "WECHAT_CODE_INVALID"
    # the same WeChat for another account: refused
    fake.sessions["code-clerk"] = "openid-villager"
    taken = await gql.mutate("bindWechat", BIND, {"code": "code-clerk"}, token=clerk)
    assert [e["code"] for e in taken["errors"]] == ["WECHAT_BOUND_ELSEWHERE"]
    assert await WechatBinding.all().count() == 1
    # binding again the same: harmless
    again = await gql.mutate("bindWechat", BIND, {"code": "code-again"}, token=villager)
    assert again == {"bound": True, "errors": []}

    out = await gql.data(UNBIND, token=villager)
    assert out["unbindWechat"] == {"bound": False, "removed": True, "errors": []}
    out = await gql.data(UNBIND, token=villager)
    assert out["unbindWechat"]["removed"] is False
    assert await WechatBinding.all().count() == 0
    actions = await AuditEntry.filter(action__startswith="wechat.").values_list("action", "after")
    assert [a for a, _ in actions] == ["wechat.bind", "wechat.unbind"]
    assert all("openid-villager" not in str(after) for _, after in actions)


async def test_bind_while_wechat_is_down_is_service_unavailable(gql, demo, settings, wechat_fake):
    _, server = wechat_fake

    def down(req: Received) -> tuple[int, Any]:
        return 502, {"error": "bad gateway"}

    server.respond = down
    villager = await gql.login(VILLAGER)
    started = time.monotonic()
    body = await gql(BIND, {"input": {"code": "anything"}}, token=villager)
    assert error_codes(body) == ["SERVICE_UNAVAILABLE"]
    assert time.monotonic() - started < 3
    assert await WechatBinding.all().count() == 0
