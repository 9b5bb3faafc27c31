"""Bad input gets a clear code and changes nothing: ids and cursors past the database's
integer range or written in other scripts' digits, out-of-range years, huge amounts, NUL
bytes, an unknown region to follow, an upload with an Idempotency-Key. Each answered
INTERNAL_SERVER_ERROR (or a plain-text 500) before; each is sent here as a client would."""

from __future__ import annotations

import base64
import json

import pytest

from api.relay import encode_cursor, to_global_id
from models.audit import AuditEntry
from models.comments import Comment
from models.disclosures import Disclosure
from models.finance import MonthlyAccount
from models.flags import Flag
from tests import media_files
from tests.client import error_codes
from tests.test_comments import ADD
from tests.test_disclosures import CLERK, VILLAGER, published
from tests.test_finance import SAVE, line
from tests.test_flags import raise_flag


def raw_id(kind: str, key: str) -> str:
    """A global ID of any key text, as a hostile client would make one."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(f"k:{text}".encode()).decode().rstrip("=")


# past PostgreSQL's integer, past SQLite's 64-bit integer, other scripts' digits, a sign
BAD_KEYS = [str(2**31), str(2**63), str(2**64), "²", "٣", "+1"]

CODES = {"BAD_USER_INPUT", "NOT_FOUND"}


def clear(body: dict, *allowed: str) -> list[str]:
    """The body's top-level codes, asserted to be clear (not INTERNAL_SERVER_ERROR)."""
    codes = error_codes(body)
    assert codes, body
    assert set(codes) <= (set(allowed) or CODES), body
    return codes


async def counts() -> tuple[int, ...]:
    return (
        await Comment.all().count(),
        await Flag.all().count(),
        await AuditEntry.all().count(),
        await Disclosure.all().count(),
        await MonthlyAccount.all().count(),
    )


@pytest.fixture
async def item(gql, demo):
    return await published(gql, await gql.login(CLERK), demo.villages[0])


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_ids_out_of_range_or_not_ascii_are_not_found_or_invalid_in_queries(
    gql, demo, item, key
):
    token = await gql.login(VILLAGER)
    queries = {
        "node": ("query($id: ID!) { node(id: $id) { id } }", "Disclosure"),
        "disclosure": ("query($id: ID!) { disclosure(id: $id) { id } }", "Disclosure"),
        "flag": ("query($id: ID!) { flag(id: $id) { id } }", "Flag"),
        "region": ("query($id: ID!) { region(id: $id) { id } }", "Region"),
        "comments": (
            "query($id: ID!) { comments(targetId: $id) { edges { node { id } } } }",
            "Disclosure",
        ),
        "similarFlags": ("query($id: ID!) { similarFlags(targetId: $id) { id } }", "Disclosure"),
        "disclosures": (
            "query($id: ID) { disclosures(regionId: $id) { edges { node { id } } } }",
            "Region",
        ),
        "monthlyAccount": (
            "query($id: ID!) { monthlyAccount(villageId: $id, year: 2026, month: 5) { id } }",
            "Region",
        ),
    }
    for name, (query, kind) in queries.items():
        for node_kind in {kind, "Media", "User", "Comment", "CatalogueItem", "RoleGrant"}:
            if name != "node" and node_kind != kind:
                continue
            for viewer in (None, token):
                body = await gql(query, {"id": raw_id(node_kind, key)}, token=viewer)
                clear(body)
                if name == "node":
                    assert error_codes(body) == ["NOT_FOUND"], (node_kind, body)


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_ids_out_of_range_in_mutation_inputs_are_user_errors_and_change_nothing(
    gql, demo, item, key
):
    token = await gql.login(VILLAGER)
    flag = await raise_flag(gql, token, item["id"])
    before = await counts()
    cases = [
        (ADD, "addComment", {"targetId": raw_id("Disclosure", key), "body": "好"}),
        (
            ADD,
            "addComment",
            {"targetId": item["id"], "body": "好", "parentId": raw_id("Comment", key)},
        ),
        (SUPPORT, "supportFlag", {"id": raw_id("Flag", key)}),
        (FOLLOW, "followRegion", {"regionId": raw_id("Region", key)}),
        (MARK_READ, "markDisclosureRead", {"id": raw_id("Disclosure", key)}),
    ]
    for query, name, data in cases:
        body = await gql(query, {"input": data}, token=token)
        assert "errors" not in body, (name, body)
        codes = [e["code"] for e in body["data"][name]["errors"]]
        assert codes in (["INVALID_ID"], ["NOT_FOUND"]), (name, body)
    assert await counts() == before
    assert flag["id"]


SUPPORT = """mutation($input: SupportFlagInput!) { supportFlag(input: $input) {
  flag { id } errors { code field } } }"""
FOLLOW = """mutation($input: FollowRegionInput!) { followRegion(input: $input) {
  region { id } following errors { code field } } }"""
MARK_READ = """mutation($input: MarkDisclosureReadInput!) { markDisclosureRead(input: $input) {
  disclosure { id } errors { code field } } }"""


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_cursors_out_of_range_or_not_ascii_are_invalid(gql, demo, item, key):
    token = await gql.login(VILLAGER)
    region = to_global_id("Region", demo.villages[0].id)
    stamp = "2026-05-01T00:00:00+00:00"
    county = to_global_id("Region", demo.county.id)
    cursors = {
        "comments": (
            "query($t: ID!, $a: String) { comments(targetId: $t, after: $a) { edges { cursor } } }",
            {"t": item["id"]},
            [raw_cursor(key)],
        ),
        "feed": (
            "query($r: ID, $a: String) { disclosures(regionId: $r, after: $a) { edges { cursor } } }",
            {"r": region},
            [raw_cursor(f"0|{stamp}|{key}"), raw_cursor(f"{key}|{stamp}|1")],
        ),
        "search": (
            'query($a: String) { disclosures(search: "会议", after: $a) { edges { cursor } } }',
            {},
            [raw_cursor(f"0|{stamp}|{key}"), raw_cursor(f"{key}|{stamp}|1")],
        ),
        "stats": (
            """query($r: ID!, $a: String) { supervisionStats(regionId: $r, from: "2026-01-01",
              to: "2026-06-01", after: $a) { edges { cursor } } }""",
            {"r": county},
            [raw_cursor(key)],
        ),
    }
    for name, (query, variables, values) in cursors.items():
        for value in values:
            body = await gql(query, {**variables, "a": value}, token=token)
            assert clear(body) == ["BAD_USER_INPUT"], (name, body)


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_flag_queue_cursor_out_of_range_is_invalid(gql, demo, key):
    from tests.test_disclosures import OFFICIAL

    token = await gql.login(OFFICIAL)
    query = """query($r: ID!, $a: String) { flags(regionId: $r, after: $a) {
      edges { cursor } } }"""
    region = to_global_id("Region", demo.townships[0].id)
    cursor = raw_cursor(f"2026-05-01T00:00:00+00:00|{key}")
    body = await gql(query, {"r": region, "a": cursor}, token=token)
    assert clear(body) == ["BAD_USER_INPUT"], body


async def test_a_cursor_that_was_handed_out_still_works(gql, demo, item):
    body = await gql(
        "query($t: ID!, $a: String) { comments(targetId: $t, after: $a) { edges { cursor } } }",
        {"t": item["id"], "a": encode_cursor(2**31 - 1)},
    )
    assert "errors" not in body, body


@pytest.mark.parametrize(
    ("year", "month"), [(0, 5), (-1, 5), (10_000, 5), (2**31 - 1, 5), (2026, 0), (2026, 13)]
)
async def test_years_and_months_out_of_range_are_bad_input(gql, demo, year, month):
    village = to_global_id("Region", demo.villages[0].id)
    token = await gql.login(CLERK)
    queries = [
        ("query($y: Int!) { holidays(year: $y) { day } }", {"y": year}, month == 5),
        (
            "query($r: ID!, $y: Int!) { financeSummary(regionId: $r, year: $y) { year } }",
            {"r": village, "y": year},
            month == 5,
        ),
        (
            "query($r: ID!, $y: Int!, $m: Int!) { monthlyAccount(villageId: $r, year: $y,"
            " month: $m) { id } }",
            {"r": village, "y": year, "m": month},
            True,
        ),
        (
            "query($r: ID!, $y: Int!, $m: Int!) { financeSummaryImage(villageId: $r, year: $y,"
            " month: $m) }",
            {"r": village, "y": year, "m": month},
            True,
        ),
    ]
    for query, variables, refused in queries:
        for viewer in (None, token):
            body = await gql(query, variables, token=viewer)
            if refused:
                assert clear(body) == ["BAD_USER_INPUT"], (query, body)
            else:
                assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body


@pytest.mark.parametrize("amount", [1e20, 1e13 + 1, 1e300, 9.3e18])
async def test_manual_amounts_past_the_cap_are_refused_like_the_file_import(gql, demo, amount):
    token = await gql.login(CLERK)
    village = to_global_id("Region", demo.villages[0].id)
    before = await counts()
    good = line(3, 100, "张三")
    data = {
        "villageId": village,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 10_000_000,
        "lines": [good, {**good, "amountFen": amount}],
    }
    out = await gql.mutate("saveMonthlyAccount", SAVE, data, token=token)
    assert out["errors"] == [{"code": "AMOUNT_TOO_LARGE", "field": "amountFen", "line": 2}]
    for opening in (amount, -amount):
        out = await gql.mutate(
            "saveMonthlyAccount",
            SAVE,
            {**data, "lines": [good], "openingBalanceFen": opening},
            token=token,
        )
        assert out["errors"] == [
            {"code": "AMOUNT_TOO_LARGE", "field": "openingBalanceFen", "line": None}
        ]
    assert await counts() == before


async def test_an_amount_literal_too_large_for_a_float_is_refused(gql, demo):
    token = await gql.login(CLERK)
    village = to_global_id("Region", demo.villages[0].id)
    query = """mutation { saveMonthlyAccount(input: {villageId: "%s", year: 2026, month: 5,
      openingBalanceFen: 1e400, lines: []}) { errors { code field } } }""".replace("%s", village)
    body = await gql(query, token=token)
    assert body == {
        "data": {
            "saveMonthlyAccount": {
                "errors": [{"code": "AMOUNT_TOO_LARGE", "field": "openingBalanceFen"}]
            }
        }
    }


NUL_CASES = [
    (ADD, lambda item: {"input": {"targetId": item["id"], "body": "有\x00空字符"}}),
    (FOLLOW, lambda item: {"input": {"regionId": "UmVnaW9uOjE\x00"}}),
    (
        "query($s: String) { disclosures(search: $s) { edges { cursor } } }",
        lambda item: {"s": "会议\x00"},
    ),
    (
        "query($s: String) { disclosures(after: $s) { edges { cursor } } }",
        lambda item: {"s": "\x00"},
    ),
    (ADD, lambda item: {"input": {"targetId": item["id"], "body": "好", "x\x00": 1}}),
]


@pytest.mark.parametrize("case", range(len(NUL_CASES)))
async def test_nul_in_any_variable_is_bad_input_and_changes_nothing(gql, demo, item, case):
    token = await gql.login(VILLAGER)
    query, variables = NUL_CASES[case]
    before = await counts()
    body = await gql(query, variables(item), token=token)
    assert clear(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["reason"] == "NUL_CHARACTER"
    english = await gql(query, variables(item), token=token, lang="en")
    assert "NUL" in english["errors"][0]["message"]
    assert await counts() == before


async def test_nul_in_a_string_literal_is_bad_input_and_changes_nothing(gql, demo, item):
    token = await gql.login(VILLAGER)
    before = await counts()
    comment = (
        'mutation { addComment(input: {targetId: "ID", body: "a\\u0000b"}) { errors { code } } }'
    )
    for query in (
        comment.replace("ID", item["id"]),
        '{ disclosures(search: "会议\\u0000") { edges { cursor } } }',
        '{ disclosures(search: """会议\\u0000""") { edges { cursor } } }',  # no escapes: fine
    ):
        body = await gql(query, token=token)
        if '"""' in query:
            assert "errors" not in body, body
            continue
        assert clear(body) == ["BAD_USER_INPUT"], body
        assert body["errors"][0]["extensions"]["reason"] == "NUL_CHARACTER"
    assert await counts() == before


async def test_nul_over_get_and_in_an_operation_name_is_bad_input(client, demo):
    response = await client.get(
        "/graphql",
        params={
            "query": "query($s: String) { disclosures(search: $s) { edges { cursor } } }",
            "variables": json.dumps({"s": "会议\x00"}),
        },
    )
    assert response.status_code == 200
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    response = await client.post(
        "/graphql", json={"query": "query Q { me { id } }", "operationName": "Q\x00"}
    )
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


def multipart(parts: list[tuple[str, bytes, str | None]]) -> tuple[bytes, str]:
    """A multipart body written byte by byte (httpx escapes what a hostile client would not)."""
    boundary = "cunwu-test-boundary"
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: image/jpeg\r\n"
        out += b"\r\n" + value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


async def test_nul_in_multipart_fields_is_bad_input_and_stores_nothing(client, gql, demo):
    from models.media import Media
    from tests.test_media import UPLOAD

    token = await gql.login(CLERK)
    for filename, purpose in (("a\x00.jpg", "RECEIPT"), ("a.jpg", "RECEIPT\x00")):
        variables = {"input": {"file": None, "purpose": purpose}}
        operations = json.dumps({"query": UPLOAD, "variables": variables}).encode()
        body, content_type = multipart(
            [
                ("operations", operations, None),
                ("map", b'{"0": ["variables.input.file"]}', None),
                ("0", media_files.phone_jpeg(), filename),
            ]
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "GraphQL-Preflight": "1",
            "Content-Type": content_type,
        }
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.headers["content-type"].startswith("application/json"), response.text
        assert error_codes(response.json()) == ["BAD_USER_INPUT"], response.text
    assert await Media.all().count() == 0


async def upload_with_key(client, token, key: str, data: bytes):
    from tests.test_media import UPLOAD

    variables = {"input": {"file": None, "purpose": "RECEIPT"}}
    form = {
        "operations": json.dumps({"query": UPLOAD, "variables": variables}),
        "map": json.dumps({"0": ["variables.input.file"]}),
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "GraphQL-Preflight": "1",
        "Idempotency-Key": key,
    }
    return await client.post(
        "/graphql", data=form, files={"0": ("a.jpg", data, "image/jpeg")}, headers=headers
    )


async def test_an_upload_with_an_idempotency_key_is_stored_once_and_replayed(client, gql, demo):
    from models.media import Media

    token = await gql.login(CLERK)
    photo = media_files.phone_jpeg()
    first = await upload_with_key(client, token, "upload-key-0001", photo)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["uploadMedia"]["errors"] == [], first.text
    again = await upload_with_key(client, token, "upload-key-0001", photo)
    assert again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert await Media.all().count() == 1
    other = await upload_with_key(client, token, "upload-key-0001", media_files.phone_jpeg(1))
    assert other.status_code == 422, other.text
    assert error_codes(other.json()) == ["BAD_USER_INPUT"]
    assert await Media.all().count() == 1


def assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    request_id = response.headers["x-request-id"]
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"].get("requestId", request_id) == request_id


async def test_every_layer_answers_errors_in_json_with_a_code_and_the_request_id(
    client, gql, demo, monkeypatch
):
    assert_json_error(await client.get("/nowhere"), 404, "NOT_FOUND")
    assert_json_error(await client.put("/graphql", json={}), 405, "BAD_USER_INPUT")
    assert_json_error(await client.get("/media/" + "0" * 64 + "/thumb.webp"), 404, "NOT_FOUND")
    assert_json_error(await client.get("/media/nothing/else"), 404, "NOT_FOUND")
    assert_json_error(await client.get("/summaries/x.png"), 404, "NOT_FOUND")
    english = await client.get("/nowhere", headers={"Accept-Language": "en"})
    assert english.json()["errors"][0]["message"] == "Not found"
    head = await client.head("/media/nothing/else")
    assert (head.status_code, head.content) == (404, b"")

    # a crash below the endpoint (as the upload with an Idempotency-Key was) is a JSON 500
    from api import idempotency

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(idempotency, "request_hash", broken)
    token = await gql.login(CLERK)
    response = await upload_with_key(client, token, "upload-key-0002", media_files.phone_jpeg())
    assert_json_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert "boom" not in response.text
    assert response.json()["errors"][0]["extensions"]["requestId"] in response.text


async def test_a_content_length_in_other_digits_is_not_a_crash(client, demo):
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ me { id } }"}',
        headers={"Content-Type": "application/json", "Content-Length": "²".encode("latin-1")},
    )
    assert response.status_code in (200, 400, 413), response.text
    assert response.headers["content-type"].startswith("application/json")


EDGE_DATES = [("0001-01-01", "0001-02-01"), ("9999-11-01", "9999-12-31")]


@pytest.mark.parametrize(("start", "end"), EDGE_DATES)
async def test_dates_at_the_ends_of_the_calendar_are_not_a_crash(gql, demo, item, start, end):
    token = await gql.login(CLERK)
    county = to_global_id("Region", demo.county.id)
    village = to_global_id("Region", demo.villages[0].id)
    queries = [
        (
            """query($r: ID!, $f: Date!, $t: Date!) { supervisionStats(regionId: $r, from: $f,
              to: $t) { edges { node { flagsReceived } } } }""",
            {"r": county, "f": start, "t": end},
        ),
        (
            "query($r: ID, $u: DateTime) { disclosures(regionId: $r, updatedSince: $u) {"
            " edges { cursor } } }",
            {"r": village, "u": start + "T00:00:00+00:00"},
        ),
        (
            "query($r: ID, $u: DateTime) { disclosures(regionId: $r, updatedSince: $u) {"
            " edges { cursor } } }",
            {"r": village, "u": end + "T23:59:59"},
        ),
        (
            "query($r: ID!, $p: String!) { disclosureCompliance(regionId: $r, period: $p) {"
            " __typename } }",
            {"r": village, "p": start[:4]},
        ),
        (
            "query($r: ID!, $p: String!) { disclosureCompliance(regionId: $r, period: $p) {"
            " __typename } }",
            {"r": village, "p": "٢٠٢٦"},
        ),
        ("query($d: Int!) { holidays(year: $d) { day } }", {"d": int(start[:4])}),
    ]
    for query, variables in queries:
        for viewer in (None, token):
            body = await gql(query, variables, token=viewer)
            assert "INTERNAL_SERVER_ERROR" not in error_codes(body), (query, body)
    stamp = f"{start}T00:00:00+00:00"
    for cursor in (raw_cursor(f"0|{stamp}|1"), raw_cursor("0|not a time|1")):
        body = await gql(
            "query($a: String) { disclosures(after: $a) { edges { cursor } } }", {"a": cursor}
        )
        assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body


ODD_STAMPS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-05-01T00:00:00", "x"]


@pytest.mark.parametrize("stamp", ODD_STAMPS)
async def test_cursors_with_odd_times_are_not_a_crash(gql, demo, item, stamp):
    from tests.test_disclosures import OFFICIAL

    token = await gql.login(OFFICIAL)
    township = to_global_id("Region", demo.townships[0].id)
    queries = [
        (
            "query($r: ID!, $a: String) { flags(regionId: $r, after: $a) { edges { cursor } } }",
            raw_cursor(f"{stamp}|1"),
        ),
        (
            "query($r: ID, $a: String) { disclosures(regionId: $r, after: $a) { edges { cursor } } }",
            raw_cursor(f"0|{stamp}|1"),
        ),
        (
            'query($r: ID, $a: String) { disclosures(search: "会议", after: $a) { edges { cursor } } }',
            raw_cursor(f"1|{stamp}|1"),
        ),
    ]
    for query, cursor in queries:
        body = await gql(query, {"r": township, "a": cursor}, token=token)
        assert "INTERNAL_SERVER_ERROR" not in error_codes(body), (query, body)


async def test_following_an_unknown_region_keeps_its_user_error(gql, demo):
    token = await gql.login(VILLAGER)
    unfollow = FOLLOW.replace("followRegion(", "unfollowRegion(")
    for query, name in ((FOLLOW, "followRegion"), (unfollow, "unfollowRegion")):
        for region in (to_global_id("Region", 99_999), to_global_id("Disclosure", 1)):
            body = await gql(query, {"input": {"regionId": region}}, token=token)
            assert "errors" not in body, body
            payload = body["data"][name]
            assert payload["following"] is False and payload["region"] is None, body
            assert [e["code"] for e in payload["errors"]] in (["NOT_FOUND"], ["WRONG_KIND"])
