"""UNAUTHENTICATED and FORBIDDEN say why (`extensions.reason`, and a message in the asker's
language): each reason provoked over HTTP by a person who gets it."""

from __future__ import annotations

import json

import pytest

from models.accounts import Session, User
from models.errors import AuthReason, Forbidden
from models.messages import EN, ZH, translate
from models.policy import ForbiddenReason, Viewer
from tests import media_files
from tests.client import CREATE_REGION, GRANT_ROLE, ME, VERIFY_RESIDENCY, disable_account
from tests.test_comments import ADD, add, resident
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    CREATE,
    INSPECTOR,
    OFFICIAL,
    STEP,
    SUPERVISOR,
    VILLAGER,
    _grant,
    draft,
    gid,
    item_id,
    published,
    step,
)
from tests.test_flags import raise_flag
from tests.test_flags import step as flag_step
from tests.test_media import UPLOAD

R = ForbiddenReason


async def refused(gql, code, reason, query, variables=None, token=None) -> str:
    """Asks twice (zh by default, then en) and checks the code, the reason and both texts;
    returns the Chinese message."""
    key = f"{code}_{reason}" if code == "FORBIDDEN" else f"AUTH_{reason}"
    messages = {}
    for lang in (ZH, EN):
        body = await gql(query, variables, token=token, lang=lang if lang == EN else None)
        [error] = body["errors"]
        assert error["extensions"]["code"] == code, (reason, error)
        assert error["extensions"]["reason"] == reason, (reason, error)
        assert error["message"] == translate(key, lang), (reason, lang, error)
        messages[lang] = error["message"]
    assert messages[ZH] != messages[EN] and messages[ZH].isascii() is False
    return messages[ZH]


# --- UNAUTHENTICATED ---

LOGOUT = "mutation { logout { ok } }"


async def test_each_unauthenticated_reason(gql, demo, settings):
    from models.accounts.auth import issue_access_token

    assert await refused(gql, "UNAUTHENTICATED", "LOGIN_REQUIRED", LOGOUT) == "请先登录"

    token = await gql.login(VILLAGER)
    session = await Session.filter(user_id=demo.users["VILLAGER"].id).first()
    assert session is not None
    expired = issue_access_token(
        settings.with_overrides(access_token_seconds=-5), session.user_id, str(session.id)
    )
    message = await refused(gql, "UNAUTHENTICATED", "TOKEN_EXPIRED", ME, token=expired)
    assert "过期" in message

    header, payload, signature = token.split(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for bad in (f"{header}.{tampered}.{signature}", "not-a-token", token[:-3]):
        await refused(gql, "UNAUTHENTICATED", "TOKEN_INVALID", ME, token=bad)
    basic = await gql.client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": "Basic dXNlcjpwdw=="}
    )
    assert basic.json()["errors"][0]["extensions"]["reason"] == "TOKEN_INVALID"

    # signed out: that session's access token is refused at once, and says so
    await gql.mutate("logout", "mutation { logout { ok errors { code } } }", {}, token=token)
    await refused(gql, "UNAUTHENTICATED", "TOKEN_REVOKED", ME, token=token)


CHANGE_PASSWORD = """mutation($input: ChangePasswordInput!) {
  changePassword(input: $input) { errors { code } } }"""


async def test_a_password_change_revokes_the_other_sessions_and_a_disabled_account_says_so(
    gql, demo
):
    phone, laptop = await gql.login(VILLAGER), await gql.login(VILLAGER)
    changed = await gql.mutate(
        "changePassword",
        CHANGE_PASSWORD,
        {"oldPassword": "cunwu-demo-2026", "newPassword": "new-pass-2026"},
        token=phone,
    )
    assert changed["errors"] == []
    await refused(gql, "UNAUTHENTICATED", "TOKEN_REVOKED", ME, token=laptop)
    assert (await gql.data(ME, token=phone))["me"] is not None
    await disable_account(phone=VILLAGER)
    await refused(gql, "UNAUTHENTICATED", "ACCOUNT_DISABLED", ME, token=phone)


async def test_a_bad_token_still_reads_public_data_and_fails_only_where_a_viewer_is_needed(
    gql, demo
):
    body = await gql("{ regions(first: 1) { edges { node { name } } } }", token="not-a-token")
    assert "errors" not in body and body["data"]["regions"]["edges"]
    assert set(AuthReason) == {
        "LOGIN_REQUIRED",
        "TOKEN_EXPIRED",
        "TOKEN_INVALID",
        "TOKEN_REVOKED",
        "ACCOUNT_DISABLED",
    }


# --- FORBIDDEN ---

RESIDENTS = "query($v: ID!) { residents(villageId: $v) { edges { cursor } } }"
REVIEW_QUEUE = "query($v: ID!) { reviewQueue(villageId: $v) { edges { cursor } } }"
AUDIT = "query($r: ID!) { auditLog(regionId: $r) { edges { cursor } } }"
VIEWS = "query($r: ID!) { identityViews(regionId: $r) { edges { cursor } } }"
QUEUE = "query($r: ID!) { flags(regionId: $r) { edges { cursor } } }"
NODE_USER = "query($id: ID!) { node(id: $id) { ... on User { name } } }"
SAVE_MONTH = """mutation($input: SaveMonthlyAccountInput!) {
  saveMonthlyAccount(input: $input) { errors { code } } }"""
DECIDE = (
    """mutation($input: DecideRiskHitInput!) { decideRiskHit(input: $input) { errors { code } } }"""
)
DUE_DAY = """mutation($input: SetDueDayInput!) { setDueDay(input: $input) { errors { code } } }"""
HOLIDAY = """mutation($input: SetHolidayInput!) { setHoliday(input: $input) { errors { code } } }"""
REDACT = (
    """mutation($input: RedactMediaInput!) { redactMedia(input: $input) { errors { code } } }"""
)
HIDE = (
    """mutation($input: ModerateCommentInput!) { hideComment(input: $input) { errors { code } } }"""
)
EDIT = """mutation($input: EditCommentInput!) { editComment(input: $input) { errors { code } } }"""


def mutation(name: str) -> str:
    return STEP % (name, name[0].lower() + name[1:])


async def test_role_and_region_reasons(gql, demo):
    seen: set[str] = set()
    village, other = demo.villages[0], demo.villages[5]
    v, county = gid("Region", village.id), gid("Region", demo.county.id)
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    official, villager = await gql.login(OFFICIAL), await gql.login(VILLAGER)
    admin = await gql.login(ADMIN)

    async def check(reason, query, variables, token):
        seen.add(reason)
        return await refused(gql, "FORBIDDEN", reason, query, variables, token)

    notice = {
        "regionId": gid("Region", other.id),
        "category": "VILLAGE_AFFAIRS",
        "title": "通知",
        "body": "……",
    }
    message = await check(R.OUTSIDE_REGION, CREATE, {"input": notice}, clerk)
    assert message.startswith("没有该地区的权限")
    await check(R.EDITORS_ONLY, CREATE, {"input": {**notice, "regionId": v}}, supervisor)
    d = await draft(gql, clerk, village)
    message = await check(
        R.SUPERVISION_COMMITTEE_ONLY,
        mutation("ApproveDisclosure"),
        {"input": {"id": d["id"]}},
        clerk,
    )
    assert message == "需要村务监督委员会审核"
    await check(
        R.ADMIN_ONLY,
        CREATE_REGION,
        {"input": {"kind": "VILLAGE", "name": "新村", "parentId": v}},
        official,
    )
    await check(R.NATIONAL_ONLY, HOLIDAY, {"input": {"day": "2026-10-01", "name": "国庆节"}}, admin)
    await check(R.STAFF_ONLY, RESIDENTS, {"v": v}, villager)
    month = {"villageId": v, "year": 2026, "month": 3, "lines": []}
    await check(R.CLERK_ONLY, SAVE_MONTH, {"input": month}, supervisor)
    await check(
        R.RISK_REVIEWERS_ONLY,
        DECIDE,
        {"input": {"id": gid("RiskHit", 1), "confirmed": False, "note": "核实无误"}},
        clerk,
    )
    await check(
        R.DUE_DAY_SETTERS_ONLY,
        DUE_DAY,
        {"input": {"regionId": v, "frequency": "MONTHLY", "day": 10}},
        clerk,
    )
    await check(R.AUDITORS_ONLY, AUDIT, {"r": v}, official)
    await check(R.REVIEWERS_ONLY, REVIEW_QUEUE, {"v": v}, clerk)
    await check(R.INSPECTORS_ONLY, VIEWS, {"r": county}, official)
    await check(R.FLAGGERS_PROTECTED, QUEUE, {"r": v}, clerk)
    await check(
        R.RESIDENCY_VERIFIERS_ONLY,
        VERIFY_RESIDENCY,
        {"input": {"userId": gid("User", demo.users["VILLAGER"].id)}},
        supervisor,
    )
    await check(
        R.REDACTORS_ONLY,
        REDACT,
        {"input": {"mediaId": gid("Media", 1), "rectangles": []}},
        villager,
    )
    await check(
        R.ACCOUNT_PRIVATE, NODE_USER, {"id": gid("User", demo.users["OFFICIAL"].id)}, villager
    )
    grant_self = {
        "userId": gid("User", demo.users["ADMIN"].id),
        "role": "INSPECTOR",
        "regionId": county,
    }
    await check(R.NOT_FOR_YOURSELF, GRANT_ROLE, {"input": grant_self}, admin)

    # the two-person rule: a supervisor who is also the clerk drafts, and may not approve
    await _grant(gql, demo, SUPERVISOR, "CLERK", village)
    both = await gql.login(SUPERVISOR)
    own = await draft(
        gql,
        both,
        village,
        category="FINANCE",
        title="11月收入",
        body="……",
        catalogueItemId=await item_id("FIN-2"),
        period="2026-11",
    )
    await step(gql, "SubmitDisclosure", both, id=own["id"])
    message = await check(
        R.AUTHOR_CANNOT_APPROVE, mutation("ApproveDisclosure"), {"input": {"id": own["id"]}}, both
    )
    assert "审核人不能是作者" in message
    assert seen == {
        R.OUTSIDE_REGION, R.EDITORS_ONLY, R.SUPERVISION_COMMITTEE_ONLY, R.ADMIN_ONLY,
        R.NATIONAL_ONLY, R.STAFF_ONLY, R.CLERK_ONLY, R.RISK_REVIEWERS_ONLY,
        R.DUE_DAY_SETTERS_ONLY, R.AUDITORS_ONLY, R.REVIEWERS_ONLY, R.INSPECTORS_ONLY, R.FLAGGERS_PROTECTED,
        R.RESIDENCY_VERIFIERS_ONLY, R.REDACTORS_ONLY, R.ACCOUNT_PRIVATE, R.NOT_FOR_YOURSELF,
        R.AUTHOR_CANNOT_APPROVE,
    }  # fmt: skip


async def test_comment_and_flag_reasons(gql, demo):
    clerk, official = await gql.login(CLERK), await gql.login(OFFICIAL)
    villager = await gql.login(VILLAGER)
    item = (await published(gql, clerk, demo.villages[0], title="修路方案公示"))["id"]

    outsider = await resident(gql, demo, "13911114401", village=5, verify=False)
    message = await refused(
        gql,
        "FORBIDDEN",
        R.OWN_VILLAGE_ONLY,
        ADD,
        {"input": {"targetId": item, "body": "外村的看法"}},
        outsider,
    )
    assert message == "只能评论或质疑本村的事项"
    comment = (await add(gql, villager, item, "路什么时候修？"))["comment"]
    await refused(
        gql,
        "FORBIDDEN",
        R.COMMENT_AUTHOR_ONLY,
        EDIT,
        {"input": {"id": comment["id"], "body": "改掉"}},
        clerk,
    )
    await refused(
        gql,
        "FORBIDDEN",
        R.COMMENT_MODERATORS_ONLY,
        HIDE,
        {"input": {"id": comment["id"], "reason": "广告"}},
        clerk,
    )

    flag = await raise_flag(gql, villager, item, anonymous=False)
    accept = mutation("AcceptFlag").replace(
        "disclosure { id status version publishedAt }", "flag { id }"
    )
    await refused(
        gql, "FORBIDDEN", R.FLAG_HANDLERS_ONLY, accept, {"input": {"id": flag["id"]}}, clerk
    )
    inspector = await gql.login(INSPECTOR)
    await refused(
        gql, "FORBIDDEN", R.FLAG_NOT_ESCALATED, accept, {"input": {"id": flag["id"]}}, inspector
    )
    confirm = accept.replace("AcceptFlag", "ConfirmResolution").replace(
        "acceptFlag", "confirmResolution"
    )
    named = await refused(
        gql, "FORBIDDEN", R.FLAGGER_ONLY, confirm, {"input": {"id": flag["id"]}}, official
    )
    # the refusal names nobody: the same for an anonymous flag as for a named one
    other = await resident(gql, demo, "13911114402")
    anonymous = await raise_flag(
        gql, other, item, body="另一个问题：工程款没有公示明细。", anonymous=True
    )
    assert named == await refused(
        gql, "FORBIDDEN", R.FLAGGER_ONLY, confirm, {"input": {"id": anonymous["id"]}}, official
    )
    assert (await flag_step(gql, "AcceptFlag", official, id=flag["id"]))["data"]["acceptFlag"][
        "errors"
    ] == []


async def upload_refusal(client, token, purpose, region_id=None) -> dict[str, str]:
    variables = {"input": {"file": None, "purpose": purpose}}
    if region_id:
        variables["input"]["regionId"] = region_id
    messages = {}
    for lang in (ZH, EN):
        response = await client.post(
            "/graphql",
            data={
                "operations": json.dumps({"query": UPLOAD, "variables": variables}),
                "map": json.dumps({"0": ["variables.input.file"]}),
            },
            files={"0": ("photo.jpg", media_files.phone_jpeg(), "image/jpeg")},
            headers={
                "Authorization": f"Bearer {token}",
                "GraphQL-Preflight": "1",
                "Accept-Language": lang,
            },
        )
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", error
        messages[lang] = error["message"]
        messages["reason"] = error["extensions"]["reason"]
    return messages


async def test_upload_reasons(client, gql, demo):
    newcomer = await resident(gql, demo, "13911115501", verify=False)
    refusal = await upload_refusal(client, newcomer, "EVIDENCE")
    assert refusal == {
        ZH: "需要先由村文书核实村民身份",
        EN: translate("FORBIDDEN_RESIDENCY_NOT_VERIFIED", EN),
        "reason": "RESIDENCY_NOT_VERIFIED",
    }
    villager = await gql.login(VILLAGER)
    refusal = await upload_refusal(client, villager, "RECEIPT")
    assert refusal["reason"] == "EVIDENCE_ONLY" and refusal[EN] == translate(
        "FORBIDDEN_EVIDENCE_ONLY", EN
    )
    elsewhere = await upload_refusal(
        client, villager, "EVIDENCE", gid("Region", demo.villages[5].id)
    )
    assert elsewhere["reason"] == "OWN_VILLAGE_ONLY" and elsewhere[ZH] == "只能评论或质疑本村的事项"
    clerk = await gql.login(CLERK)
    outside = await upload_refusal(client, clerk, "RECEIPT", gid("Region", demo.villages[5].id))
    assert outside["reason"] == "OUTSIDE_REGION"


async def test_a_draft_answers_like_a_missing_id_whatever_the_reason_would_be(gql, demo):
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0])
    missing = gid("Disclosure", 999999)
    villager = await gql.login(VILLAGER)
    query = "query($id: ID!) { disclosure(id: $id) { title } }"
    answers = [await gql(query, {"id": i}, token=villager) for i in (d["id"], missing)]
    assert answers[0] == answers[1]
    assert answers[0]["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


async def test_operator_only_and_the_fallback_reason(gql, demo, settings):
    from models.accounts.auth import Passwords
    from models.accounts.operations import create_user

    admin = Viewer(user=demo.users["ADMIN"])
    with pytest.raises(Forbidden) as refused_:
        await create_user(
            admin,
            Passwords(settings.auth),
            phone="13911116601",
            password="x-pass-2026",
            name="某人",
        )
    assert refused_.value.extensions == {"code": "FORBIDDEN", "reason": "OPERATORS_ONLY"}
    assert Forbidden().extensions["reason"] == "NO_PERMISSION"
    assert not await User.filter(phone="13911116601").exists()


def test_every_reason_has_both_texts():
    for reason in [
        *(f"FORBIDDEN_{r}" for r in ForbiddenReason),
        *(f"AUTH_{r}" for r in AuthReason),
    ]:
        zh, en = translate(reason, ZH), translate(reason, EN)
        assert zh != reason and en != reason and zh != en, reason


def test_every_action_says_which_role_it_needs():
    from models.policy import NEEDS_ROLE, Action

    assert set(NEEDS_ROLE) == set(Action)
