"""SMS codes over HTTP: verify one's phone, sign in and reset a password by code; the codes are
single-use, short-lived, hashed at rest, limited per number and per address, and say nothing
about which numbers have accounts. The code is read where the villager's phone would: the
development provider's `sent`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tortoise import Tortoise

from api.accounts.codes import settle
from api.jobs.periodic import active_periodic
from api.relay import to_global_id
from api.settings import Settings, SettingsError
from models.accounts import Session, SmsCode, User
from models.accounts.sms_codes import prune
from models.audit import AuditEntry
from models.deliveries import Delivery, DeliveryStatus
from scripts.seed_demo import DEMO_PASSWORD
from tests.client import GQL, LOGIN, ME, REFRESH, REGISTER, disable_account, error_codes

VILLAGER = "13800000006"
CLERK = "13800000004"
UNKNOWN = "13977770000"
NEW_PASSWORD = "willow-bridge-77"

REQUEST = """
mutation Request($input: RequestSmsCodeInput!) {
  requestSmsCode(input: $input) { ok expiresIn resendAfter errors { code field message } }
}"""

LOGIN_CODE = """
mutation LoginCode($input: LoginWithSmsCodeInput!) {
  loginWithSmsCode(input: $input) {
    accessToken refreshToken expiresIn
    user { id name phone phoneVerified }
    errors { code field message }
  }
}"""

RESET = """
mutation Reset($input: ResetPasswordInput!) {
  resetPassword(input: $input) {
    accessToken refreshToken
    user { id phoneVerified }
    errors { code field message }
  }
}"""

VERIFY = """
mutation Verify($input: VerifyPhoneInput!) {
  verifyPhone(input: $input) { user { id phoneVerified } errors { code field message } }
}"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def configure(app, **overrides: object) -> None:
    services = app.state.services
    services.settings = services.settings.with_overrides(**overrides)


async def sent(app, phone: str | None = None) -> list[tuple[str, str, dict[str, str]]]:
    """What the development provider sent (to `phone`), once the sends have finished."""
    await settle()
    return [m for m in app.state.services.sms.sent if phone is None or m[0] == phone]


async def code_for(app, phone: str, template: str) -> str:
    messages = [m for m in await sent(app, phone) if m[1] == template]
    assert messages, f"no {template} sent to {phone}"
    return messages[-1][2]["code"]


async def ask(gql: GQL, phone: str | None, purpose: str, token: str | None = None) -> dict:
    data = {"purpose": purpose} | ({"phone": phone} if phone else {})
    return await gql(REQUEST, {"input": data}, token=token)


async def ask_ok(gql: GQL, phone: str | None, purpose: str, token: str | None = None) -> dict:
    body = await ask(gql, phone, purpose, token)
    assert "errors" not in body, body
    payload = body["data"]["requestSmsCode"]
    assert payload["errors"] == [] and payload["ok"] is True, payload
    return payload


async def login_by_code(gql: GQL, phone: str, code: str) -> dict:
    return await gql.mutate("loginWithSmsCode", LOGIN_CODE, {"phone": phone, "code": code})


def codes(payload: dict) -> list[tuple[str, str]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


@asynccontextmanager
async def from_ip(app, ip: str) -> AsyncIterator[GQL]:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield GQL(c)


async def test_an_sms_code_signs_a_villager_in(app, gql, demo, settings):
    payload = await ask_ok(gql, VILLAGER, "LOGIN")
    assert payload["expiresIn"] == settings.sms_code_seconds and payload["resendAfter"] == 60
    [(phone, template, params)] = await sent(app)
    assert (phone, template) == (VILLAGER, "LOGIN_CODE")
    assert len(params["code"]) == 6 and params["code"].isdigit()

    signed_in = await login_by_code(gql, "+86 138-0000-0006", params["code"])
    assert signed_in["errors"] == [] and signed_in["user"]["name"] == "村民 赵大山"
    me = await gql.data(ME, token=signed_in["accessToken"])
    assert me["me"]["phone"] == VILLAGER
    refreshed = await gql.mutate(
        "refreshToken", REFRESH, {"refreshToken": signed_in["refreshToken"]}
    )
    assert refreshed["errors"] == []
    login = await AuditEntry.get(action="user.login")
    assert login.after == {"method": "SMS_CODE"}
    assert login.actor_id == demo.users["VILLAGER"].id


async def test_signing_in_by_code_verifies_a_new_villagers_phone(app, gql, demo):
    village = to_global_id("Region", demo.villages[0].id)
    new = {"phone": "13912345678", "password": "river-stone-42", "name": "村民 孙小禾"}
    registered = await gql.mutate("register", REGISTER, new | {"villageId": village})
    assert registered["errors"] == []
    assert (await User.get(phone="13912345678")).phone_verified_at is None
    await ask_ok(gql, "13912345678", "LOGIN")
    signed_in = await login_by_code(
        gql, "13912345678", await code_for(app, "13912345678", "LOGIN_CODE")
    )
    assert signed_in["user"]["phoneVerified"] is True
    assert (await User.get(phone="13912345678")).phone_verified_at is not None


async def test_a_reused_code_is_refused(app, gql, demo):
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    assert (await login_by_code(gql, VILLAGER, code))["errors"] == []
    sessions = await Session.all().count()
    again = await login_by_code(gql, VILLAGER, code)
    assert codes(again) == [("CODE_INVALID", "code")] and again["accessToken"] is None
    assert await Session.all().count() == sessions
    assert (await AuditEntry.filter(action="sms_code.refused").first()).after["reason"] == "USED"


async def test_an_expired_code_is_refused(app, gql, demo, settings):
    clock = Clock()
    configure(app, clock=clock)
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    clock.now += timedelta(seconds=settings.sms_code_seconds + 1)
    expired = await login_by_code(gql, VILLAGER, code)
    assert codes(expired) == [("CODE_INVALID", "code")]
    assert expired["errors"][0]["message"] == "验证码错误或已失效，请重新获取"
    # an expired code answers exactly as a wrong one does (and as a number with no account)
    clock.now -= timedelta(seconds=settings.sms_code_seconds + 1)
    wrong = await login_by_code(gql, VILLAGER, other(code))
    unknown = await login_by_code(gql, UNKNOWN, code)
    assert wrong == expired == unknown
    reasons = [e.after["reason"] for e in await AuditEntry.filter(action="sms_code.refused")]
    assert sorted(reasons) == ["EXPIRED", "NO_CODE", "WRONG"]
    # still within its minutes, the right code works
    clock.now += timedelta(seconds=settings.sms_code_seconds - 1)
    assert (await login_by_code(gql, VILLAGER, code))["errors"] == []


async def test_wrong_attempts_kill_the_code(app, gql, demo, settings):
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    for _ in range(settings.sms_code_attempts):
        assert codes(await login_by_code(gql, VILLAGER, other(code))) == [("CODE_INVALID", "code")]
    dead = await login_by_code(gql, VILLAGER, code)
    assert codes(dead) == [("CODE_INVALID", "code")]
    assert (await AuditEntry.filter(action="sms_code.refused").order_by("-id").first()).after[
        "reason"
    ] == "TOO_MANY_ATTEMPTS"
    # one wrong try fewer leaves the right code working
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    for _ in range(settings.sms_code_attempts - 1):
        await login_by_code(gql, VILLAGER, other(code))
    assert (await login_by_code(gql, VILLAGER, code))["errors"] == []


async def test_a_new_code_supersedes_the_old_and_codes_keep_to_their_purpose(app, gql, demo):
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    first = await code_for(app, VILLAGER, "LOGIN_CODE")
    await ask_ok(gql, VILLAGER, "LOGIN")
    second = await code_for(app, VILLAGER, "LOGIN_CODE")
    if first != second:  # one in a million they are the same
        assert codes(await login_by_code(gql, VILLAGER, first)) == [("CODE_INVALID", "code")]
    # a reset code does not sign in, and a sign-in code does not reset
    await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
    reset_code = await code_for(app, VILLAGER, "RESET_CODE")
    if reset_code != second:
        assert codes(await login_by_code(gql, VILLAGER, reset_code)) == [("CODE_INVALID", "code")]
    reset = {"phone": VILLAGER, "code": second, "newPassword": NEW_PASSWORD}
    if reset_code != second:
        assert codes(await gql.mutate("resetPassword", RESET, reset)) == [("CODE_INVALID", "code")]
    assert (await login_by_code(gql, VILLAGER, second))["errors"] == []


async def test_the_per_number_limits_answer_rate_limited_and_send_nothing(app, gql, demo):
    await ask_ok(gql, VILLAGER, "LOGIN")
    # one a minute per number, whatever the purpose or address
    again = await ask(gql, VILLAGER, "RESET_PASSWORD")
    assert error_codes(again) == ["RATE_LIMITED"] and again["errors"][0]["extensions"]["retryAfter"]
    async with from_ip(app, "198.51.100.9") as elsewhere:
        assert error_codes(await ask(elsewhere, VILLAGER, "LOGIN")) == ["RATE_LIMITED"]
    assert len(await sent(app)) == 1
    # the hourly limit (configured small here) holds once the minute's is passed
    configure(app, sms_code_phone_limits=((100, 60), (3, 3600)))
    await ask_ok(gql, CLERK, "LOGIN")
    await ask_ok(gql, CLERK, "LOGIN")
    await ask_ok(gql, CLERK, "LOGIN")
    assert error_codes(await ask(gql, CLERK, "LOGIN")) == ["RATE_LIMITED"]
    assert len(await sent(app, CLERK)) == 3
    # unknown numbers are limited alike (else the limit would tell them apart)
    await ask_ok(gql, UNKNOWN, "LOGIN")
    await ask_ok(gql, UNKNOWN, "LOGIN")
    await ask_ok(gql, UNKNOWN, "LOGIN")
    assert error_codes(await ask(gql, UNKNOWN, "LOGIN")) == ["RATE_LIMITED"]


async def test_the_per_address_limit_answers_rate_limited_and_sends_nothing(app, gql, demo):
    configure(app, sms_code_ip_limits=((3, 60),))
    for phone in (VILLAGER, CLERK, UNKNOWN):
        await ask_ok(gql, phone, "LOGIN")
    assert error_codes(await ask(gql, "13800000005", "LOGIN")) == ["RATE_LIMITED"]
    assert [m[0] for m in await sent(app)] == [VILLAGER, CLERK]
    # the refused request counted against no number: from elsewhere it goes through
    async with from_ip(app, "198.51.100.9") as elsewhere:
        await ask_ok(elsewhere, "13800000005", "LOGIN")
    assert [m[0] for m in await sent(app)] == [VILLAGER, CLERK, "13800000005"]


async def test_checking_codes_is_limited_per_address(app, gql, demo):
    configure(app, login_attempts=1)  # ten failed checks per window from one address
    answers = [
        error_codes(await gql(LOGIN_CODE, {"input": {"phone": VILLAGER, "code": "000000"}}))
        for _ in range(11)
    ]
    assert answers == [[]] * 10 + [["RATE_LIMITED"]]


async def test_an_unknown_number_answers_like_a_known_one_and_gets_nothing(app, gql, demo):
    for purpose in ("LOGIN", "RESET_PASSWORD"):
        async with from_ip(app, "198.51.100.1") as a, from_ip(app, "198.51.100.2") as b:
            known, unknown = await ask(a, VILLAGER, purpose), await ask(b, UNKNOWN, purpose)
        assert known == unknown
        configure(app, sms_code_phone_limits=((10, 60),))
    assert [m[0] for m in await sent(app)] == [VILLAGER, VILLAGER]
    # a code is stored for it all the same (the same work, the same time), for no account
    decoys = await SmsCode.filter(phone=UNKNOWN).order_by("purpose")
    assert [(d.purpose, d.user_id) for d in decoys] == [("LOGIN", None), ("RESET_PASSWORD", None)]
    not_sent = await AuditEntry.filter(action="sms_code.not_sent")
    assert [(e.object_type, e.object_id, e.after["reason"]) for e in not_sent] == [
        ("Phone", "139****0000", "NO_ACCOUNT")
    ] * 2
    # a made-up code for it is refused as any wrong code is
    refused = await gql.mutate(
        "resetPassword", RESET, {"phone": UNKNOWN, "code": "123456", "newPassword": NEW_PASSWORD}
    )
    assert codes(refused) == [("CODE_INVALID", "code")]


async def test_a_disabled_account_gets_no_code_and_cannot_sign_in_by_code(app, gql, demo):
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    await disable_account(phone=VILLAGER)
    refused = await login_by_code(gql, VILLAGER, code)
    assert codes(refused) == [("ACCOUNT_DISABLED", "phone")] and refused["accessToken"] is None
    answer = await ask_ok(gql, VILLAGER, "LOGIN")
    assert answer["ok"] is True
    assert len(await sent(app)) == 1  # the second request sent nothing
    last = await AuditEntry.filter(action="sms_code.not_sent").first()
    assert last.after["reason"] == "ACCOUNT_DISABLED"
    # the first code, superseded by one nobody received, is dead too
    assert codes(await login_by_code(gql, VILLAGER, code)) == [("CODE_INVALID", "code")]


async def test_reset_by_code_sets_the_password_and_ends_every_old_session(app, gql, demo):
    old = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
    code = await code_for(app, VILLAGER, "RESET_CODE")
    # the password's rules first: a weak one spends nothing and changes nothing
    weak = await gql.mutate(
        "resetPassword", RESET, {"phone": VILLAGER, "code": code, "newPassword": "12345678"}
    )
    assert codes(weak) == [("PASSWORD_TOO_WEAK", "newPassword")]
    assert (await SmsCode.get(phone=VILLAGER)).attempts == 0

    reset = await gql.mutate(
        "resetPassword", RESET, {"phone": VILLAGER, "code": code, "newPassword": NEW_PASSWORD}
    )
    assert reset["errors"] == [] and reset["user"]["phoneVerified"] is True
    stale = await gql.mutate("refreshToken", REFRESH, {"refreshToken": old["refreshToken"]})
    assert codes(stale) == [("TOKEN_REVOKED", "refreshToken")]
    assert error_codes(await gql(ME, token=old["accessToken"])) == ["UNAUTHENTICATED"]
    # the new session works; the old password does not, the new one does
    assert (await gql.data(ME, token=reset["accessToken"]))["me"]["phone"] == VILLAGER
    wrong = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    assert codes(wrong) == [("INVALID_CREDENTIALS", "password")]
    assert await gql.login(VILLAGER, NEW_PASSWORD)
    entry = await AuditEntry.get(action="user.reset_password")
    assert entry.after == {"sessions_ended": 1}


async def test_a_registered_villager_verifies_their_phone(app, gql, demo):
    village = to_global_id("Region", demo.villages[0].id)
    new = {"phone": "13912345678", "password": "river-stone-42", "name": "村民 孙小禾"}
    token = (await gql.mutate("register", REGISTER, new | {"villageId": village}))["accessToken"]
    # only for oneself, and only signed in
    assert error_codes(await ask(gql, None, "VERIFY_PHONE")) == ["UNAUTHENTICATED"]
    mine = await ask(gql, VILLAGER, "VERIFY_PHONE", token=token)
    assert codes(mine["data"]["requestSmsCode"]) == [("PHONE_NOT_YOURS", "phone")]
    await ask_ok(gql, None, "VERIFY_PHONE", token=token)
    code = await code_for(app, "13912345678", "VERIFY_CODE")
    wrong = await gql.mutate("verifyPhone", VERIFY, {"code": other(code)}, token=token)
    assert codes(wrong) == [("CODE_INVALID", "code")]
    # another account cannot use it (it checks its own number's code)
    other_token = await gql.login(VILLAGER)
    taken = await gql.mutate("verifyPhone", VERIFY, {"code": code}, token=other_token)
    assert codes(taken) == [("CODE_INVALID", "code")]
    done = await gql.mutate("verifyPhone", VERIFY, {"code": code}, token=token)
    assert done["errors"] == [] and done["user"]["phoneVerified"] is True
    user = await User.get(phone="13912345678")
    entry = await AuditEntry.get(action="user.verify_phone", object_id=str(user.id))
    assert entry.after["by"] == "VERIFY_PHONE" and entry.actor_id == user.id
    again = await ask(gql, None, "VERIFY_PHONE", token=token)
    assert codes(again["data"]["requestSmsCode"]) == [("PHONE_ALREADY_VERIFIED", "phone")]
    assert len(await sent(app)) == 1


async def test_codes_are_kept_only_as_keyed_hashes(app, gql, demo, settings):
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    conn = Tortoise.get_connection("default")
    _, rows = await conn.execute_query("SELECT * FROM sms_code")
    [row] = [dict(r) for r in rows]
    assert not any(code in str(value) for value in row.values())
    keyed = hmac.new(
        settings.secret_key.encode(), f"sms-code\0{VILLAGER}\0LOGIN\0{code}".encode(), "sha256"
    ).hexdigest()
    assert row["code_hash"] == keyed != hashlib.sha256(code.encode()).hexdigest()


async def test_codes_never_reach_the_audit_log_or_the_answers(app, gql, demo):
    configure(app, sms_code_phone_limits=((10, 60),))
    answers = []
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    answers.append(await login_by_code(gql, VILLAGER, other(code)))
    answers.append(await login_by_code(gql, VILLAGER, code))
    answers.append(await login_by_code(gql, VILLAGER, code))
    await ask_ok(gql, VILLAGER, "RESET_PASSWORD")
    reset_code = await code_for(app, VILLAGER, "RESET_CODE")
    reset = {"phone": VILLAGER, "code": reset_code, "newPassword": NEW_PASSWORD}
    answers.append(await gql.mutate("resetPassword", RESET, reset))
    answers.append(await gql.mutate("resetPassword", RESET, reset))
    for lang in ("zh", "en"):
        body = await gql(LOGIN_CODE, {"input": {"phone": VILLAGER, "code": code}}, lang=lang)
        answers.append(body["data"]["loginWithSmsCode"])
    assert answers[-1]["errors"][0]["message"] == (
        "The code is wrong or no longer valid; ask for a new one"
    )
    assert [codes(a) for a in answers] == [
        [("CODE_INVALID", "code")],
        [],
        [("CODE_INVALID", "code")],
        [],
        [("CODE_INVALID", "code")],
        [("CODE_INVALID", "code")],
        [("CODE_INVALID", "code")],
    ]
    assert not any(c in json.dumps(a["errors"]) for a in answers for c in (code, reset_code))
    entries = await AuditEntry.all()
    assert {e.action for e in entries} >= {
        "sms_code.sent",
        "sms_code.refused",
        "user.login",
        "user.reset_password",
    }
    text = json.dumps([[e.object_id, e.before, e.after] for e in entries])
    assert code not in text and reset_code not in text
    assert VILLAGER not in text  # numbers are recorded masked


async def test_expired_codes_are_pruned_by_the_scheduled_job(app, gql, demo, settings):
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    await ask_ok(gql, CLERK, "LOGIN")
    later = datetime.now(UTC) + timedelta(seconds=settings.sms_code_seconds + 1)
    await SmsCode.filter(phone=CLERK).update(expires_at=later - timedelta(seconds=2))
    await SmsCode.filter(phone=VILLAGER).update(expires_at=later + timedelta(seconds=60))
    assert await prune(later) == 1
    assert [c.phone for c in await SmsCode.all()] == [VILLAGER]
    assert "prune_sms_codes" in {p.name for p in active_periodic()}


async def test_concurrent_checks_use_a_code_once_and_guess_no_more_than_allowed(
    app, gql, demo, settings
):
    configure(app, sms_code_phone_limits=((10, 60),))
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    answers = await asyncio.gather(*(login_by_code(gql, VILLAGER, code) for _ in range(5)))
    assert sorted(len(a["errors"]) for a in answers) == [0, 1, 1, 1, 1]
    assert sum(a["accessToken"] is not None for a in answers) == 1
    # twice the allowed wrong guesses at once: the code still dies at the limit
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    guesses = [other(code)] * (2 * settings.sms_code_attempts)
    await asyncio.gather(*(login_by_code(gql, VILLAGER, g) for g in guesses))
    assert (
        await SmsCode.get(phone=VILLAGER, purpose="LOGIN")
    ).attempts == settings.sms_code_attempts
    assert codes(await login_by_code(gql, VILLAGER, code)) == [("CODE_INVALID", "code")]


async def test_verifying_a_phone_needs_a_signed_in_viewer(gql, demo):
    body = await gql(VERIFY, {"input": {"code": "123456"}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert not await AuditEntry.filter(action="sms_code.refused").exists()


def test_the_limits_are_read_from_the_environment(tmp_path):
    env = {
        "DATA_DIR": str(tmp_path),
        "SMS_CODE_PHONE_LIMITS": "2/60, 4/3600",
        "SMS_CODE_SECONDS": "120",
    }
    settings = Settings.from_env(env)
    assert settings.sms_code_phone_limits == ((2, 60), (4, 3600))
    assert settings.sms_code_ip_limits == ((10, 60), (60, 3600), (200, 86400))
    assert settings.sms_code_seconds == 120
    for bad in ("2", "a/60", "0/60"):
        with pytest.raises(SettingsError, match="SMS_CODE_IP_LIMITS"):
            Settings.from_env({"DATA_DIR": str(tmp_path), "SMS_CODE_IP_LIMITS": bad})


async def test_a_code_is_recorded_as_a_delivery_without_the_code(app, gql, demo):
    await ask_ok(gql, VILLAGER, "LOGIN")
    code = await code_for(app, VILLAGER, "LOGIN_CODE")
    [row] = await Delivery.filter(template="LOGIN_CODE")
    assert row.user_id == demo.users["VILLAGER"].id and row.status == DeliveryStatus.SENT
    assert row.provider == "log" and row.provider_message_id and row.sms_day is None
    stored = json.dumps([str(v) for v in (await Delivery.filter(id=row.id).values())[0].values()])
    assert code not in stored
    # an unknown number gets no SMS, so no delivery either
    await ask_ok(gql, "13999999999", "LOGIN")
    assert await Delivery.filter(template="LOGIN_CODE").count() == 1
