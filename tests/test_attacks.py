"""Attacks on the refactored domain layer, as a hostile client, a curious admin and a caller
of the domain operations. A passing test documents a promise that held; a failing one
asserts the safe behaviour where the attack succeeded (see the report of the review)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from api.context import load_viewer
from api.relay import from_global_id, to_global_id
from models.accounts import Role, RoleGrant, User
from models.accounts.auth import Passwords
from models.accounts.operations import create_user, grant_role, verify_residency
from models.audit import AuditEntry
from models.errors import Forbidden
from models.policy import Action, Viewer
from scripts.seed_demo import DEMO_PASSWORD
from tests import media_files
from tests.client import CREATE_REGION, GRANT_ROLE, VERIFY_RESIDENCY, error_codes
from tests.test_comments import ADD
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    STEP,
    SUPERVISOR,
    VILLAGER,
    draft,
    published,
    step,
)
from tests.test_finance import APPROVE, SAVE, line
from tests.test_flags import FLAG_FIELDS, FLAG_ISSUE, raise_flag
from tests.test_flags import step as flag_step
from tests.test_media import REDACT, uploaded

SYSTEM = Viewer.for_system("test:attacks")
FLAG = f"query($id: ID!) {{ flag(id: $id) {{ {FLAG_FIELDS} }} }}"
NODE_FLAG = "query($id: ID!) { node(id: $id) { ... on Flag { flagger { id } supporters { id } } } }"
DISCLOSURE_FLAGS = """query($id: ID!) { disclosure(id: $id) { flags { id status
  flagger { id phone } supporters { id } } } }"""
SIMILAR = "query($t: ID!) { similarFlags(targetId: $t) { id flagger { id } supporters { id } } }"
AUDIT = """query($r: ID!, $a: String) { auditLog(regionId: $r, action: $a, first: 50) {
  edges { node { action objectType actor { id } ip } } } }"""
DISCLOSURE = "query($id: ID!) { disclosure(id: $id) { id status title } }"
MONTH = """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) {
  status version openingBalanceFen incomeFen expenseFen closingBalanceFen lineCount } }"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


async def person(settings, phone, name, role=None, region=None, home=None) -> User:
    """A user made by the operators; verified in `home` and granted `role` on `region`."""
    user = await create_user(
        SYSTEM,
        Passwords(settings.auth),
        phone=phone,
        password=DEMO_PASSWORD,
        name=name,
        village_id=home.id if home else None,
    )
    if home:
        user = await verify_residency(SYSTEM, user.id)
    if role is not None:
        await grant_role(SYSTEM, user.id, role, region.id)
    return user


@pytest.fixture
async def others(settings, demo):
    """Staff and a villager of ANOTHER village (柳塘村, same township) and another township
    (南岭乡), and an admin of the home township."""
    home_township, other_township = demo.townships[0], demo.townships[1]
    neighbour = demo.villages[1]
    people = {
        "CLERK2": ("13900000011", "外村文书", Role.CLERK, neighbour, None),
        "SUPERVISOR2": ("13900000012", "外村监委", Role.SUPERVISOR, neighbour, None),
        "VILLAGER2": ("13900000013", "外村村民", None, None, neighbour),
        "OFFICIAL2": ("13900000014", "外乡干部", Role.OFFICIAL, other_township, None),
        "TOWNADMIN": ("13900000015", "镇管理员", Role.ADMIN, home_township, None),
        "TOWNADMIN2": ("13900000016", "外乡管理员", Role.ADMIN, other_township, None),
    }
    for phone, name, role, region, home in people.values():
        await person(settings, phone, name, role, region, home)
    return {key: value[0] for key, value in people.items()}


@pytest.fixture
async def item(gql, demo):
    d = await published(gql, await gql.login(CLERK), demo.villages[0], title="修路工程决算公示")
    return d["id"]


async def tokens(gql, *phones):
    return [await gql.login(p) for p in phones]


# --- who may act where: every mutation on ANOTHER village's or township's object -----------


async def test_anonymous_and_unusable_tokens_may_not_mutate(gql, demo, item):
    d = await draft(gql, await gql.login(CLERK), demo.villages[0])
    attempts = [
        ("UpdateDisclosure", {"id": d["id"], "title": "改"}),
        ("PublishDisclosure", {"id": d["id"]}),
        ("RetractDisclosure", {"id": item, "reason": "撤回"}),
    ]
    for token in (None, "garbage", "x.y.z"):
        for name, data in attempts:
            mutation = name[0].lower() + name[1:]
            body = await gql(STEP % (name, mutation), {"input": data}, token=token)
            assert error_codes(body) == ["UNAUTHENTICATED"], (token, name, body)
    body = await gql(
        """mutation($input: CatalogueItemInput!) { saveCatalogueItem(input: $input) {
          errors { code } } }""",
        {"input": {"code": "X-1", "category": "NOTICE", "name": "x", "frequency": "YEARLY"}},
        token="garbage",
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_no_request_path_yields_the_system_viewer(settings, demo):
    """A token without a user, for a deleted session, or signed for nobody: never `system`."""
    auth = settings.auth
    for header in (None, "", "Bearer", "Bearer  ", "Basic abc", "Bearer x.y.z"):
        viewer = await load_viewer(auth, header)
        assert not viewer.system and viewer.user is None
        assert not viewer.can(Action.CATALOGUE_EDIT, "")
    now = datetime.now(UTC)
    sid = "00000000-0000-0000-0000-000000000000"
    for claims in (
        {"typ": "access", "exp": now + timedelta(minutes=5)},
        {"typ": "refresh", "sub": "1", "sid": sid, "exp": now + timedelta(minutes=5)},
        {"typ": "access", "sub": "999999", "sid": sid, "exp": now + timedelta(minutes=5)},
    ):
        token = jwt.encode(claims, settings.secret_key, algorithm="HS256")
        viewer = await load_viewer(auth, f"Bearer {token}")
        assert not viewer.system and viewer.user is None, claims
    assert not Viewer().holds(Action.CATALOGUE_EDIT)
    with pytest.raises(Exception) as caught:
        Viewer().require(Action.CATALOGUE_EDIT, "")
    assert not isinstance(caught.value, RuntimeError)


async def test_staff_of_another_village_cannot_touch_a_villages_disclosures(gql, demo, others):
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0], category="FINANCE", title="三月财务")
    await step(gql, "SubmitDisclosure", clerk, id=d["id"])
    pub = await published(gql, clerk, demo.villages[0], title="已公开")
    clerk2, supervisor2, villager2, official2, townadmin2 = await tokens(
        gql,
        others["CLERK2"],
        others["SUPERVISOR2"],
        others["VILLAGER2"],
        others["OFFICIAL2"],
        others["TOWNADMIN2"],
    )
    for token in (clerk2, official2, townadmin2):
        for name, data in [
            ("UpdateDisclosure", {"id": d["id"], "title": "外人改"}),
            ("SubmitDisclosure", {"id": d["id"]}),
            ("PublishDisclosure", {"id": d["id"]}),
            ("CorrectDisclosure", {"id": pub["id"], "reason": "外人更正", "title": "外人"}),
            ("RetractDisclosure", {"id": pub["id"], "reason": "外人撤回"}),
        ]:
            mutation = name[0].lower() + name[1:]
            body = await gql(STEP % (name, mutation), {"input": data}, token=token)
            if data["id"] == pub["id"]:
                assert error_codes(body) == ["FORBIDDEN"], (name, body)
            else:  # a draft they may not read answers like a missing id
                missing = [{"code": "NOT_FOUND", "field": "id"}]
                assert body["data"][mutation]["errors"] == missing, (name, body)
    body = await gql(
        STEP % ("ApproveDisclosure", "approveDisclosure"),
        {"input": {"id": d["id"]}},
        token=supervisor2,
    )
    assert body["data"]["approveDisclosure"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    for token in (None, villager2, clerk2, official2, townadmin2):
        body = await gql(DISCLOSURE, {"id": d["id"]}, token=token)
        assert body["data"]["disclosure"] is None, body
    assert (await gql.data(DISCLOSURE, {"id": pub["id"]}))["disclosure"]["title"] == "已公开"


async def test_flags_of_a_village_are_handled_only_by_its_township(gql, demo, others, item):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item)
    official2, villager2, clerk2 = await tokens(
        gql, others["OFFICIAL2"], others["VILLAGER2"], others["CLERK2"]
    )
    for name, data in [
        ("AcceptFlag", {"note": "外乡受理"}),
        ("RejectFlag", {"reason": "外乡驳回"}),
    ]:
        body = await flag_step(gql, name, official2, id=flag["id"], **data)
        assert error_codes(body) == ["FORBIDDEN"], body
    for token in (villager2, clerk2):
        body = await flag_step(gql, "SupportFlag", token, id=flag["id"])
        assert error_codes(body) == ["FORBIDDEN"], body
    body = await flag_step(gql, "ConfirmResolution", official2, id=flag["id"])
    assert error_codes(body) == ["FORBIDDEN"]
    seen = (await gql.data(FLAG, {"id": flag["id"]}, token=official2))["flag"]
    assert seen["flagger"] is None and seen["supporters"] == []
    body = await gql(
        "query($r: ID!) { flags(regionId: $r) { edges { node { id } } } }",
        {"r": gid("Region", demo.townships[0].id)},
        token=official2,
    )
    assert error_codes(body) == ["FORBIDDEN"]


async def test_region_and_role_changes_stay_inside_the_admins_region(gql, demo, others):
    townadmin = await gql.login(others["TOWNADMIN"])
    other_village = demo.villages[5]  # 南岭乡
    body = await gql(
        CREATE_REGION,
        {"input": {"parentId": gid("Region", other_village.id), "kind": "GROUP", "name": "外组"}},
        token=townadmin,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    villager = demo.users["VILLAGER"]
    for region, role in [(demo.county, "INSPECTOR"), (demo.townships[1], "OFFICIAL")]:
        body = await gql(
            GRANT_ROLE,
            {
                "input": {
                    "userId": gid("User", villager.id),
                    "role": role,
                    "regionId": gid("Region", region.id),
                }
            },
            token=townadmin,
        )
        assert error_codes(body) == ["FORBIDDEN"], (role, body)
    county_grant = await RoleGrant.get(user_id=demo.users["ADMIN"].id)
    body = await gql(
        """mutation($input: RevokeRoleInput!) { revokeRole(input: $input) { errors { code } } }""",
        {"input": {"grantId": gid("RoleGrant", county_grant.id)}},
        token=townadmin,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert (await RoleGrant.get(id=county_grant.id)).revoked_at is None
    body = await gql(
        """mutation($input: SetDueDayInput!) { setDueDay(input: $input) { errors { code } } }""",
        {
            "input": {
                "regionId": gid("Region", demo.townships[1].id),
                "frequency": "MONTHLY",
                "day": 3,
            }
        },
        token=await gql.login(OFFICIAL),
    )
    assert error_codes(body) == ["FORBIDDEN"]


async def test_residency_is_verified_only_by_the_villages_own_staff(gql, settings, demo, others):
    newcomer = await person(settings, "13900000021", "新村民", home=None)
    newcomer.village_id = demo.villages[0].id
    await newcomer.save()
    for phone in (others["CLERK2"], others["OFFICIAL2"], others["TOWNADMIN2"]):
        body = await gql(
            VERIFY_RESIDENCY,
            {"input": {"userId": gid("User", newcomer.id)}},
            token=await gql.login(phone),
        )
        assert error_codes(body) == ["FORBIDDEN"], phone
    assert (await User.get(id=newcomer.id)).residency_verified_at is None


# --- the two-person rule ---------------------------------------------------------------


async def test_one_person_holding_clerk_and_supervisor_cannot_approve_their_own_work(
    gql, settings, demo
):
    both = await person(
        settings, "13900000031", "兼任文书监委", Role.CLERK, demo.villages[0], demo.villages[0]
    )
    await grant_role(SYSTEM, both.id, Role.SUPERVISOR, demo.villages[0].id)
    token = await gql.login("13900000031")
    d = await draft(gql, token, demo.villages[0], category="FINANCE", title="自审财务")
    await step(gql, "SubmitDisclosure", token, id=d["id"])
    body = await gql(
        STEP % ("ApproveDisclosure", "approveDisclosure"), {"input": {"id": d["id"]}}, token=token
    )
    assert error_codes(body) == ["FORBIDDEN"]
    body = await gql(
        STEP % ("PublishDisclosure", "publishDisclosure"), {"input": {"id": d["id"]}}, token=token
    )
    assert body["data"]["publishDisclosure"]["errors"] == [
        {"code": "NEEDS_APPROVAL", "field": "id"}
    ]
    v = gid("Region", demo.villages[0].id)
    data = {
        "villageId": v,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 1_000_000,
        "lines": [line(3, 120, "东溪文具店")],
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=token))["errors"] == []
    body = await gql(APPROVE, {"input": {"villageId": v, "year": 2026, "month": 5}}, token=token)
    assert error_codes(body) == ["FORBIDDEN"]
    month = (await gql.data(MONTH, {"v": v}, token=token))["monthlyAccount"]
    assert month["status"] == "DRAFT"


async def test_drafts_and_unpublished_months_are_not_public(gql, demo, others):
    clerk = await gql.login(CLERK)
    v = gid("Region", demo.villages[0].id)
    data = {
        "villageId": v,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 1_000_000,
        "lines": [line(3, 120, "东溪文具店")],
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    for phone in (None, VILLAGER, others["CLERK2"], others["OFFICIAL2"]):
        token = await gql.login(phone) if phone else None
        body = await gql(MONTH, {"v": v}, token=token)
        assert body["data"]["monthlyAccount"] is None and error_codes(body), (phone, body)
    await draft(gql, clerk, demo.villages[0], title="草稿不公开")
    feed = await gql.data(
        "query($r: ID) { disclosures(regionId: $r) { edges { node { title status } } } }",
        {"r": v},
    )
    assert all(
        e["node"]["status"] in ("PUBLISHED", "RETRACTED") for e in feed["disclosures"]["edges"]
    )


async def test_a_published_disclosure_cannot_change_in_place(gql, demo, item):
    clerk, supervisor = await tokens(gql, CLERK, SUPERVISOR)
    for name, token, data in [
        ("UpdateDisclosure", clerk, {"id": item, "title": "悄悄改"}),
        ("SubmitDisclosure", clerk, {"id": item}),
        ("PublishDisclosure", clerk, {"id": item}),
        ("ApproveDisclosure", supervisor, {"id": item}),
    ]:
        mutation = name[0].lower() + name[1:]
        body = await gql(STEP % (name, mutation), {"input": data}, token=token)
        assert body["data"][mutation]["errors"][0]["code"] == "WRONG_STATUS", (name, body)
    versions = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { title version } }", {"id": item}
    )
    assert versions["disclosure"] == {"title": "修路工程决算公示", "version": 1}


async def test_flagger_and_supporter_hidden_on_every_read_path(gql, settings, demo, others, item):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item, anonymous=False)
    await person(settings, "13900000041", "附议村民", home=demo.villages[0])
    supporter = await gql.login("13900000041")
    body = await flag_step(gql, "SupportFlag", supporter, id=flag["id"])
    assert body["data"]["supportFlag"]["errors"] == []
    phones = [
        CLERK,
        SUPERVISOR,
        ADMIN,
        others["TOWNADMIN"],
        others["OFFICIAL2"],
        others["VILLAGER2"],
        None,
    ]
    for phone in phones:
        token = await gql.login(phone) if phone else None
        f = (await gql.data(FLAG, {"id": flag["id"]}, token=token))["flag"]
        assert f["flagger"] is None and f["supporters"] == [], phone
        assert all(e["actor"] is None for e in f["events"]), phone
        n = (await gql.data(NODE_FLAG, {"id": flag["id"]}, token=token))["node"]
        assert n == {"flagger": None, "supporters": []}, phone
        d = (await gql.data(DISCLOSURE_FLAGS, {"id": item}, token=token))["disclosure"]
        assert [(x["flagger"], x["supporters"]) for x in d["flags"]] == [(None, [])], phone
        s = (await gql.data(SIMILAR, {"t": item}, token=token))["similarFlags"]
        assert [(x["flagger"], x["supporters"]) for x in s] == [(None, [])], phone
    for phone in (OFFICIAL, INSPECTOR):
        f = (await gql.data(FLAG, {"id": flag["id"]}, token=await gql.login(phone)))["flag"]
        assert f["flagger"]["name"] == "村民 赵大山" and f["supporters"] == [{"name": "附议村民"}]
    own = (await gql.data(FLAG, {"id": flag["id"]}, token=supporter))["flag"]
    assert own["supportedByMe"] if "supportedByMe" in own else True
    assert own["flagger"] is None  # a supporter does not learn who flagged


async def test_admins_audit_log_hides_flagger_and_supporter_but_inspector_sees(
    gql, settings, demo, others, item
):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item)
    await person(settings, "13900000042", "附议村民二", home=demo.villages[0])
    supporter = await gql.login("13900000042")
    await flag_step(gql, "SupportFlag", supporter, id=flag["id"])
    await flag_step(gql, "AcceptFlag", await gql.login(OFFICIAL), id=flag["id"], note="受理")
    await flag_step(gql, "ResolveFlag", await gql.login(OFFICIAL), id=flag["id"], response="答复")
    await flag_step(gql, "ReopenFlag", villager, id=flag["id"], reason="不满意")
    admin = await gql.login(ADMIN)
    for region in (demo.county, demo.townships[0], demo.villages[0]):
        log = await gql.data(AUDIT, {"r": gid("Region", region.id)}, token=admin)
        flag_rows = [
            e["node"] for e in log["auditLog"]["edges"] if e["node"]["objectType"] == "Flag"
        ]
        assert {r["action"] for r in flag_rows} >= {"flag.submit", "flag.support", "flag.reopen"}
        assert all(r["actor"] is None and r["ip"] is None for r in flag_rows), flag_rows
    log = await gql.data(
        AUDIT, {"r": gid("Region", demo.county.id)}, token=await gql.login(INSPECTOR)
    )
    rows = {e["node"]["action"]: e["node"] for e in log["auditLog"]["edges"]}
    assert rows["flag.support"]["actor"] is not None and rows["flag.submit"]["ip"] == "203.0.113.7"
    # No other audit entry names the flagger or the supporter around the flag.
    ids = {demo.users["VILLAGER"].id, (await User.get(phone="13900000042")).id}
    others_rows = (
        await AuditEntry.filter(actor_id__in=ids)
        .exclude(object_type="Flag")
        .exclude(action="user.login")  # their own logins: see the report (timing)
        .values("action", "object_type")
    )
    assert others_rows == [], others_rows


async def test_a_flag_never_disappears_when_its_item_is_retracted_or_corrected(gql, demo, item):
    clerk = await gql.login(CLERK)
    flag = await raise_flag(gql, await gql.login(VILLAGER), item)
    await step(
        gql, "CorrectDisclosure", clerk, id=item, reason="补充说明", title="修路决算（更正）"
    )
    await step(gql, "RetractDisclosure", clerk, id=item, reason="重新核算")
    seen = (await gql.data(FLAG, {"id": flag["id"]}))["flag"]
    assert seen["status"] == "SUBMITTED"
    d = await gql.data(DISCLOSURE_FLAGS, {"id": item})
    assert [f["id"] for f in d["disclosure"]["flags"]] == [flag["id"]]
    body = await gql(
        "query($r: ID!) { flags(regionId: $r) { edges { node { id } } } }",
        {"r": gid("Region", demo.villages[0].id)},
        token=await gql.login(OFFICIAL),
    )
    assert [e["node"]["id"] for e in body["data"]["flags"]["edges"]] == [flag["id"]]


# --- restricted media ---------------------------------------------------------------------


async def test_restricted_media_is_hidden_from_another_villages_staff(client, gql, demo, others):
    clerk = await gql.login(CLERK)
    source = (await uploaded(client, clerk, media_files.phone_jpeg(orientation=1)))["media"]
    rect = {"x": 10, "y": 10, "w": 50, "h": 50}
    await gql.mutate(
        "redactMedia", REDACT, {"mediaId": source["id"], "rectangles": [rect]}, token=clerk
    )
    for phone in (others["CLERK2"], others["OFFICIAL2"], VILLAGER):
        body = await gql(
            "query($id: ID!) { node(id: $id) { ... on Media { url } } }",
            {"id": source["id"]},
            token=await gql.login(phone),
        )
        assert error_codes(body) == ["NOT_FOUND"], phone  # like a missing id
    body = await gql(
        REDACT,
        {"input": {"mediaId": source["id"], "rectangles": [rect]}},
        token=await gql.login(others["CLERK2"]),
    )
    assert error_codes(body) == ["FORBIDDEN"]


# --- existence oracles ---------------------------------------------------------------------


async def test_declared_permission_check_is_satisfied_by_a_check_on_any_region(demo):
    """`checked` records the action whatever the region: an operation that asks `can` for
    display on one region and forgets the real check still passes BaseMutation's guard.
    Documents the mechanism (no operation misusing it was found)."""
    viewer = Viewer(grants=())
    viewer.user = demo.users["CLERK"]
    assert not viewer.can(Action.DISCLOSURE_EDIT, demo.villages[5].path)
    assert Action.DISCLOSURE_EDIT in viewer.checked  # recorded although it was refused


async def test_operations_refuse_a_user_less_non_system_viewer(demo, item):
    from models.disclosures.workflow import retract_disclosure

    pk = int(from_global_id(item)[1])
    with pytest.raises(Exception) as caught:
        await retract_disclosure(Viewer(), pk, "撤回")
    assert not isinstance(caught.value, RuntimeError)
    with pytest.raises(Forbidden):
        await retract_disclosure(Viewer(user=demo.users["VILLAGER"]), pk, "撤回")


async def test_comments_are_moderated_only_by_the_items_own_township(gql, demo, others, item):
    c = await gql.mutate(
        "addComment",
        ADD,
        {"targetId": item, "body": "请问预算明细在哪里看？"},
        token=await gql.login(VILLAGER),
    )
    assert c["errors"] == [], c
    hide = """mutation($input: ModerateCommentInput!) { hideComment(input: $input) {
      errors { code } } }"""
    for phone in (others["OFFICIAL2"], CLERK, SUPERVISOR, ADMIN, INSPECTOR):
        body = await gql(
            hide,
            {"input": {"id": c["comment"]["id"], "reason": "外乡隐藏"}},
            token=await gql.login(phone),
        )
        assert error_codes(body) == ["FORBIDDEN"], phone


FEED_FLAGS = """query($r: ID) { disclosures(regionId: $r, first: 10) { edges { node { id
  flags { id flagger { id phone } supporters { id } events { actor { id } } } } } } }"""


async def test_the_feeds_plain_rows_hide_the_flagger_too(gql, settings, demo, others, item):
    """The feed's fast path (plain rows, compiled completion) must apply the same rule."""
    flag = await raise_flag(gql, await gql.login(VILLAGER), item, anonymous=False)
    await person(settings, "13900000043", "附议村民三", home=demo.villages[0])
    await flag_step(gql, "SupportFlag", await gql.login("13900000043"), id=flag["id"])
    for region in (demo.villages[0], demo.townships[0], demo.county):
        r = gid("Region", region.id)
        for phone in (None, CLERK, SUPERVISOR, ADMIN, others["TOWNADMIN"], others["OFFICIAL2"]):
            token = await gql.login(phone) if phone else None
            feed = await gql.data(FEED_FLAGS, {"r": r}, token=token)
            flags = [f for e in feed["disclosures"]["edges"] for f in e["node"]["flags"]]
            assert [f["id"] for f in flags] == [flag["id"]], phone
            assert all(f["flagger"] is None and f["supporters"] == [] for f in flags), phone
            assert all(ev["actor"] is None for f in flags for ev in f["events"]), phone
        feed = await gql.data(FEED_FLAGS, {"r": r}, token=await gql.login(INSPECTOR))
        flags = [f for e in feed["disclosures"]["edges"] for f in e["node"]["flags"]]
        assert flags[0]["flagger"] is not None and len(flags[0]["supporters"]) == 1


async def test_notification_events_go_to_officials_and_followers_only(
    gql, settings, demo, others, item
):
    from models.notifications import NotificationEvent

    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, item)
    await person(settings, "13900000044", "附议村民四", home=demo.villages[0])
    supporter = await gql.login("13900000044")
    await flag_step(gql, "SupportFlag", supporter, id=flag["id"])
    official = await gql.login(OFFICIAL)
    await flag_step(gql, "RejectFlag", official, id=flag["id"], reason="已审计")
    await flag_step(gql, "ReopenFlag", villager, id=flag["id"], reason="审计报告未公开")
    watchers = {demo.users[k].id for k in ("CLERK", "SUPERVISOR", "ADMIN")}
    watchers |= {(await User.get(phone=others[k])).id for k in ("TOWNADMIN", "OFFICIAL2")}
    assert await NotificationEvent.filter(user_id__in=watchers).count() == 0
    people = {demo.users["VILLAGER"].id, (await User.get(phone="13900000044")).id}
    for event in await NotificationEvent.all():
        text = str(event.payload)
        assert not any(str(p) in text for p in people) and "赵大山" not in text, event.payload


async def test_villagers_of_another_village_may_not_flag_or_comment(gql, demo, others, item):
    villager2 = await gql.login(others["VILLAGER2"])
    data = {"targetId": item, "reasonCode": "AMOUNT_QUESTIONED", "body": "外村人也来质疑一下。"}
    body = await gql(FLAG_ISSUE, {"input": data}, token=villager2)
    assert error_codes(body) == ["FORBIDDEN"], body
    body = await gql(ADD, {"input": {"targetId": item, "body": "外村评论"}}, token=villager2)
    assert error_codes(body) == ["FORBIDDEN"], body


async def test_months_of_a_village_are_worked_only_by_its_own_staff(gql, demo, others):
    from tests.test_finance import DECIDE

    clerk = await gql.login(CLERK)
    v = gid("Region", demo.villages[0].id)
    data = {
        "villageId": v,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 10_000_000,
        "lines": [line(8, 6000, "村卫生保洁队")],  # a large expense without a receipt
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    hits = await gql.data(
        "query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) { riskHits { id } } }",
        {"v": v},
        token=await gql.login(SUPERVISOR),
    )
    hit = hits["monthlyAccount"]["riskHits"][0]["id"]
    clerk2, supervisor2, official2 = await tokens(
        gql, others["CLERK2"], others["SUPERVISOR2"], others["OFFICIAL2"]
    )
    body = await gql(SAVE, {"input": {**data, "lines": [line(3, 1, "外人")]}}, token=clerk2)
    assert error_codes(body) == ["FORBIDDEN"]
    month = {"villageId": v, "year": 2026, "month": 5}
    assert error_codes(await gql(APPROVE, {"input": month}, token=supervisor2)) == ["FORBIDDEN"]
    for token in (supervisor2, official2, clerk):
        body = await gql(
            DECIDE, {"input": {"id": hit, "confirmed": False, "note": "外人清除"}}, token=token
        )
        assert error_codes(body) == ["FORBIDDEN"], body
    seen = await gql.data(
        "query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) {"
        " riskHits { status } } }",
        {"v": v},
        token=await gql.login(SUPERVISOR),
    )
    assert seen["monthlyAccount"]["riskHits"] == [{"status": "OPEN"}]
