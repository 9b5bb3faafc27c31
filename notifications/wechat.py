"""WeChat mini-program subscription messages (订阅消息) over WeChat's HTTP API, with httpx.

The access token is shared by every process: in Redis when there is one, else in a database
row. It is taken from /cgi-bin/stable_token, which hands every caller the same token until
shortly before it expires (the older /cgi-bin/token would invalidate the token the other
processes hold), refreshed by one process at a time when less than REFRESH_MARGIN is left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from redis.asyncio import Redis
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from models.deliveries import WechatToken
from models.redis_guard import REDIS_DOWN, RedisGuard

log = logging.getLogger("cunwu.wechat")
OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")

REFRESH_MARGIN = 300.0  # seconds before expiry when a token is refreshed
LOCK_SECONDS = 10.0  # a refresher's claim; a crashed one is replaced after this
WAIT_FOR_REFRESHER = 5.0  # how long others wait for its token before fetching one themselves
TOKEN_INVALID = {40001, 40014, 42001}  # invalid, malformed, expired: refresh and retry once
SUBSCRIPTION_REFUSED = 43101  # the user did not subscribe (or the one-time grant was used)
RETRYABLE = {-1, 45009, 45011}  # system busy, API daily quota, frequency limit


class WechatError(Exception):
    def __init__(self, code: int | str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = str(code)
        self.retryable = retryable

    @property
    def refused(self) -> bool:
        return self.code == str(SUBSCRIPTION_REFUSED)


@dataclass(frozen=True)
class WechatConfig:
    app_id: str = ""
    app_secret: str = field(default="", repr=False)
    base_url: str = "https://api.weixin.qq.com"
    templates: Mapping[str, str] = field(default_factory=dict)
    page: str = ""
    state: str = "formal"
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.app_id and self.app_secret)


@dataclass
class Token:
    value: str
    expires_at: float  # time.time()

    def fresh(self, now: float) -> bool:
        return bool(self.value) and self.expires_at - REFRESH_MARGIN > now


class TokenStore(Protocol):
    async def get(self) -> Token | None: ...
    async def put(self, token: Token) -> None: ...
    async def claim(self) -> bool: ...  # become the one refresher (for LOCK_SECONDS)
    async def release(self) -> None: ...


RELEASE_OWN = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class RedisTokenStore:
    def __init__(self, redis: Redis, prefix: str, app_id: str) -> None:
        self.redis = redis
        self.key = f"{prefix}wechat:token:{app_id}"
        self.lock_key = self.key + ":refresh"
        self.owner = uuid.uuid4().hex

    async def get(self) -> Token | None:
        raw = await self.redis.get(self.key)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            token, expires_at = data["token"], float(data["expires_at"])
            if not isinstance(token, str) or not token:
                raise TypeError("token is not a string")
        except (ValueError, TypeError, KeyError) as exc:
            # unreadable (half-written, another tool's value): refreshed over, not obeyed;
            # raising here would stop every WeChat send until the key expired
            log.warning("WeChat token in Redis unreadable (%s); refreshing", type(exc).__name__)
            return None
        return Token(token, expires_at)

    async def put(self, token: Token) -> None:
        ttl = max(1, int(token.expires_at - time.time()))
        payload = json.dumps({"token": token.value, "expires_at": token.expires_at})
        await self.redis.set(self.key, payload, ex=ttl)

    async def claim(self) -> bool:
        return bool(
            await self.redis.set(self.lock_key, self.owner, nx=True, px=int(LOCK_SECONDS * 1000))
        )

    async def release(self) -> None:
        # only our own claim (compare and delete in one step): one that ran out may already
        # be someone else's
        await self.redis.eval(RELEASE_OWN, 1, self.lock_key, self.owner)


class DbTokenStore:
    """Without Redis: a row per app id; the claim is a conditional UPDATE, which both
    SQLite and PostgreSQL apply to one claimant at a time."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id

    async def _row(self) -> WechatToken:
        row = await WechatToken.get_or_none(app_id=self.app_id)
        if row is None:
            try:
                row = await WechatToken.create(app_id=self.app_id)
            except IntegrityError:  # another process created it first
                row = await WechatToken.get(app_id=self.app_id)
        return row

    async def get(self) -> Token | None:
        row = await WechatToken.get_or_none(app_id=self.app_id)
        if row is None or not row.token or row.expires_at is None:
            return None
        return Token(row.token, row.expires_at.timestamp())

    async def put(self, token: Token) -> None:
        expires = datetime.fromtimestamp(token.expires_at, UTC)
        await WechatToken.filter(app_id=self.app_id).update(token=token.value, expires_at=expires)

    async def claim(self) -> bool:
        await self._row()
        now = datetime.now(UTC)
        claimed = await WechatToken.filter(
            Q(refreshing_until__isnull=True) | Q(refreshing_until__lt=now), app_id=self.app_id
        ).update(refreshing_until=now + timedelta(seconds=LOCK_SECONDS))
        return bool(claimed)

    async def release(self) -> None:
        await WechatToken.filter(app_id=self.app_id).update(refreshing_until=None)


class WechatClient:
    def __init__(
        self, config: WechatConfig, store: TokenStore, http: httpx.AsyncClient | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.http = http or httpx.AsyncClient(
            base_url=config.base_url, timeout=config.timeout_seconds
        )
        self._token: Token | None = None  # this process's copy
        self._lock = asyncio.Lock()  # one refresh per process; the store's claim across them

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise WechatError("NETWORK", f"{type(exc).__name__}: {exc}", retryable=True) from exc
        if response.status_code >= 500:
            raise WechatError(f"HTTP{response.status_code}", "server error", retryable=True)
        try:
            data = response.json()
        except ValueError as exc:
            raise WechatError("BAD_ANSWER", "not JSON", retryable=True) from exc
        return data if isinstance(data, dict) else {}

    async def access_token(self, bad: str | None = None) -> str:
        """A token with time left; `bad`: one WeChat just refused, never handed out again."""
        if self._token and self._token.fresh(time.time()) and self._token.value != bad:
            return self._token.value
        async with self._lock:
            now = time.time()
            if self._token and self._token.fresh(now) and self._token.value != bad:
                return self._token.value
            stored = await self.store.get()
            if stored and stored.fresh(now) and stored.value != bad:
                self._token = stored
                return stored.value
            claimed = await self.store.claim()
            if not claimed:
                waited = await self._wait_for_refresher(bad)
                if waited:
                    return waited
                # the refresher is stuck: stable_token answers every caller alike anyway
            try:
                token = await self._fetch(force=False)
                if token.value == bad:  # WeChat still hands out the token it refused
                    token = await self._fetch(force=True)
                await self.store.put(token)
            finally:
                if claimed:
                    await self.store.release()
            self._token = token
            return token.value

    async def _wait_for_refresher(self, bad: str | None) -> str | None:
        deadline = time.monotonic() + WAIT_FOR_REFRESHER
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            stored = await self.store.get()
            if stored and stored.fresh(time.time()) and stored.value != bad:
                self._token = stored
                return stored.value
        return None

    async def _fetch(self, force: bool) -> Token:
        data = await self._call(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.config.app_id,
                "secret": self.config.app_secret,
                "force_refresh": force,
            },
        )
        if not data.get("access_token"):
            code = data.get("errcode", "NO_TOKEN")
            raise WechatError(code, str(data.get("errmsg", "")), retryable=code in RETRYABLE)
        log.info("WeChat access token refreshed (force=%s)", force)
        return Token(data["access_token"], time.time() + float(data.get("expires_in", 7200)))

    async def send_subscribe(
        self, openid: str, template_id: str, data: dict[str, str], page: str | None = None
    ) -> str | None:
        """Send one subscription message; returns WeChat's msgid."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": self.config.state,
            "lang": "zh_CN",
        }
        if page or self.config.page:
            body["page"] = page or self.config.page
        token = await self.access_token()
        answer = await self._send(token, body)
        if answer.get("errcode") in TOKEN_INVALID:
            token = await self.access_token(bad=token)
            answer = await self._send(token, body)
        code = answer.get("errcode", 0)
        if code != 0:
            raise WechatError(code, str(answer.get("errmsg", "")), retryable=code in RETRYABLE)
        msgid = answer.get("msgid")
        return str(msgid) if msgid is not None else None

    async def _send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            "POST", "/cgi-bin/message/subscribe/send", params={"access_token": token}, json=body
        )

    async def code_to_openid(self, code: str) -> str:
        """A mini program's wx.login code, exchanged once for the user's openid."""
        data = await self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self.config.app_id,
                "secret": self.config.app_secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        openid = data.get("openid")
        if not openid or data.get("errcode"):
            code_ = data.get("errcode", "NO_OPENID")
            raise WechatError(code_, str(data.get("errmsg", "")), retryable=code_ in RETRYABLE)
        # WeChat's openids are 28 URL-safe characters; anything else (too long for the
        # column, not an id) is refused here rather than failing on insert
        if not isinstance(openid, str) or not OPENID.fullmatch(openid):
            raise WechatError("BAD_OPENID", "not an openid", retryable=False)
        return openid


class GuardedTokenStore:
    """Redis while it answers, the database row while it does not (the guard's back-off):
    a Redis outage costs at most one more token request, never a message."""

    def __init__(self, guard: RedisGuard, redis_store: RedisTokenStore, db: DbTokenStore) -> None:
        self.guard, self.redis_store, self.db = guard, redis_store, db

    async def _either(self, op: str, *args: Any) -> Any:
        if self.guard.client() is not None:
            try:
                result = await getattr(self.redis_store, op)(*args)
            except REDIS_DOWN as exc:
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                return result
        return await getattr(self.db, op)(*args)

    async def get(self) -> Token | None:
        return await self._either("get")

    async def put(self, token: Token) -> None:
        await self._either("put", token)

    async def claim(self) -> bool:
        return bool(await self._either("claim"))

    async def release(self) -> None:
        await self._either("release")


def token_store(
    redis: Redis | None, prefix: str, app_id: str, guard: RedisGuard | None = None
) -> TokenStore:
    if redis is None:
        return DbTokenStore(app_id)
    store = RedisTokenStore(redis, prefix, app_id)
    if guard is None:
        return store
    return GuardedTokenStore(guard, store, DbTokenStore(app_id))
