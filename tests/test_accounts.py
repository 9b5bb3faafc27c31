"""Registration, sign-in, refresh-token rotation, logout and password change over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx

from api.relay import to_global_id
from models.accounts import RefreshToken, Session, User
from models.audit import AuditEntry
from scripts.seed_demo import DEMO_PASSWORD
from tests.client import GQL, LOGIN, ME, REFRESH, REGISTER, error_codes

VILLAGER = "13800000006"
ADMIN = "13800000001"


def register_input(demo, **overrides):
    data = {
        "phone": "13912345678",
        "password": "river-stone-42",
        "name": "村民 孙小禾",
        "villageId": to_global_id("Region", demo.villages[1].id),
    }
    data.update(overrides)
    return data


async def test_register_signs_in_an_unverified_villager(gql, demo):
    payload = await gql.mutate("register", REGISTER, register_input(demo))
    assert payload["errors"] == []
    assert payload["user"]["phone"] == "13912345678"  # the owner sees the full number
    assert payload["user"]["residencyVerified"] is False
    assert payload["user"]["village"]["name"] == demo.villages[1].name
    me = await gql.data(ME, token=payload["accessToken"])
    assert me["me"]["name"] == "村民 孙小禾"
    user = await User.get(phone="13912345678")
    assert user.password_hash.startswith("$argon2id$")
    assert await AuditEntry.filter(action="user.register", object_id=str(user.id)).count() == 1


async def test_register_accepts_country_code_and_separators(gql, demo):
    payload = await gql.mutate(
        "register", REGISTER, register_input(demo, phone="+86 139-1234-5678")
    )
    assert payload["errors"] == []
    assert await User.exists(phone="13912345678")


async def test_register_refuses_bad_input_and_changes_nothing(gql, demo):
    users, audits = await User.all().count(), await AuditEntry.all().count()
    cases = [
        ({"phone": "12345"}, "INVALID_PHONE", "phone"),
        ({"phone": "10912345678"}, "INVALID_PHONE", "phone"),
        ({"phone": VILLAGER}, "PHONE_TAKEN", "phone"),
        ({"password": "short"}, "PASSWORD_TOO_SHORT", "password"),
        ({"password": "1234567890"}, "PASSWORD_TOO_WEAK", "password"),
        ({"name": "   "}, "INVALID_NAME", "name"),
        ({"villageId": to_global_id("Region", demo.townships[0].id)}, "NOT_A_VILLAGE", "villageId"),
        ({"villageId": to_global_id("Region", 999999)}, "NOT_FOUND", "villageId"),
        ({"villageId": "not-an-id"}, "INVALID_ID", "villageId"),
    ]
    for overrides, code, field in cases:
        payload = await gql.mutate("register", REGISTER, register_input(demo, **overrides))
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], overrides
        assert payload["accessToken"] is None
    assert await User.all().count() == users
    assert await AuditEntry.all().count() == audits


async def test_login_with_wrong_password_or_unknown_phone_says_the_same(gql, demo):
    wrong = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": "not-the-password"})
    unknown = await gql.mutate("login", LOGIN, {"phone": "13700000000", "password": "whatever12"})
    assert wrong["errors"] == unknown["errors"]
    assert wrong["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert wrong["errors"][0]["message"] == "手机号或密码错误"
    assert wrong["accessToken"] is None and unknown["accessToken"] is None
    assert await Session.all().count() == 0


async def test_login_messages_follow_accept_language(gql, demo):
    payload = await gql.mutate(
        "login", LOGIN, {"phone": "123", "password": "x"}, lang="en-US,en;q=0.9,zh;q=0.5"
    )
    assert payload["errors"][0]["code"] == "INVALID_PHONE"
    assert payload["errors"][0]["message"] == "Enter a valid mainland China mobile number"


async def test_login_is_rate_limited_per_phone(gql, demo, settings):
    for _ in range(settings.login_attempts):
        payload = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": "wrong-pass1"})
        assert payload["errors"][0]["code"] == "INVALID_CREDENTIALS"
    body = await gql(LOGIN, {"input": {"phone": VILLAGER, "password": DEMO_PASSWORD}})
    assert error_codes(body) == ["RATE_LIMITED"]
    assert body["errors"][0]["extensions"]["retryAfter"] > 0
    assert body["data"]["login"] is None


@asynccontextmanager
async def from_ip(app, ip: str) -> AsyncIterator[GQL]:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield GQL(c)


async def failed_login(gql: GQL, phone: str = VILLAGER) -> list[str]:
    body = await gql(LOGIN, {"input": {"phone": phone, "password": "wrong-pass1"}})
    if "errors" in body:
        return error_codes(body)
    return [e["code"] for e in body["data"]["login"]["errors"]]


async def test_a_stranger_failing_from_elsewhere_does_not_lock_the_owner_out(app, demo, settings):
    async with from_ip(app, "198.51.100.66") as stranger, from_ip(app, "203.0.113.5") as owner:
        answers = [await failed_login(stranger) for _ in range(settings.login_attempts + 5)]
        assert answers[: settings.login_attempts] == [["INVALID_CREDENTIALS"]] * 10
        assert answers[settings.login_attempts :] == [["RATE_LIMITED"]] * 5
        # the owner, from their own phone's address, signs in at once
        assert await owner.login(VILLAGER)
        # and a few typos of their own do not count the stranger's against them
        assert [await failed_login(owner) for _ in range(3)] == [["INVALID_CREDENTIALS"]] * 3
        assert await owner.login(VILLAGER)


async def test_successful_logins_do_not_count(gql, demo, settings):
    for _ in range(settings.login_attempts + 3):
        await gql.login(VILLAGER)


async def test_the_slower_backstop_per_phone_stops_guessing_from_many_addresses(
    app, demo, settings
):
    app.state.services.settings = settings.with_overrides(login_phone_attempts=15)
    codes = []
    for n in range(4):
        async with from_ip(app, f"198.51.100.{n}") as stranger:
            codes += [await failed_login(stranger) for _ in range(5)]
    assert codes[:15] == [["INVALID_CREDENTIALS"]] * 15
    assert codes[15:] == [["RATE_LIMITED"]] * 5


async def test_login_updates_last_login_and_me_shows_roles(gql, demo):
    token = await gql.login(ADMIN)
    me = (await gql.data(ME, token=token))["me"]
    assert me["roles"] == [{"role": "ADMIN", "region": {"name": "青禾县"}}]
    assert (await User.get(phone=ADMIN)).last_login_at is not None


async def test_me_is_null_for_the_public(gql, demo):
    assert (await gql.data(ME))["me"] is None


async def test_refresh_rotates_and_reuse_ends_the_session(gql, demo):
    login = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    first = login["refreshToken"]
    rotated = await gql.mutate("refreshToken", REFRESH, {"refreshToken": first})
    assert rotated["errors"] == [] and rotated["refreshToken"] != first
    assert (await gql.data(ME, token=rotated["accessToken"]))["me"]["name"] == "村民 赵大山"
    # The successor is used, so presenting the first token again is theft or a bug.
    second = await gql.mutate("refreshToken", REFRESH, {"refreshToken": rotated["refreshToken"]})
    assert second["errors"] == []

    reused = await gql.mutate("refreshToken", REFRESH, {"refreshToken": first})
    assert [(e["code"], e["field"]) for e in reused["errors"]] == [("TOKEN_REUSED", "refreshToken")]
    # The whole family is dead: the newest refresh token and its access token too.
    after = await gql.mutate("refreshToken", REFRESH, {"refreshToken": second["refreshToken"]})
    assert after["errors"][0]["code"] == "TOKEN_REVOKED"
    body = await gql(ME, token=second["accessToken"])
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_a_retried_refresh_gets_the_same_pair_and_signs_no_one_out(gql, demo):
    login = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    first = await gql.mutate("refreshToken", REFRESH, {"refreshToken": login["refreshToken"]})
    again = await gql.mutate("refreshToken", REFRESH, {"refreshToken": login["refreshToken"]})
    assert first["errors"] == [] and again["errors"] == []
    # within the grace window the same successor pair, not a second one
    assert again["refreshToken"] == first["refreshToken"]
    assert again["accessToken"] == first["accessToken"]
    assert await RefreshToken.filter(parent_id__isnull=False).count() == 1
    # the client whose answer came first is not signed out: its pair works
    assert (await gql.data(ME, token=first["accessToken"]))["me"]["name"] == "村民 赵大山"
    alive = await gql.mutate("refreshToken", REFRESH, {"refreshToken": first["refreshToken"]})
    assert alive["errors"] == [] and alive["refreshToken"] != first["refreshToken"]
    # once the successor is used, the first token coming back is reuse: the session ends
    late = await gql.mutate("refreshToken", REFRESH, {"refreshToken": login["refreshToken"]})
    assert late["errors"][0]["code"] == "TOKEN_REUSED"


async def test_reuse_after_the_grace_period_ends_the_session(gql, demo, settings):
    login = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    await gql.mutate("refreshToken", REFRESH, {"refreshToken": login["refreshToken"]})
    past = datetime.now(UTC) - timedelta(seconds=settings.refresh_reuse_grace_seconds + 1)
    await RefreshToken.filter(used_at__isnull=False).update(used_at=past)
    reused = await gql.mutate("refreshToken", REFRESH, {"refreshToken": login["refreshToken"]})
    assert reused["errors"][0]["code"] == "TOKEN_REUSED"
    assert await Session.filter(revoked_at=None).count() == 0


async def test_refresh_refuses_unknown_and_expired_tokens(gql, demo):
    unknown = await gql.mutate("refreshToken", REFRESH, {"refreshToken": "made-up"})
    assert unknown["errors"][0]["code"] == "INVALID_TOKEN"
    login = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    await RefreshToken.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    expired = await gql.mutate("refreshToken", REFRESH, {"refreshToken": login["refreshToken"]})
    assert expired["errors"][0]["code"] == "TOKEN_EXPIRED"
    assert expired["accessToken"] is None


async def test_expired_or_forged_access_token_is_unauthenticated(gql, demo, settings):
    from models.accounts.auth import issue_access_token

    session = await Session.create(id="00000000-0000-4000-8000-000000000001", user_id=1)
    expired = issue_access_token(
        settings.with_overrides(access_token_seconds=-5), 1, str(session.id)
    )
    body = await gql(ME, token=expired)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "过期" in body["errors"][0]["message"]
    forged = issue_access_token(
        settings.with_overrides(secret_key="another-secret-key-of-enough-length-0123"),
        1,
        str(session.id),
    )
    assert error_codes(await gql(ME, token=forged)) == ["UNAUTHENTICATED"]
    # A public query still works without a token.
    regions = await gql.data("{ regions { edges { node { name } } } }")
    assert regions["regions"]["edges"][0]["node"]["name"] == "青禾县"


async def test_logout_ends_the_access_token_at_once(gql, demo):
    token = await gql.login(VILLAGER)
    out = await gql.mutate("logout", "mutation { logout { ok errors { code } } }", {}, token=token)
    assert out["ok"] is True
    assert error_codes(await gql(ME, token=token)) == ["UNAUTHENTICATED"]


async def test_logout_needs_a_signed_in_user(gql, demo):
    body = await gql("mutation { logout { ok } }")
    assert error_codes(body) == ["UNAUTHENTICATED"]


CHANGE_PASSWORD = """
mutation Change($input: ChangePasswordInput!) {
  changePassword(input: $input) { user { id } errors { code field } }
}"""


async def test_change_password_checks_the_old_one_and_ends_other_sessions(gql, demo):
    phone_token = await gql.login(VILLAGER)
    laptop_token = await gql.login(VILLAGER)
    wrong = await gql.mutate(
        "changePassword",
        CHANGE_PASSWORD,
        {"oldPassword": "nope-nope", "newPassword": "new-pass-2026"},
        token=phone_token,
    )
    assert wrong["errors"] == [{"code": "WRONG_PASSWORD", "field": "oldPassword"}]
    ok = await gql.mutate(
        "changePassword",
        CHANGE_PASSWORD,
        {"oldPassword": DEMO_PASSWORD, "newPassword": "new-pass-2026"},
        token=phone_token,
    )
    assert ok["errors"] == []
    assert (await gql.data(ME, token=phone_token))["me"] is not None
    assert error_codes(await gql(ME, token=laptop_token)) == ["UNAUTHENTICATED"]
    old = await gql.mutate("login", LOGIN, {"phone": VILLAGER, "password": DEMO_PASSWORD})
    assert old["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert await gql.login(VILLAGER, "new-pass-2026")


def test_the_plain_token_check_accepts_only_what_pyjwt_accepts() -> None:
    """`plain_claims` checks the tokens this server issues without PyJWT; anything else
    (another key, a changed byte, expired, issued in the future, another header or claim)
    it leaves to `jwt.decode`, which gives the same claims where it accepts."""
    import base64
    import json

    import jwt

    from models.accounts.auth import ALGORITHM, AuthConfig, issue_access_token, plain_claims

    key = "k" * 48
    config = AuthConfig(key, 900, 3600, 10, 1, 8)
    now = datetime.now(UTC)
    token = issue_access_token(config, 7, "s-1", now)

    def pyjwt(text: str) -> dict | None:
        try:
            return jwt.decode(
                text, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "sid"]}
            )
        except jwt.PyJWTError:
            return None

    def signed(header: dict, claims: dict) -> str:
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers=header)

    claims = pyjwt(token)
    assert claims is not None and plain_claims(key, token) == claims
    head, body, signature = token.split(".")
    changed = [
        issue_access_token(AuthConfig("j" * 48, 900, 3600, 10, 1, 8), 7, "s-1", now),
        f"{head}.{body}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{head}.{body}.{signature}=",
        f"{head}.{body}",
        issue_access_token(config, 7, "s-1", now - timedelta(days=1)),
        issue_access_token(config, 7, "s-1", now + timedelta(hours=1)),
        signed({"kid": "x"}, {**claims}),
        signed({}, {**claims, "aud": "someone"}),
        signed({}, {**claims, "exp": float(claims["exp"])}),
        signed({}, {k: v for k, v in claims.items() if k != "iat"}),
        ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).decode(), signature]),
        f"{head}.{body}.{signature[:-1]}é",  # non-ASCII: compare_digest would raise on str
        "é.é.é",
    ]
    for text in changed:
        assert plain_claims(key, text) is None, text
    # what PyJWT accepts among them, the server still accepts (through PyJWT)
    assert pyjwt(changed[7]) is None and pyjwt(changed[0]) is None


async def test_a_token_with_non_ascii_bytes_is_invalid_not_a_crash(client, demo) -> None:
    for raw in ("Bearer a.b.\u00e9", "Bearer \u00e9.\u00e9.\u00e9", "Bearer ey.ey.\u00ff\u00fe"):
        response = await client.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"authorization": raw.encode("latin-1")},
        )
        assert response.status_code == 200, response.text
        codes = [e["extensions"]["code"] for e in response.json()["errors"]]
        assert codes == ["UNAUTHENTICATED"], response.text
