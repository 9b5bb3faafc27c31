"""Attacks on the SMS codes, from outside over HTTP: a hostile client (guessing, spoofing,
junk, races, replays), a curious admin (logs, audit) and a database reader. Each attempt
that held stays here so that a regression shows; the ones that got through were fixed."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from tortoise import Tortoise

from api.app import create_app
from api.relay import to_global_id
from models.accounts import RoleGrant, Session, SmsCode, User
from models.audit import AuditEntry
from models.idempotency import IdempotentRequest
from scripts.seed_demo import DEMO_PASSWORD, seed_demo
from tests.client import GQL, LOGIN, ME, REFRESH, REGISTER, disable_account, error_codes
from tests.test_sms_codes import (
    CLERK,
    LOGIN_CODE,
    NEW_PASSWORD,
    RESET,
    UNKNOWN,
    VERIFY,
    VILLAGER,
    ask,
    ask_ok,
    code_for,
    codes,
    configure,
    from_ip,
    login_by_code,
    other,
    sent,
)

ADMIN = "13800000001"
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


async def later(delay: float, call: Awaitable[dict]) -> dict:
    await asyncio.sleep(delay)
    return await call


@asynccontextmanager
async def served(settings, ip: str = "203.0.113.7") -> AsyncIterator[tuple[object, GQL]]:
    """An app of its own (settings that take effect only at start-up), seeded, and a client."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await seed_demo(settings, content=False)
        transport = httpx.ASGITransport(app=application, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield application, GQL(c)


async def post(gql: GQL, query: str, variables: dict, headers: dict) -> httpx.Response:
    return await gql.client.post(
        gql.path, json={"query": query, "variables": variables}, headers=headers
    )


# --- a hostile client -------------------------------------------------------------------


async def test_unicode_digits_do_not_make_another_number(app, gql, demo):
    """'13８…' (full-width or other scripts' digits) was accepted as a number of its own: a
    fresh per-number limit each, and a second account for the owner's number."""
    configure(app, sms_code_ip_limits=((100, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    wide = VILLAGER[:2] + VILLAGER[2:].translate(FULLWIDTH)
    assert error_codes(await ask(gql, wide, "LOGIN")) == ["RATE_LIMITED"]
    arabic = VILLAGER[:3] + "٠٠٠٠٠٠٠٦"  # Arabic-Indic digits: not a number we can text
    assert codes((await ask(gql, arabic, "LOGIN"))["data"]["requestSmsCode"]) == [
        ("INVALID_PHONE", "phone")
    ]
    assert await SmsCode.all().count() == 1
    village = to_global_id("Region", demo.villages[0].id)
    twin = {"phone": wide, "password": "river-stone-42", "name": "村民 冒名", "villageId": village}
    taken = await gql.mutate("register", REGISTER, twin)
    assert codes(taken) == [("PHONE_TAKEN", "phone")]
    assert await User.filter(phone__startswith="13").count() == await User.all().count()
    # a villager typing the code on a full-width keyboard still signs in
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    signed_in = await login_by_code(gql, wide, code.translate(FULLWIDTH))
    assert signed_in["errors"] == [] and signed_in["user"]["phone"] == VILLAGER


async def test_digits_that_are_not_decimal_spend_no_try(app, gql, demo, settings):
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    for junk in ("²³¹⁴⁵⁶", "٠١٢٣٤٥", "①②③④⑤⑥"):
        assert codes(await login_by_code(gql, VILLAGER, junk)) == [("CODE_INVALID", "code")]
    assert (await SmsCode.get(phone=VILLAGER)).attempts == 0
    assert (await login_by_code(gql, VILLAGER, code))["errors"] == []


async def test_ipv6_addresses_of_one_network_share_the_per_address_limits(app, gql, demo):
    """One subscriber holds a whole /64: counting each address alone let it ask for codes
    (and check guesses) without end by changing the last bits."""
    configure(app, sms_code_ip_limits=((3, 60),), sms_code_phone_limits=((10, 60),))
    numbers = [f"139000000{i:02d}" for i in range(4)]
    answers = []
    for i, phone in enumerate(numbers):
        async with from_ip(app, f"2001:db8:1:2::{i + 1:x}") as client:
            answers.append(error_codes(await ask(client, phone, "LOGIN")))
    assert answers == [[], [], [], ["RATE_LIMITED"]]
    async with from_ip(app, "2001:db8:1:3::1") as neighbour:  # the next /64 is someone else
        await ask_ok(neighbour, numbers[3], "LOGIN")

    configure(app, login_attempts=1)  # ten failed checks per window from one network
    checks = []
    for i in range(11):
        async with from_ip(app, f"2001:db8:1:2:{i:x}::9") as client:
            body = await client(LOGIN_CODE, {"input": {"phone": UNKNOWN, "code": "000000"}})
            checks.append(error_codes(body))
    assert checks == [[]] * 10 + [["RATE_LIMITED"]]


async def test_x_forwarded_for_is_ignored_without_trusted_proxies(app, gql, demo):
    configure(app, sms_code_ip_limits=((2, 60),), sms_code_phone_limits=((10, 60),))
    answers = []
    for i in range(3):
        response = await post(
            gql,
            """mutation R($input: RequestSmsCodeInput!) { requestSmsCode(input: $input) { ok } }""",
            {"input": {"phone": f"1390000000{i}", "purpose": "LOGIN"}},
            {"X-Forwarded-For": f"198.51.100.{i + 1}", "X-Real-IP": f"198.51.100.{i + 1}"},
        )
        answers.append(error_codes(response.json()))
    assert answers == [[], [], ["RATE_LIMITED"]]
    sent_entries = await AuditEntry.filter(action="sms_code.not_sent")
    assert {e.ip for e in sent_entries} == {"203.0.113.7"}


async def test_x_forwarded_for_behind_a_trusted_proxy_cannot_be_spoofed(settings):
    """The client may write any X-Forwarded-For; the proxy appends the address it saw, and
    only that (the nearest untrusted hop) counts."""
    trusted = settings.with_overrides(
        trusted_proxies=("203.0.113.7",),
        sms_code_ip_limits=((2, 60),),
        sms_code_phone_limits=((10, 60),),
    )
    async with served(trusted) as (_, proxy):
        answers = []
        for i in range(3):
            response = await post(
                proxy,
                """mutation R($input: RequestSmsCodeInput!) {
                  requestSmsCode(input: $input) { ok } }""",
                {"input": {"phone": f"1390000001{i}", "purpose": "LOGIN"}},
                {"X-Forwarded-For": f"10.0.0.{i}, 198.51.100.77"},
            )
            answers.append(error_codes(response.json()))
        assert answers == [[], [], ["RATE_LIMITED"]]
        entries = await AuditEntry.filter(action="sms_code.not_sent")
        assert {e.ip for e in entries} == {"198.51.100.77"}


async def test_concurrent_requests_cannot_beat_the_per_number_limit(app, gql, demo):
    answers = await asyncio.gather(*(ask(gql, VILLAGER, "LOGIN") for _ in range(6)))
    assert sorted(str(error_codes(a)) for a in answers) == ["['RATE_LIMITED']"] * 5 + ["[]"]
    assert len(await sent(app, VILLAGER)) == 1
    assert await AuditEntry.filter(action="sms_code.sent").count() == 1


async def test_a_code_sent_to_one_number_does_not_open_another(app, gql, demo):
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, CLERK, "LOGIN")
    await ask_ok(gql, VILLAGER, "LOGIN")
    clerks = await code_for(app, CLERK, "LOGIN_CODE")
    villagers = await code_for(app, VILLAGER, "LOGIN_CODE")
    if clerks != villagers:  # one in a million they are equal
        assert codes(await login_by_code(gql, VILLAGER, clerks)) == [("CODE_INVALID", "code")]
    await ask_ok(gql, CLERK, "RESET_PASSWORD")
    reset_code = await code_for(app, CLERK, "RESET_CODE")
    if reset_code != villagers:
        reset = {"phone": VILLAGER, "code": reset_code, "newPassword": NEW_PASSWORD}
        assert codes(await gql.mutate("resetPassword", RESET, reset)) == [("CODE_INVALID", "code")]
    assert (await login_by_code(gql, CLERK, clerks))["user"]["phone"] == CLERK


async def test_a_weak_password_answers_alike_for_known_and_unknown_numbers(app, gql, demo):
    answers = []
    for phone in (VILLAGER, UNKNOWN):
        reset = {"phone": phone, "code": "123456", "newPassword": "12345678"}
        answers.append(await gql.mutate("resetPassword", RESET, reset))
    assert answers[0] == answers[1]
    assert codes(answers[0]) == [("PASSWORD_TOO_WEAK", "newPassword")]


JUNK_PHONES = [
    "1" * 100_000,
    "138\x0000000006",
    "\x00",
    "１２３４５６",
    "13800000006--x",
    "+86+8613800000006",
    "🙂" * 11,
    "",
    "13800000006' OR '1'='1",
]
JUNK_CODES = ["\x00" * 6, "12345\x00", "1" * 100_000, "", "      ", "-12345", "1e5000", "１２３"]


async def test_junk_input_is_a_user_error_never_an_internal_one(app, gql, demo):
    configure(app, sms_code_ip_limits=((1000, 60),), login_attempts=100)
    bodies = []
    for phone in JUNK_PHONES:
        bodies.append(await ask(gql, phone, "LOGIN"))
        bodies.append(await gql(LOGIN_CODE, {"input": {"phone": phone, "code": "123456"}}))
        reset = {"phone": phone, "code": "123456", "newPassword": NEW_PASSWORD}
        bodies.append(await gql(RESET, {"input": reset}))
    for code in JUNK_CODES:
        bodies.append(await gql(LOGIN_CODE, {"input": {"phone": VILLAGER, "code": code}}))
    for body in bodies:
        if "errors" in body:  # a NUL is refused before any resolver runs, and says why
            assert [e["extensions"] for e in body["errors"]] == [
                {"code": "BAD_USER_INPUT", "reason": "NUL_CHARACTER"}
            ], body
            continue
        [payload] = body["data"].values()
        assert payload["errors"], payload
        assert {e["code"] for e in payload["errors"]} <= {"INVALID_PHONE", "CODE_INVALID"}
    assert await SmsCode.all().count() == 0
    # leading and trailing spaces are not junk: the same number, the same code
    await ask_ok(gql, f"  {VILLAGER}\t", "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    assert (await login_by_code(gql, f" {VILLAGER} ", f" {code} "))["errors"] == []


@pytest.mark.parametrize("code", [123456, 1.5, True, ["123456"], {"a": 1}, None])
async def test_a_code_that_is_not_a_string_is_refused_by_the_schema(app, gql, demo, code):
    body = await gql(LOGIN_CODE, {"input": {"phone": VILLAGER, "code": code}})
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert not await AuditEntry.filter(action__startswith="sms_code").exists()


async def test_idempotency_keys_do_not_store_or_replay_credentials(app, gql, demo):
    """A signed-in client's Idempotency-Key on loginWithSmsCode / resetPassword stored the
    answer, tokens and all, in the database for a day and replayed it to the key's owner."""
    configure(app, sms_code_phone_limits=((10, 60),))
    token = await gql.login(CLERK)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "sms-login-0001"}
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    variables = {"input": {"phone": VILLAGER, "code": code}}
    first = await post(gql, LOGIN_CODE, variables, headers)
    tokens = first.json()["data"]["loginWithSmsCode"]
    assert tokens["refreshToken"]
    again = await post(gql, LOGIN_CODE, variables, headers)
    assert "idempotent-replayed" not in again.headers
    assert again.json()["data"]["loginWithSmsCode"]["refreshToken"] is None

    await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
    reset_code = await code_for(app, VILLAGER, "RESET_CODE")
    reset = {"input": {"phone": VILLAGER, "code": reset_code, "newPassword": NEW_PASSWORD}}
    headers["Idempotency-Key"] = "sms-reset-0001"
    done = (await post(gql, RESET, reset, headers)).json()["data"]["resetPassword"]
    assert done["refreshToken"]
    stored = json.dumps([r.response for r in await IdempotentRequest.all()])
    for secret in (tokens["refreshToken"], tokens["accessToken"], done["refreshToken"]):
        assert secret not in stored
    replay = await post(gql, RESET, reset, headers)
    assert "idempotent-replayed" not in replay.headers
    assert codes(replay.json()["data"]["resetPassword"]) == [("CODE_INVALID", "code")]


# --- what the account may be -----------------------------------------------------------


async def test_a_revoked_admin_signing_in_by_code_gets_no_role(app, gql, demo):
    admin = demo.users["ADMIN"]
    await RoleGrant.filter(user_id=admin.id).update(revoked_at=datetime.now(UTC))
    await ask_ok(gql, ADMIN, "LOGIN")
    signed_in = await login_by_code(gql, ADMIN, await code_for(app, ADMIN, "LOGIN_CODE"))
    assert signed_in["errors"] == []
    me = await gql.data(ME, token=signed_in["accessToken"])
    assert me["me"]["roles"] == []


async def test_a_user_disabled_after_signing_in_by_code_is_shut_out(app, gql, demo):
    await ask_ok(gql, VILLAGER, "LOGIN")
    signed_in = await login_by_code(gql, VILLAGER, await code_for(app, VILLAGER, "LOGIN_CODE"))
    await disable_account(phone=VILLAGER)
    assert error_codes(await gql(ME, token=signed_in["accessToken"])) == ["UNAUTHENTICATED"]


async def test_verify_phone_only_ever_verifies_the_viewers_own_number(app, gql, demo):
    """A squatter registered with the villager's number: the VERIFY code goes to the real
    owner's phone, and neither guesses nor a code of another purpose verify it."""
    configure(app, sms_code_phone_limits=((10, 60),))
    await User.filter(phone=VILLAGER).delete()
    village = to_global_id("Region", demo.villages[0].id)
    squat = {"phone": VILLAGER, "password": "river-stone-42", "name": "冒名", "villageId": village}
    token = (await gql.mutate("register", REGISTER, squat))["accessToken"]
    await ask_ok(gql, None, "VERIFY_PHONE", token=token)
    owners = await code_for(app, VILLAGER, "VERIFY_CODE")  # on the owner's phone, not his
    await ask_ok(gql, VILLAGER, "LOGIN")
    login_code = await code_for(app, VILLAGER, "LOGIN_CODE")
    for guess in {other(owners), login_code} - {owners}:
        answer = await gql.mutate("verifyPhone", VERIFY, {"code": guess}, token=token)
        assert codes(answer) == [("CODE_INVALID", "code")]
    mine = await ask(gql, CLERK, "VERIFY_PHONE", token=token)  # another number entirely
    assert codes(mine["data"]["requestSmsCode"]) == [("PHONE_NOT_YOURS", "phone")]
    assert (await User.get(phone=VILLAGER)).phone_verified_at is None


# --- a curious admin: logs and the audit log --------------------------------------------


async def test_codes_never_reach_the_logs_in_production(settings, caplog):
    """The only provider there is writes to the log; in production it wrote every code in
    full, for anyone who reads the logs to sign in as anyone."""
    production = settings.with_overrides(env="production")
    caplog.set_level(logging.DEBUG)
    async with served(production) as (application, client):
        await ask_ok(client, VILLAGER, "LOGIN")
        [(_, _, params)] = await sent(application, VILLAGER)
        signed_in = await login_by_code(client, VILLAGER, params["code"])
        configure(application, sms_code_phone_limits=((10, 60),))
        await ask_ok(client, VILLAGER, "RESET_PASSWORD")
        reset_code = await code_for(application, VILLAGER, "RESET_CODE")
        reset = {"phone": VILLAGER, "code": reset_code, "newPassword": NEW_PASSWORD}
        done = await client.mutate("resetPassword", RESET, reset)
        await login_by_code(client, VILLAGER, reset_code)  # refused: logged nowhere either
    assert "SMS to 138****0006" in caplog.text
    secrets = [params["code"], reset_code, NEW_PASSWORD]
    secrets += [signed_in["refreshToken"], done["refreshToken"], done["accessToken"]]
    for secret in secrets:
        assert secret not in caplog.text


async def test_rate_limited_and_refused_attempts_cannot_flood_the_audit_log(app, gql, demo):
    configure(app, login_attempts=1)
    for _ in range(30):
        await ask(gql, VILLAGER, "LOGIN")
        await gql(LOGIN_CODE, {"input": {"phone": UNKNOWN, "code": "000000"}})
    assert await AuditEntry.filter(action__startswith="sms_code.").count() == 1 + 10


# --- someone with the database ----------------------------------------------------------


async def test_the_stored_hash_says_nothing_without_the_secret_key(app, gql, demo, settings):
    """A reader of the database alone cannot try the million codes: the HMAC's key is the
    SECRET_KEY, which is not in the database, and number and purpose are in the message."""
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
    conn = Tortoise.get_connection("default")
    _, rows = await conn.execute_query("SELECT code_hash FROM sms_code")
    assert len({r["code_hash"] for r in rows}) == 2
    dump = json.dumps([[str(v) for v in dict(r).values()] for r in rows])
    assert settings.secret_key not in dump
    for table in ("audit_entry", "idempotent_request"):
        _, everything = await conn.execute_query(f"SELECT * FROM {table}")
        assert settings.secret_key not in json.dumps(
            [list(map(str, dict(r).values())) for r in everything]
        )


async def test_a_wrong_code_for_a_real_number_and_for_no_account_answer_alike(app, gql, demo):
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    await ask_ok(gql, UNKNOWN, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    known = await login_by_code(gql, VILLAGER, other(code))
    unknown = await login_by_code(gql, UNKNOWN, other(code))
    assert known == unknown


async def test_a_reset_kills_the_numbers_other_live_codes(app, gql, demo):
    """Whoever held the phone a moment ago (a thief, a SIM swap) may hold a sign-in code;
    the owner's reset ends every session, so it must end that pending one too."""
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    thiefs = await code_for(app, VILLAGER, "LOGIN_CODE")
    await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
    reset_code = await code_for(app, VILLAGER, "RESET_CODE")
    reset = {"phone": VILLAGER, "code": reset_code, "newPassword": NEW_PASSWORD}
    assert (await gql.mutate("resetPassword", RESET, reset))["errors"] == []
    late = await login_by_code(gql, VILLAGER, thiefs)
    assert codes(late) == [("CODE_INVALID", "code")] and late["accessToken"] is None
    refused = await AuditEntry.filter(action="sms_code.refused").order_by("-id").first()
    assert refused.after["reason"] == "USED"


async def test_a_sign_in_racing_a_reset_does_not_outlive_it(app, gql, demo):
    """A stolen sign-in code used at the very moment the owner resets: whichever commits
    first, no session but the reset's survives, and neither side fails."""
    configure(app, sms_code_phone_limits=((100, 60),), sms_code_ip_limits=((100, 60),))
    # the thief's request starts 0–28 ms after the owner's: before, inside and after the
    # reset's transaction (its password hash comes first)
    for delay in [i * 0.004 for i in range(8)]:
        await ask_ok(gql, VILLAGER, "LOGIN")
        await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
        thiefs = await code_for(app, VILLAGER, "LOGIN_CODE")
        owners = await code_for(app, VILLAGER, "RESET_CODE")
        reset = {"phone": VILLAGER, "code": owners, "newPassword": NEW_PASSWORD}
        bodies = await asyncio.gather(
            later(delay, gql(LOGIN_CODE, {"input": {"phone": VILLAGER, "code": thiefs}})),
            gql(RESET, {"input": reset}),
        )
        assert all("errors" not in b for b in bodies), bodies
        thief, owner = bodies[0]["data"]["loginWithSmsCode"], bodies[1]["data"]["resetPassword"]
        assert owner["errors"] == []
        assert codes(thief) in ([], [("CODE_INVALID", "code")])
        live = await Session.filter(user_id=demo.users["VILLAGER"].id, revoked_at=None)
        assert len(live) == 1
        if thief["accessToken"]:
            assert error_codes(await gql(ME, token=thief["accessToken"])) == ["UNAUTHENTICATED"]
        assert (await gql.data(ME, token=owner["accessToken"]))["me"]["phone"] == VILLAGER


async def test_a_password_sign_in_racing_a_reset_does_not_outlive_it(app, gql, demo):
    """The thief knows the old password (which is why the owner resets): a sign-in checked
    against the old hash just before the reset commits must not leave a session after it."""
    configure(app, sms_code_phone_limits=((100, 60),), sms_code_ip_limits=((100, 60),))
    villager = demo.users["VILLAGER"].id
    password = DEMO_PASSWORD
    for delay in [i * 0.003 for i in range(10)]:
        await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
        owners = await code_for(app, VILLAGER, "RESET_CODE")
        new = f"{NEW_PASSWORD}-{delay}"
        reset = {"phone": VILLAGER, "code": owners, "newPassword": new}
        bodies = await asyncio.gather(
            later(delay, gql(LOGIN, {"input": {"phone": VILLAGER, "password": password}})),
            gql(RESET, {"input": reset}),
        )
        assert all("errors" not in b for b in bodies), bodies
        thief, owner = bodies[0]["data"]["login"], bodies[1]["data"]["resetPassword"]
        assert owner["errors"] == []
        assert codes(thief) in ([], [("INVALID_CREDENTIALS", "password")])
        assert await Session.filter(user_id=villager, revoked_at=None).count() == 1, delay
        password = new


async def test_a_refresh_racing_a_reset_does_not_outlive_it(app, gql, demo):
    """The thief's refresh token traded at the moment of the reset: the pair it gets belongs
    to a session the reset ended."""
    configure(app, sms_code_phone_limits=((100, 60),), sms_code_ip_limits=((100, 60),))
    for delay in [i * 0.004 for i in range(6)]:
        stolen = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
        await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
        owners = await code_for(app, VILLAGER, "RESET_CODE")
        # the same password again: the thief's knowledge of it is not what is tested here
        reset = {"phone": VILLAGER, "code": owners, "newPassword": DEMO_PASSWORD}
        bodies = await asyncio.gather(
            later(delay, gql(REFRESH, {"input": {"refreshToken": stolen["refreshToken"]}})),
            gql(RESET, {"input": reset}),
        )
        assert all("errors" not in b for b in bodies), bodies
        refreshed = bodies[0]["data"]["refreshToken"]
        assert codes(refreshed) in ([], [("TOKEN_REVOKED", "refreshToken")])
        if refreshed["accessToken"]:
            assert error_codes(await gql(ME, token=refreshed["accessToken"])) == ["UNAUTHENTICATED"]
            again = {"refreshToken": refreshed["refreshToken"]}
            assert codes(await gql.mutate("refreshToken", REFRESH, again)) == [
                ("TOKEN_REVOKED", "refreshToken")
            ]


async def test_the_time_taken_does_not_tell_known_numbers_from_unknown(app, gql, demo):
    """Coarse: the median times of asking for a code and of a wrong code, for a number with
    an account and one without, are within a few milliseconds of each other."""
    configure(app, sms_code_phone_limits=((1000, 60),), sms_code_ip_limits=((1000, 60),))
    configure(app, login_attempts=1000)
    timings: dict[tuple[str, str], list[float]] = {}
    for _ in range(15):
        for phone in (VILLAGER, UNKNOWN):
            start = time.perf_counter()
            await ask_ok(gql, phone, "LOGIN")
            timings.setdefault(("ask", phone), []).append(time.perf_counter() - start)
            start = time.perf_counter()
            await login_by_code(gql, phone, "000000")
            timings.setdefault(("check", phone), []).append(time.perf_counter() - start)
    for step in ("ask", "check"):
        known = statistics.median(timings[(step, VILLAGER)])
        unknown = statistics.median(timings[(step, UNKNOWN)])
        assert abs(known - unknown) < 0.005 + 0.5 * min(known, unknown), (step, known, unknown)


async def test_password_guesses_from_one_ipv6_network_share_its_limits(app, gql, demo):
    """The same /64 rotation against the password sign-in (the code's fallback)."""
    configure(app, login_attempts=2, login_phone_attempts=100)
    answers = []
    for i in range(3):
        async with from_ip(app, f"2001:db8:9:9::{i + 1:x}") as client:
            body = await client(LOGIN, {"input": {"phone": VILLAGER, "password": "guess-1234"}})
            answers.append(error_codes(body))
    assert answers == [[], [], ["RATE_LIMITED"]]


async def test_a_disabled_account_cannot_reset_its_password_by_code(app, gql, demo):
    await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
    code = await code_for(app, VILLAGER, "RESET_CODE")
    before = (await User.get(phone=VILLAGER)).password_hash
    await disable_account(phone=VILLAGER)
    reset = {"phone": VILLAGER, "code": code, "newPassword": NEW_PASSWORD}
    refused = await gql.mutate("resetPassword", RESET, reset)
    assert codes(refused) == [("ACCOUNT_DISABLED", "phone")] and refused["accessToken"] is None
    assert (await User.get(phone=VILLAGER)).password_hash == before
    assert not await AuditEntry.filter(action="user.reset_password").exists()
