"""For each role: what it may and may not do with users, residency and role grants."""

from __future__ import annotations

import pytest

from api.relay import to_global_id
from models.accounts import RoleGrant, User
from models.audit import AuditEntry
from scripts.seed_demo import SOURCE as SEED
from tests.client import GRANT_ROLE, REGISTER, VERIFY_RESIDENCY, error_codes

PHONES = {
    "admin": "13800000001",
    "inspector": "13800000002",
    "official": "13800000003",
    "clerk": "13800000004",
    "supervisor": "13800000005",
    "villager": "13800000006",
}
USER_QUERY = """query($id: ID!) { node(id: $id) { ... on User {
  id name phone residencyVerified village { name } roles { role region { name } } } } }"""
REVOKE = """mutation($input: RevokeRoleInput!) {
  revokeRole(input: $input) { roleGrant { id revokedAt } errors { code field } } }"""


@pytest.fixture
async def world(gql, demo):
    """Demo users, plus a newcomer in the clerk's village and one in another township."""
    tokens = {role: await gql.login(phone) for role, phone in PHONES.items()}
    newcomer = await gql.mutate(
        "register",
        REGISTER,
        {
            "phone": "13911110001",
            "password": "newcomer-pass",
            "name": "新村民 甲",
            "villageId": to_global_id("Region", demo.villages[0].id),
        },
    )
    faraway = await gql.mutate(
        "register",
        REGISTER,
        {
            "phone": "13911110002",
            "password": "faraway-pass",
            "name": "外乡村民 乙",
            "villageId": to_global_id("Region", demo.villages[5].id),
        },
    )
    return {
        "tokens": tokens,
        "newcomer": newcomer["user"]["id"],
        "newcomer_token": newcomer["accessToken"],
        "faraway": faraway["user"]["id"],
    }


@pytest.mark.parametrize("role", ["clerk", "official", "admin"])
async def test_clerk_official_and_admin_verify_residency_in_their_scope(gql, world, role):
    payload = await gql.mutate(
        "verifyResidency",
        VERIFY_RESIDENCY,
        {"userId": world["newcomer"]},
        token=world["tokens"][role],
    )
    assert payload["errors"] == [] and payload["user"]["residencyVerified"] is True
    again = await gql.mutate(
        "verifyResidency",
        VERIFY_RESIDENCY,
        {"userId": world["newcomer"]},
        token=world["tokens"][role],
    )
    assert again["errors"] == []
    assert (
        await AuditEntry.filter(action="user.verify_residency").exclude(request_id=SEED).count()
        == 1
    )


@pytest.mark.parametrize("role", ["villager", "supervisor", "inspector"])
async def test_others_cannot_verify_residency(gql, world, role):
    body = await gql(
        VERIFY_RESIDENCY, {"input": {"userId": world["newcomer"]}}, token=world["tokens"][role]
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert not await User.exists(phone="13911110001", residency_verified_at__isnull=False)


async def test_clerk_and_official_cannot_verify_outside_their_area(gql, world):
    for role in ("clerk", "official"):
        body = await gql(
            VERIFY_RESIDENCY, {"input": {"userId": world["faraway"]}}, token=world["tokens"][role]
        )
        assert error_codes(body) == ["FORBIDDEN"], role


async def test_the_public_cannot_verify_or_read_users(gql, world):
    assert error_codes(await gql(VERIFY_RESIDENCY, {"input": {"userId": world["newcomer"]}})) == [
        "UNAUTHENTICATED"
    ]
    assert error_codes(await gql(USER_QUERY, {"id": world["newcomer"]})) == ["UNAUTHENTICATED"]


async def read_user(gql, world, viewer: str, user_id: str):
    return await gql(USER_QUERY, {"id": user_id}, token=world["tokens"][viewer])


async def test_phone_is_full_for_owner_admin_and_covering_official_masked_for_others(gql, world):
    for viewer in ("admin", "official"):
        body = await read_user(gql, world, viewer, world["newcomer"])
        assert body["data"]["node"]["phone"] == "13911110001", viewer
    for viewer in ("clerk", "supervisor", "inspector"):
        body = await read_user(gql, world, viewer, world["newcomer"])
        assert body["data"]["node"]["phone"] == "139****0001", viewer
    own = await gql(USER_QUERY, {"id": world["newcomer"]}, token=world["newcomer_token"])
    assert own["data"]["node"]["phone"] == "13911110001"


async def test_villagers_cannot_read_other_users(gql, world):
    body = await read_user(gql, world, "villager", world["newcomer"])
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"]["node"] is None


async def test_village_staff_cannot_read_users_of_other_villages(gql, world):
    for viewer in ("clerk", "supervisor", "official"):
        body = await read_user(gql, world, viewer, world["faraway"])
        assert error_codes(body) == ["FORBIDDEN"], viewer
    body = await read_user(gql, world, "inspector", world["faraway"])
    assert body["data"]["node"]["phone"] == "139****0002"  # county-wide, but no phones


async def test_residents_listing_is_for_staff_of_that_village(gql, world, demo):
    query = """query($v: ID!, $verified: Boolean) {
      residents(villageId: $v, verified: $verified) { edges { node { name phone } } } }"""
    village = to_global_id("Region", demo.villages[0].id)
    pending = await gql.data(
        query, {"v": village, "verified": False}, token=world["tokens"]["clerk"]
    )
    assert [e["node"] for e in pending["residents"]["edges"]] == [
        {"name": "新村民 甲", "phone": "139****0001"}
    ]
    body = await gql(query, {"v": village}, token=world["tokens"]["villager"])
    assert error_codes(body) == ["FORBIDDEN"]
    other = to_global_id("Region", demo.villages[5].id)
    body = await gql(query, {"v": other}, token=world["tokens"]["clerk"])
    assert error_codes(body) == ["FORBIDDEN"]


def grant_input(world, demo, role="CLERK", village=0, user="newcomer"):
    return {
        "userId": world[user],
        "role": role,
        "regionId": to_global_id("Region", demo.villages[village].id),
    }


async def test_admin_grants_and_revokes_roles_idempotently(gql, world, demo):
    admin = world["tokens"]["admin"]
    first = await gql.mutate("grantRole", GRANT_ROLE, grant_input(world, demo), token=admin)
    assert first["errors"] == [] and first["roleGrant"]["role"] == "CLERK"
    again = await gql.mutate("grantRole", GRANT_ROLE, grant_input(world, demo), token=admin)
    assert again["roleGrant"]["id"] == first["roleGrant"]["id"]
    assert await RoleGrant.filter(user__phone="13911110001").count() == 1

    node = await gql.data(
        "query($id: ID!) { node(id: $id) { ... on RoleGrant { role user { name } } } }",
        {"id": first["roleGrant"]["id"]},
        token=admin,
    )
    assert node["node"] == {"role": "CLERK", "user": {"name": "新村民 甲"}}

    revoked = await gql.mutate(
        "revokeRole", REVOKE, {"grantId": first["roleGrant"]["id"]}, token=admin
    )
    assert revoked["errors"] == [] and revoked["roleGrant"]["revokedAt"]
    twice = await gql.mutate(
        "revokeRole", REVOKE, {"grantId": first["roleGrant"]["id"]}, token=admin
    )
    assert twice["roleGrant"]["revokedAt"] == revoked["roleGrant"]["revokedAt"]
    mine = AuditEntry.filter(action__in=["role.grant", "role.revoke"]).exclude(request_id=SEED)
    assert await mine.count() == 2


@pytest.mark.parametrize("role", ["villager", "clerk", "supervisor", "official", "inspector"])
async def test_non_admins_cannot_grant_or_revoke(gql, world, demo, role):
    body = await gql(GRANT_ROLE, {"input": grant_input(world, demo)}, token=world["tokens"][role])
    assert error_codes(body) == ["FORBIDDEN"]
    clerk_grant = await RoleGrant.get(user__phone=PHONES["clerk"])
    body = await gql(
        REVOKE,
        {"input": {"grantId": to_global_id("RoleGrant", clerk_grant.id)}},
        token=world["tokens"][role],
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await RoleGrant.filter(revoked_at=None).count() == 5


async def test_a_scoped_admin_cannot_grant_outside_their_region(gql, world, demo):
    admin = world["tokens"]["admin"]
    # The county admin makes a township admin for 东溪镇 ...
    made = await gql.mutate(
        "grantRole",
        GRANT_ROLE,
        {
            "userId": world["faraway"],
            "role": "ADMIN",
            "regionId": to_global_id("Region", demo.townships[0].id),
        },
        token=admin,
    )
    assert made["errors"] == []
    township_admin = await gql.login("13911110002", "faraway-pass")
    inside = await gql.mutate(
        "grantRole", GRANT_ROLE, grant_input(world, demo, "SUPERVISOR", 1), token=township_admin
    )
    assert inside["errors"] == []
    # ... who may not grant in 南岭乡, nor on the county above.
    grants = await RoleGrant.all().count()
    outside = await gql(
        GRANT_ROLE, {"input": grant_input(world, demo, "CLERK", 5)}, token=township_admin
    )
    assert error_codes(outside) == ["FORBIDDEN"]
    above = await gql(
        GRANT_ROLE,
        {
            "input": {
                "userId": world["newcomer"],
                "role": "INSPECTOR",
                "regionId": to_global_id("Region", demo.county.id),
            }
        },
        token=township_admin,
    )
    assert error_codes(above) == ["FORBIDDEN"]
    assert await RoleGrant.all().count() == grants


async def test_grant_checks_role_fits_region_kind_and_ids_exist(gql, world, demo):
    admin = world["tokens"]["admin"]
    wrong_kind = await gql.mutate(
        "grantRole",
        GRANT_ROLE,
        {
            "userId": world["newcomer"],
            "role": "CLERK",
            "regionId": to_global_id("Region", demo.townships[0].id),
        },
        token=admin,
    )
    assert [(e["code"], e["field"]) for e in wrong_kind["errors"]] == [
        ("ROLE_REGION_KIND", "regionId")
    ]
    missing = await gql.mutate(
        "grantRole",
        GRANT_ROLE,
        {
            "userId": to_global_id("User", 99999),
            "role": "CLERK",
            "regionId": to_global_id("Region", 99999),
        },
        token=admin,
    )
    assert {(e["code"], e["field"]) for e in missing["errors"]} == {
        ("NOT_FOUND", "userId"),
        ("NOT_FOUND", "regionId"),
    }


async def test_roles_of_a_user_are_visible_to_self_and_role_viewers_only(gql, world, demo):
    clerk_id = to_global_id("User", (await User.get(phone=PHONES["clerk"])).id)
    for viewer, expected in [("clerk", 1), ("official", 1), ("admin", 1), ("supervisor", 0)]:
        body = await read_user(gql, world, viewer, clerk_id)
        assert len(body["data"]["node"]["roles"]) == expected, viewer
