"""The whole foundation over real HTTP: uvicorn on a loopback port, httpx as the phone."""

from __future__ import annotations

import httpx
import pytest

from api.app import create_app
from scripts.create_admin import create_admin
from tests.client import CREATE_REGION, GQL, GRANT_ROLE, REGISTER, error_codes
from tests.loopback import on_loopback


@pytest.fixture
async def live_url(settings):
    async with on_loopback(create_app(settings), lifespan="on") as port:
        yield f"http://127.0.0.1:{port}"


NODE = """query($id: ID!) { node(id: $id) {
  id __typename
  ... on Region { name kind parent { name } }
  ... on User { name phone village { name } residencyVerified roles { role region { name } } }
  ... on RoleGrant { role region { name } user { name } }
} }"""


async def test_admin_builds_a_county_and_reads_it_back_over_http(live_url, settings):
    await create_admin(settings, "13700000001", "operator-password", "运维管理员")
    async with httpx.AsyncClient(base_url=live_url) as http:
        gql = GQL(http)
        token = await gql.login("13700000001", "operator-password")

        county = await gql.mutate(
            "createRegion",
            CREATE_REGION,
            {"kind": "COUNTY", "name": "试点县", "code": "990103000000"},
            token=token,
        )
        township = await gql.mutate(
            "createRegion",
            CREATE_REGION,
            {
                "parentId": county["region"]["id"],
                "kind": "TOWNSHIP",
                "name": "试点镇",
                "code": "990103101000",
            },
            token=token,
        )
        village = await gql.mutate(
            "createRegion",
            CREATE_REGION,
            {
                "parentId": township["region"]["id"],
                "kind": "VILLAGE",
                "name": "试点村",
                "code": "990103101201",
            },
            token=token,
        )
        assert county["errors"] == township["errors"] == village["errors"] == []

        villager = await gql.mutate(
            "register",
            REGISTER,
            {
                "phone": "13566667777",
                "password": "villager-pass",
                "name": "试点村民",
                "villageId": village["region"]["id"],
            },
        )
        assert villager["errors"] == []
        grant = await gql.mutate(
            "grantRole",
            GRANT_ROLE,
            {
                "userId": villager["user"]["id"],
                "role": "CLERK",
                "regionId": village["region"]["id"],
            },
            token=token,
        )
        assert grant["errors"] == []

        read = {}
        for key, gid in [
            ("county", county["region"]["id"]),
            ("township", township["region"]["id"]),
            ("village", village["region"]["id"]),
            ("user", villager["user"]["id"]),
            ("grant", grant["roleGrant"]["id"]),
        ]:
            read[key] = (await gql.data(NODE, {"id": gid}, token=token))["node"]
        assert read["village"] == {
            "id": village["region"]["id"],
            "__typename": "Region",
            "name": "试点村",
            "kind": "VILLAGE",
            "parent": {"name": "试点镇"},
        }
        assert read["user"]["phone"] == "13566667777"  # the admin covers the village
        assert read["user"]["roles"] == [{"role": "CLERK", "region": {"name": "试点村"}}]
        assert read["grant"] == {
            "id": grant["roleGrant"]["id"],
            "__typename": "RoleGrant",
            "role": "CLERK",
            "region": {"name": "试点村"},
            "user": {"name": "试点村民"},
        }

        # Bad input over the same wire: the documented codes, nothing changed.
        bad_phone = await gql.mutate(
            "register",
            REGISTER,
            {
                "phone": "1234",
                "password": "villager-pass",
                "name": "x",
                "villageId": village["region"]["id"],
            },
        )
        assert bad_phone["errors"][0]["code"] == "INVALID_PHONE"
        missing_parent = await gql.mutate(
            "createRegion",
            CREATE_REGION,
            {"parentId": "UmVnaW9uOjk5OTk", "kind": "TOWNSHIP", "name": "无"},
            token=token,
        )
        assert missing_parent["errors"][0]["code"] == "NOT_FOUND"
        clerk_token = await gql.login("13566667777", "villager-pass")
        body = await gql(
            CREATE_REGION,
            {"input": {"parentId": township["region"]["id"], "kind": "VILLAGE", "name": "私建村"}},
            token=clerk_token,
        )
        assert error_codes(body) == ["FORBIDDEN"]
        ready = await http.get("/readyz")
        assert ready.status_code == 200
