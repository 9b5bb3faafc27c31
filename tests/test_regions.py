"""Building and reading the region tree through the API."""

from __future__ import annotations

from api.relay import to_global_id
from models.audit import AuditEntry
from models.regions import Region
from scripts.seed_demo import SOURCE as SEED
from tests.client import CREATE_REGION, error_codes

ADMIN = "13800000001"
OFFICIAL = "13800000003"


def gid(region) -> str:
    return to_global_id("Region", region.id)


async def test_admin_builds_township_village_and_group(gql, demo):
    token = await gql.login(ADMIN)
    township = await gql.mutate(
        "createRegion",
        CREATE_REGION,
        {
            "parentId": gid(demo.county),
            "kind": "TOWNSHIP",
            "name": "北山镇",
            "code": "990102104000",
        },
        token=token,
    )
    assert township["errors"] == []
    assert township["region"]["depth"] == 1
    village = await gql.mutate(
        "createRegion",
        CREATE_REGION,
        {
            "parentId": township["region"]["id"],
            "kind": "VILLAGE",
            "name": "北山村",
            "code": "990102104201",
        },
        token=token,
    )
    assert village["errors"] == [] and village["region"]["parent"]["id"] == township["region"]["id"]
    group = await gql.mutate(
        "createRegion",
        CREATE_REGION,
        {"parentId": village["region"]["id"], "kind": "GROUP", "name": "一组"},
        token=token,
    )
    assert group["errors"] == []
    read = await gql.data(
        "query($id: ID!) { region(id: $id) { name ancestors { name } parent { name } } }",
        {"id": group["region"]["id"]},
    )
    assert [a["name"] for a in read["region"]["ancestors"]] == ["青禾县", "北山镇", "北山村"]
    assert await AuditEntry.filter(action="region.create").exclude(request_id=SEED).count() == 3


async def test_create_region_refuses_bad_input_and_changes_nothing(gql, demo):
    token = await gql.login(ADMIN)
    regions, audits = await Region.all().count(), await AuditEntry.all().count()
    cases = [
        ({"parentId": to_global_id("Region", 424242)}, "NOT_FOUND", "parentId"),
        ({"parentId": "garbage!"}, "INVALID_ID", "parentId"),
        ({"parentId": to_global_id("User", 1)}, "WRONG_KIND", "parentId"),
        ({"kind": "VILLAGE"}, "INVALID_REGION_KIND", "kind"),
        ({"name": ""}, "INVALID_NAME", "name"),
        ({"code": "12ab"}, "INVALID_CODE", "code"),
        ({"code": "110101001000"}, "CODE_MISMATCH", "code"),
        ({"code": "990102101000"}, "CODE_TAKEN", "code"),
        ({"name": "东溪镇"}, "NAME_TAKEN", "name"),
    ]
    for overrides, code, field in cases:
        data = {"parentId": gid(demo.county), "kind": "TOWNSHIP", "name": "新镇"}
        data.update(overrides)
        payload = await gql.mutate("createRegion", CREATE_REGION, data, token=token)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], overrides
        assert payload["region"] is None
    assert await Region.all().count() == regions
    assert await AuditEntry.all().count() == audits


async def test_only_admins_covering_the_parent_create_regions(gql, demo):
    data = {"parentId": gid(demo.townships[0]), "kind": "VILLAGE", "name": "新村"}
    body = await gql(CREATE_REGION, {"input": data})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    for phone in ("13800000002", OFFICIAL, "13800000004", "13800000005", "13800000006"):
        body = await gql(CREATE_REGION, {"input": data}, token=await gql.login(phone))
        assert error_codes(body) == ["FORBIDDEN"], phone
        assert body["data"]["createRegion"] is None
    # A county admin cannot create a new top-level region.
    top = {"kind": "COUNTY", "name": "外县"}
    body = await gql(CREATE_REGION, {"input": top}, token=await gql.login(ADMIN))
    assert error_codes(body) == ["FORBIDDEN"]
    assert not await Region.exists(name__in=["新村", "外县"])


async def test_regions_lists_children_subtrees_and_pages(gql, demo):
    top = await gql.data("{ regions { edges { node { name kind } } } }")
    assert top["regions"]["edges"] == [{"node": {"name": "青禾县", "kind": "COUNTY"}}]

    query = """query($parent: ID, $kind: RegionKind, $first: Int, $after: String) {
      regions(parentId: $parent, kind: $kind, first: $first, after: $after) {
        edges { node { name } cursor } pageInfo { hasNextPage endCursor }
      }
    }"""
    townships = await gql.data(query, {"parent": gid(demo.county)})
    assert [e["node"]["name"] for e in townships["regions"]["edges"]] == [
        "东溪镇",
        "南岭乡",
        "西坪镇",
    ]

    names, after = [], None
    while True:
        page = (
            await gql.data(
                query, {"parent": gid(demo.county), "kind": "VILLAGE", "first": 5, "after": after}
            )
        )["regions"]
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(names) == 12 and len(set(names)) == 12

    groups = await gql.data(query, {"parent": gid(demo.townships[1]), "kind": "GROUP", "first": 50})
    assert len(groups["regions"]["edges"]) == 8


async def test_page_size_and_cursor_are_checked(gql, demo):
    body = await gql("{ regions(first: 51) { edges { cursor } } }")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    body = await gql('{ regions(after: "%%%") { edges { cursor } } }')
    assert error_codes(body) == ["BAD_USER_INPUT"]
    body = await gql('{ region(id: "UmVnaW9uOjk5OTk5") { name } }')
    assert error_codes(body) == ["NOT_FOUND"]


async def test_children_field_pages_below_a_region(gql, demo):
    data = await gql.data(
        "query($id: ID!) { region(id: $id) { children(first: 2) { edges { node { name kind } } "
        "pageInfo { hasNextPage } } } }",
        {"id": gid(demo.townships[0])},
    )
    children = data["region"]["children"]
    assert [e["node"]["kind"] for e in children["edges"]] == ["VILLAGE", "VILLAGE"]
    assert children["pageInfo"]["hasNextPage"] is True
