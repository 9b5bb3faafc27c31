"""The viewer cache (issue 16): a repeated signed-in request reads no session, user or grant
row, and every change of what a viewer holds is seen by the very next request — on this app
and on a second one sharing the database (and Redis), as another worker would."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from api import context as api_context
from api.app import create_app
from api.services import Services, connect_redis
from api.settings import Settings
from models.accounts import RoleGrant, Session, User
from models.accounts import viewer_cache as cache_module
from models.accounts.auth import decode_access_token, issue_access_token
from models.accounts.operations import revoke_role, set_account_active
from models.accounts.viewer_cache import RedisStamps, ViewerCache, viewer_changed
from models.policy import Viewer
from tests.client import GQL, GRANT_ROLE, LOGIN, REFRESH, VERIFY_RESIDENCY
from tests.test_accounts import register_input
from tests.test_disclosures import ADMIN, CLERK, VILLAGER, gid
from tests.test_sms_codes import NEW_PASSWORD, RESET, VERIFY, ask_ok, code_for

ME_PLAIN = "{ me { id name phone phoneVerified residencyVerified idNumberSet } }"
RESIDENTS = "query($v: ID!) { residents(villageId: $v, first: 1) { edges { node { id } } } }"
REVOKE = "mutation($input: RevokeRoleInput!) { revokeRole(input: $input) { errors { code } } }"
LOGOUT = "mutation($input: LogoutInput) { logout(input: $input) { ok } }"
CHANGE_PASSWORD = """mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { errors { code } } }"""
TABLES = ('"session"', '"user"', '"role_grant"', "`session`", "`user`", "`role_grant`")


@contextmanager
def account_reads() -> Iterator[list[str]]:
    """The statements that read or write the session, user or grant tables meanwhile (every
    statement is logged to tortoise.db_client, the short cuts' too)."""
    seen: list[str] = []

    class Hook(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if any(t in text for t in TABLES) or " session" in text or " role_grant" in text:
                seen.append(text)

    logger = logging.getLogger("tortoise.db_client")
    hook, level = Hook(logging.DEBUG), logger.level
    logger.addHandler(hook)
    logger.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        logger.removeHandler(hook)
        logger.setLevel(level)


@asynccontextmanager
async def second_app(settings: Settings) -> AsyncIterator[GQL]:
    """Another instance on the same database and Redis, with its own services and viewer
    cache: another worker (its lifespan is left out: it would close this process's database)."""
    other = create_app(settings)
    redis = connect_redis(settings)
    services = other.state.services = Services.build(settings, redis)
    # not installed in this process: it hears of changes only as another worker would,
    # through Redis (or, without Redis, the stamp file)
    assert services.viewers is not None
    try:
        transport = httpx.ASGITransport(app=other, client=("203.0.113.8", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield GQL(c)
    finally:
        await services.aclose()
        if redis is not None:
            await redis.aclose()


def reason(body: dict) -> tuple[str, str | None]:
    [error] = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("reason")


async def login_pair(gql: GQL, phone: str, password: str = "") -> dict:
    args = {"phone": phone} | ({"password": password} if password else {})
    if not password:
        from scripts.seed_demo import DEMO_PASSWORD

        args["password"] = DEMO_PASSWORD
    payload = await gql.mutate("login", LOGIN, args)
    assert payload["errors"] == [], payload
    return payload


def residents_of(demo) -> dict:
    return {"v": gid("Region", demo.villages[0].id)}


async def test_a_repeated_request_reads_no_session_user_or_grant_row(app, gql, demo):
    token = await gql.login(CLERK)
    first = await gql.data(ME_PLAIN, token=token)
    with account_reads() as reads:
        again = await gql.data(ME_PLAIN, token=token)
        await gql.data(RESIDENTS, residents_of(demo), token=token)  # the grant, from the cache
    assert again == first
    # the residents list reads users (that is the answer), never the session or grants
    assert not [r for r in reads if "session" in r or "role_grant" in r], reads
    cache = app.state.services.viewers
    assert cache.hits >= 2 and len(cache) == 1
    with account_reads() as reads:
        await gql.data(ME_PLAIN, token=token)
    assert reads == []
    # without the cache the same request reads them (what the cache saves)
    with account_reads() as reads:
        await api_context.load_viewer(app.state.services.settings.auth, f"Bearer {token}")
    assert reads


async def test_grant_changes_are_seen_at_once_here_and_on_another_worker(app, gql, demo, settings):
    clerk, admin = await gql.login(CLERK), await gql.login(ADMIN)
    grant = await RoleGrant.get(user_id=demo.users["CLERK"].id, revoked_at=None)
    async with second_app(settings) as other:
        # both workers hold the clerk's viewer
        for client in (gql, other):
            await client.data(RESIDENTS, residents_of(demo), token=clerk)
            await client.data(RESIDENTS, residents_of(demo), token=clerk)
        # revoked through this worker: refused on both at the very next request
        body = await gql(REVOKE, {"input": {"grantId": gid("RoleGrant", grant.id)}}, token=admin)
        assert body["data"]["revokeRole"]["errors"] == []
        for client in (other, gql):
            body = await client(RESIDENTS, residents_of(demo), token=clerk)
            assert reason(body) == ("FORBIDDEN", "STAFF_ONLY"), body
        # granted again through the other worker: allowed on both at once
        granted = await other.mutate(
            "grantRole",
            GRANT_ROLE,
            {
                "userId": gid("User", demo.users["CLERK"].id),
                "role": "CLERK",
                "regionId": gid("Region", demo.villages[0].id),
            },
            token=admin,
        )
        assert granted["errors"] == []
        for client in (gql, other):
            await client.data(RESIDENTS, residents_of(demo), token=clerk)
        # a script (no request, no app: the domain operation) revokes it: seen at once too
        again = await RoleGrant.get(user_id=demo.users["CLERK"].id, revoked_at=None)
        await revoke_role(Viewer.for_system("script:test"), again.id)
        for client in (gql, other):
            body = await client(RESIDENTS, residents_of(demo), token=clerk)
            assert reason(body) == ("FORBIDDEN", "STAFF_ONLY"), body


async def test_session_changes_end_cached_sessions_at_once(app, gql, demo, settings):
    phone = await login_pair(gql, VILLAGER)
    laptop = await login_pair(gql, VILLAGER)
    tablet = await login_pair(gql, VILLAGER)
    async with second_app(settings) as other:
        for client in (gql, other):
            for pair in (phone, laptop, tablet):
                await client.data(ME_PLAIN, token=pair["accessToken"])
        # logout of one session (through the other worker): that one refused, the rest not
        assert (await other.data(LOGOUT, token=laptop["accessToken"]))["logout"]["ok"]
        for client in (gql, other):
            body = await client(ME_PLAIN, token=laptop["accessToken"])
            assert reason(body) == ("UNAUTHENTICATED", "TOKEN_REVOKED")
            await client.data(ME_PLAIN, token=phone["accessToken"])
        # a password change ends the other sessions
        changed = await gql.mutate(
            "changePassword",
            CHANGE_PASSWORD,
            {"oldPassword": await demo_password(), "newPassword": NEW_PASSWORD},
            token=phone["accessToken"],
        )
        assert changed["errors"] == []
        for client in (other, gql):
            body = await client(ME_PLAIN, token=tablet["accessToken"])
            assert reason(body) == ("UNAUTHENTICATED", "TOKEN_REVOKED")
            await client.data(ME_PLAIN, token=phone["accessToken"])
        # logout everywhere
        fresh = await login_pair(other, VILLAGER, NEW_PASSWORD)
        await gql.data(ME_PLAIN, token=fresh["accessToken"])
        out = await gql.data(LOGOUT, {"input": {"allSessions": True}}, token=phone["accessToken"])
        assert out["logout"]["ok"]
        for client in (gql, other):
            for pair in (phone, fresh):
                body = await client(ME_PLAIN, token=pair["accessToken"])
                assert reason(body) == ("UNAUTHENTICATED", "TOKEN_REVOKED")


async def demo_password() -> str:
    from scripts.seed_demo import DEMO_PASSWORD

    return DEMO_PASSWORD


async def test_a_reset_by_sms_code_and_a_reused_refresh_token_end_cached_sessions(
    app, gql, demo, settings
):
    old = await login_pair(gql, VILLAGER)
    stolen = await login_pair(gql, VILLAGER)
    async with second_app(settings) as other:
        for client in (gql, other):
            await client.data(ME_PLAIN, token=old["accessToken"])
            await client.data(ME_PLAIN, token=stolen["accessToken"])
        # a refresh token presented again after its successor was used: its session ends
        first = await gql.mutate("refreshToken", REFRESH, {"refreshToken": stolen["refreshToken"]})
        assert first["errors"] == []
        second = await gql.mutate("refreshToken", REFRESH, {"refreshToken": first["refreshToken"]})
        assert second["errors"] == []
        await gql.data(ME_PLAIN, token=second["accessToken"])
        reused = await other.mutate(
            "refreshToken", REFRESH, {"refreshToken": stolen["refreshToken"]}
        )
        assert [e["code"] for e in reused["errors"]] == ["TOKEN_REUSED"]
        for client in (other, gql):
            for token in (stolen["accessToken"], second["accessToken"]):
                body = await client(ME_PLAIN, token=token)
                assert reason(body) == ("UNAUTHENTICATED", "TOKEN_REVOKED")
            await client.data(ME_PLAIN, token=old["accessToken"])
        # a password reset by SMS code (done on the other worker) ends every earlier session
        await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
        code = await code_for(app, VILLAGER, "RESET_CODE")
        reset = {"phone": VILLAGER, "code": code, "newPassword": NEW_PASSWORD}
        done = await other.mutate("resetPassword", RESET, reset)
        assert done["errors"] == []
        for client in (gql, other):
            body = await client(ME_PLAIN, token=old["accessToken"])
            assert reason(body) == ("UNAUTHENTICATED", "TOKEN_REVOKED")
            await client.data(ME_PLAIN, token=done["accessToken"])


async def test_account_state_changes_are_seen_at_once(app, gql, demo, settings):
    # a villager who just registered: residency and phone not verified yet
    registered = await gql.mutate("register", REGISTER_SHORT, register_input(demo))
    token = registered["accessToken"]
    clerk_of_their_village = await gql.login(ADMIN)  # the county admin verifies anywhere
    async with second_app(settings) as other:
        for client in (gql, other):
            me = (await client.data(ME_PLAIN, token=token))["me"]
            assert me["residencyVerified"] is False and me["phoneVerified"] is False
        verified = await gql.mutate(
            "verifyResidency",
            VERIFY_RESIDENCY,
            {"userId": me["id"]},
            token=clerk_of_their_village,
        )
        assert verified["errors"] == []
        for client in (other, gql):
            assert (await client.data(ME_PLAIN, token=token))["me"]["residencyVerified"] is True
        # the phone verified by code (through the other worker)
        await ask_ok(gql, None, "VERIFY_PHONE", token=token)
        code = await code_for(app, "13912345678", "VERIFY_CODE")
        done = await other.mutate("verifyPhone", VERIFY, {"code": code}, token=token)
        assert done["errors"] == []
        for client in (gql, other):
            assert (await client.data(ME_PLAIN, token=token))["me"]["phoneVerified"] is True
        # the account disabled by the operators (a script): refused at once; enabled again:
        # its session works again at once
        user = await User.get(phone="13912345678")
        await set_account_active(Viewer.for_system("script:test"), user.id, False)
        for client in (gql, other):
            body = await client(ME_PLAIN, token=token)
            assert reason(body) == ("UNAUTHENTICATED", "ACCOUNT_DISABLED")
        await set_account_active(Viewer.for_system("script:test"), user.id, True)
        for client in (gql, other):
            await client.data(ME_PLAIN, token=token)
            await client.data(ME_PLAIN, token=token)


REGISTER_SHORT = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken errors { code field } }
}"""


async def test_an_expired_token_is_refused_while_its_session_is_cached(app, gql, demo):
    pair = await login_pair(gql, CLERK)
    await gql.data(ME_PLAIN, token=pair["accessToken"])
    claims = decode_access_token(app.state.services.settings.auth, pair["accessToken"])
    auth = app.state.services.settings.auth
    past = datetime.now(UTC) - timedelta(seconds=auth.access_token_seconds + 1)
    expired = issue_access_token(auth, claims.user_id, claims.session_id, now=past)
    body = await gql(ME_PLAIN, token=expired)
    assert reason(body) == ("UNAUTHENTICATED", "TOKEN_EXPIRED")
    # a token with two seconds left fills an entry that dies with it, not 60 s later
    cache: ViewerCache = app.state.services.viewers
    cache.clear()
    nearly = datetime.now(UTC) - timedelta(seconds=auth.access_token_seconds - 2)
    short = issue_access_token(auth, claims.user_id, claims.session_id, now=nearly)
    await gql.data(ME_PLAIN, token=short)
    [entry] = cache._entries.values()
    assert entry.until - time.monotonic() <= 2.5


async def test_entries_die_by_the_monotonic_clock_whatever_the_wall_clock_does(
    app, gql, demo, monkeypatch
):
    cache: ViewerCache = app.state.services.viewers
    token = await gql.login(CLERK)
    # the wall clock set back an hour while the entry is filled: still 60 s at most
    real_time = time.time
    monkeypatch.setattr(cache_module.time, "time", lambda: real_time() - 3600)
    await gql.data(ME_PLAIN, token=token)
    monkeypatch.setattr(cache_module.time, "time", real_time)
    [entry] = cache._entries.values()
    assert entry.until - time.monotonic() <= cache.seconds <= 60
    with account_reads() as reads:
        await gql.data(ME_PLAIN, token=token)
    assert reads == []
    # VIEWER_CACHE_SECONDS later (monotonic), the database is read again
    later = time.monotonic() + cache.seconds + 1
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: later)
    with account_reads() as reads:
        await gql.data(ME_PLAIN, token=token)
    assert reads


async def test_attacks_on_the_cache(app, gql, demo, monkeypatch):
    cache: ViewerCache = app.state.services.viewers
    auth = app.state.services.settings.auth
    clerk = await gql.login(CLERK)
    await gql.data(RESIDENTS, residents_of(demo), token=clerk)
    claims = decode_access_token(auth, clerk)
    # a (validly signed) token naming the cached session but another user: not that viewer
    other_user = issue_access_token(auth, demo.users["VILLAGER"].id, claims.session_id)
    body = await gql(ME_PLAIN, token=other_user)
    assert reason(body) == ("UNAUTHENTICATED", "TOKEN_REVOKED")
    # the session row deleted behind the operations' back (raw SQL) is refused once someone
    # says so (as the operations do), and by the database once the entry is gone
    await Session.filter(id=claims.session_id).delete()
    await viewer_changed(claims.user_id)
    body = await gql(ME_PLAIN, token=clerk)
    assert reason(body) == ("UNAUTHENTICATED", "TOKEN_REVOKED")
    # a change racing a fill: the stamp is read before the database, so a viewer read just
    # before a revocation is stored under the old stamp and never served
    clerk = await gql.login(CLERK)
    grant = await RoleGrant.get(user_id=demo.users["CLERK"].id, revoked_at=None)
    fill = api_context.viewer_for_session

    async def racing(session: Session) -> Viewer:
        viewer = await fill(session)  # holds the CLERK grant
        await revoke_role(Viewer.for_system("script:test"), grant.id)
        return viewer

    monkeypatch.setattr(api_context, "viewer_for_session", racing)
    await gql.data(RESIDENTS, residents_of(demo), token=clerk)  # answered as it began
    monkeypatch.setattr(api_context, "viewer_for_session", fill)
    body = await gql(RESIDENTS, residents_of(demo), token=clerk)
    assert reason(body) == ("FORBIDDEN", "STAFF_ONLY")
    # bounded: the least recently used session goes first
    cache.size = 2
    tokens = [await gql.login(p) for p in (ADMIN, CLERK, VILLAGER)]
    for t in tokens:
        await gql.data(ME_PLAIN, token=t)
    assert len(cache) == 2
    assert {k[1] for k in cache._entries} == {
        demo.users["CLERK"].id,
        demo.users["VILLAGER"].id,
    }


async def test_redis_down_means_database_reads_not_stale_viewers(app, gql, demo, settings):
    if settings.redis_url is None:
        pytest.skip("the embedded half has no Redis to lose")
    cache: ViewerCache = app.state.services.viewers
    stamps = cache.stamps
    assert isinstance(stamps, RedisStamps)
    clerk = await gql.login(CLERK)
    await gql.data(RESIDENTS, residents_of(demo), token=clerk)
    async with second_app(settings) as other:
        await other.data(RESIDENTS, residents_of(demo), token=clerk)
        # this worker loses Redis: every request reads the database, nothing is kept
        working, guard = stamps.redis_guard.redis, stamps.redis_guard
        dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        guard.redis = dead
        try:
            with account_reads() as reads:
                await gql.data(RESIDENTS, residents_of(demo), token=clerk)
            assert reads and len(cache) == 0
            # a grant revoked on this worker meanwhile: refused here at once ...
            grant = await RoleGrant.get(user_id=demo.users["CLERK"].id, revoked_at=None)
            await revoke_role(Viewer.for_system("script:test"), grant.id)
            guard._retry_at = 0.0  # (past the back-off)
            body = await gql(RESIDENTS, residents_of(demo), token=clerk)
            assert reason(body) == ("FORBIDDEN", "STAFF_ONLY")
            assert stamps.pending
        finally:
            guard.redis = working
            await dead.aclose()
        # ... and once this worker reaches Redis again, everyone's entries are void
        guard._retry_at = 0.0
        body = await gql(RESIDENTS, residents_of(demo), token=clerk)
        assert reason(body) == ("FORBIDDEN", "STAFF_ONLY")
        assert not stamps.pending
        body = await other(RESIDENTS, residents_of(demo), token=clerk)
        assert reason(body) == ("FORBIDDEN", "STAFF_ONLY")


async def test_a_script_in_another_process_is_heard_at_once(app, gql, demo, settings):
    """`scripts.disable_account` run as operators run it: its own process, no app, only the
    database (and Redis); the app's cached viewer is dropped before its next request."""
    token = await gql.login(VILLAGER)
    await gql.data(ME_PLAIN, token=token)
    await gql.data(ME_PLAIN, token=token)
    env = {
        **os.environ,
        "CUNWU_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "REDIS_URL": settings.redis_url or "",
        "REDIS_PREFIX": settings.redis_prefix,
    }
    for flag, code in (([], "ACCOUNT_DISABLED"), (["--enable"], None)):
        done = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scripts.disable_account", "--phone", VILLAGER, *flag, env=env
        )
        assert await done.wait() == 0
        body = await gql(ME_PLAIN, token=token)
        if code:
            assert reason(body) == ("UNAUTHENTICATED", code)
        else:
            assert "errors" not in body, body


async def test_a_redis_that_lost_its_keys_revives_no_old_entry(app, gql, demo, settings):
    """Redis restarted without its data between a fill and a change: the change's value is
    new (random, not a counter starting again), so the other worker's entry is void."""
    if settings.redis_url is None:
        pytest.skip("the embedded half has no Redis to lose")
    clerk = await gql.login(CLERK)
    async with second_app(settings) as other:
        await other.data(RESIDENTS, residents_of(demo), token=clerk)
        redis = app.state.services.redis
        await redis.delete(*[k async for k in redis.scan_iter(f"{settings.redis_prefix}viewer:*")])
        grant = await RoleGrant.get(user_id=demo.users["CLERK"].id, revoked_at=None)
        await revoke_role(Viewer.for_system("script:test"), grant.id)
        body = await other(RESIDENTS, residents_of(demo), token=clerk)
        assert reason(body) == ("FORBIDDEN", "STAFF_ONLY")


async def test_reads_in_one_turn_share_one_mget_and_each_sees_earlier_changes(settings):
    if settings.redis_url is None:
        pytest.skip("the embedded half has no Redis")
    from models.redis_guard import RedisGuard

    redis = connect_redis(settings)
    assert redis is not None
    prefix = settings.redis_prefix + "batch-test:"
    stamps = RedisStamps(redis, prefix, RedisGuard(redis))
    writer = RedisStamps(redis, prefix, RedisGuard(redis))  # another worker's changes
    sent = []
    mget = redis.mget

    async def counted(*keys):
        sent.append(keys)
        return await mget(*keys)

    redis.mget = counted  # type: ignore[method-assign]
    try:
        first = await asyncio.gather(*(stamps.read(u) for u in (1, 2, 3, 1)))
        assert len(sent) == 1 and first[0] == first[3]
        await writer.bump([2])
        second = await asyncio.gather(*(stamps.read(u) for u in (1, 2, 3)))
        assert len(sent) == 2
        assert second[0] == first[0] and second[2] == first[2] and second[1] != first[1]
        # a read cancelled while it waits does not cancel the others' shared read
        waiting = asyncio.ensure_future(stamps.read(1))
        others = asyncio.ensure_future(stamps.read(3))
        await asyncio.sleep(0)
        waiting.cancel()
        assert await others == second[2]
        # Redis unreachable: every read of the turn is unknown (no cache), none fails
        stamps.redis_guard.redis = Redis.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.2
        )
        assert await asyncio.gather(*(stamps.read(u) for u in (1, 2))) == [None, None]
    finally:
        redis.mget = mget  # type: ignore[method-assign]
        await redis.delete(*[k async for k in redis.scan_iter(prefix + "*")])
        await redis.aclose()


async def test_a_token_judged_good_once_is_judged_again_when_it_ends_and_under_another_key(
    app, gql, demo
):
    """Tokens already checked are kept by (key, token): the next request skips the signature
    check, but the time window is checked on every use, and another key refuses the token."""
    from models.accounts import auth as auth_module
    from models.errors import Unauthenticated

    settings = app.state.services.settings
    token = await gql.login(CLERK)
    await gql.data(ME_PLAIN, token=token)
    kept = auth_module._verified[(settings.secret_key, token)]
    assert decode_access_token(settings.auth, token) is kept[0]  # the kept judgement
    # another key (another app in this process, or a rotated secret): judged afresh, refused
    other = settings.with_overrides(secret_key="another-" + settings.secret_key).auth
    with pytest.raises(Unauthenticated) as refused:
        decode_access_token(other, token)
    assert refused.value.reason.value == "TOKEN_INVALID"
    # past a token's end its kept entry is not used: refused as expired, through the API
    claims = kept[0]
    nearly = datetime.now(UTC) - timedelta(seconds=settings.access_token_seconds - 3)
    short = issue_access_token(settings.auth, claims.user_id, claims.session_id, now=nearly)
    await gql.data(ME_PLAIN, token=short)
    ends = auth_module._verified[(settings.secret_key, short)][2]
    await asyncio.sleep(max(0.0, ends - time.time()) + 0.05)
    assert reason(await gql(ME_PLAIN, token=short)) == ("UNAUTHENTICATED", "TOKEN_EXPIRED")
    # a forged token of the same shape (signature changed) was never kept and is refused
    head, claims, signature = token.split(".")
    forged = f"{head}.{claims}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert reason(await gql(ME_PLAIN, token=forged)) == ("UNAUTHENTICATED", "TOKEN_INVALID")
    assert (settings.secret_key, forged) not in auth_module._verified
