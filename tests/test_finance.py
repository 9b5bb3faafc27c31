"""Monthly accounts through the API: every sample in every encoding and format, each broken
sample's exact errors with nothing stored, and continuity across months."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.finance.parsing import parse_amount, parse_date
from api.relay import to_global_id
from models.finance import AccountLine, MonthlyAccount
from tests.client import error_codes
from tests.test_disclosures import CLERK, OFFICIAL, SUPERVISOR, VILLAGER

SAMPLES = Path(__file__).resolve().parent.parent / "scripts" / "samples"
IMPORT = """mutation($input: ImportMonthlyAccountInput!) { importMonthlyAccount(input: $input) {
  account { year month chartVersion openingBalanceFen incomeFen expenseFen closingBalanceFen
    status source lineCount lines(first: 50) { edges { node {
      lineNo date direction subjectCode amountFen counterparty summary } } } }
  errors { code field line message } } }"""
EXPECTED_LINES = [
    (2, "2026-03-02", "INCOME", "503", 3_000_000, "东溪镇财政所"),
    (3, "2026-03-05", "EXPENSE", "513", 128_050, "东溪文具店"),
    (4, "2026-03-12", "EXPENSE", "514", 860_000, "村卫生保洁队"),
    (5, "2026-03-20", "INCOME", "501", 120_050, "柳塘合作社"),
]


async def upload(
    client,
    token,
    village,
    name_or_bytes,
    *,
    year=2026,
    month=3,
    opening=500_000,
    closing=None,
    lang=None,
):
    data = (
        name_or_bytes
        if isinstance(name_or_bytes, bytes)
        else (SAMPLES / name_or_bytes).read_bytes()
    )
    variables = {
        "input": {
            "villageId": to_global_id("Region", village.id),
            "year": year,
            "month": month,
            "file": None,
        }
    }
    if opening is not None:
        variables["input"]["openingBalanceFen"] = opening
    if closing is not None:
        variables["input"]["closingBalanceFen"] = closing
    headers = {"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"}
    if lang:
        headers["Accept-Language"] = lang
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": IMPORT, "variables": variables}),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": ("month", data, "application/octet-stream")},
        headers=headers,
    )
    return response.json()


@pytest.mark.parametrize(
    "sample", ["2026-03-utf8.csv", "2026-03-utf8-bom.csv", "2026-03-gbk.csv", "2026-03.xlsx"]
)
async def test_each_good_sample_gives_the_same_lines(client, gql, demo, sample):
    body = await upload(client, await gql.login(CLERK), demo.villages[0], sample)
    payload = body["data"]["importMonthlyAccount"]
    assert payload["errors"] == [], payload
    account = payload["account"]
    lines = [n["node"] for n in account["lines"]["edges"]]
    assert [
        (
            x["lineNo"],
            x["date"],
            x["direction"],
            x["subjectCode"],
            int(x["amountFen"]),
            x["counterparty"],
        )
        for x in lines
    ] == EXPECTED_LINES
    assert account["chartVersion"] == "2023" and account["lineCount"] == 4
    assert int(account["incomeFen"]) == 3_120_050 and int(account["expenseFen"]) == 988_050
    assert int(account["closingBalanceFen"]) == 500_000 + 3_120_050 - 988_050
    assert account["source"] == ("XLSX" if sample.endswith("xlsx") else "CSV")


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (
            "broken-amount.csv",
            [("INVALID_AMOUNT", "amount", 3), ("NON_POSITIVE_AMOUNT", "amount", 4)],
        ),
        ("broken-date.csv", [("INVALID_DATE", "date", 5), ("LINE_OUTSIDE_MONTH", "date", 4)]),
        ("broken-subject.csv", [("UNKNOWN_SUBJECT", "subject", 4)]),
        ("broken-columns.csv", [("MISSING_COLUMN", "amount", 1)]),
    ],
)
async def test_each_broken_sample_yields_its_errors_and_stores_nothing(
    client, gql, demo, sample, expected
):
    body = await upload(client, await gql.login(CLERK), demo.villages[0], sample)
    payload = body["data"]["importMonthlyAccount"]
    assert payload["account"] is None
    got = [(e["code"], e["field"], e["line"]) for e in payload["errors"]]
    assert sorted(got) == sorted(expected)
    assert all(e["message"] for e in payload["errors"])
    assert await MonthlyAccount.all().count() == 0 and await AccountLine.all().count() == 0


async def test_errors_read_in_english_on_request(client, gql, demo):
    body = await upload(
        client, await gql.login(CLERK), demo.villages[0], "broken-subject.csv", lang="en"
    )
    assert (
        body["data"]["importMonthlyAccount"]["errors"][0]["message"]
        == "No subject 999 in the 2023 chart"
    )


async def test_unreadable_files_are_refused(client, gql, demo):
    for data in (b"\x89PNG\r\n\x1a\n not a sheet", b"PK\x03\x04 broken zip", b""):
        body = await upload(client, await gql.login(CLERK), demo.villages[0], data)
        codes = [e["code"] for e in body["data"]["importMonthlyAccount"]["errors"]]
        assert codes and codes[0] in ("UNREADABLE_FILE", "EMPTY_FILE", "MISSING_COLUMN")
    assert await MonthlyAccount.all().count() == 0


async def test_continuity_across_months_is_enforced(client, gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    march = (await upload(client, clerk, village, "2026-03-utf8.csv"))["data"][
        "importMonthlyAccount"
    ]
    closing = int(march["account"]["closingBalanceFen"])
    april_csv = (
        (SAMPLES / "2026-03-utf8.csv")
        .read_text(encoding="utf-8")
        .replace("2026-03-", "2026-04-")
        .replace("2026/3/", "2026/4/")
        .replace("2026年3月", "2026年4月")
        .encode()
    )
    wrong = await upload(client, clerk, village, april_csv, month=4, opening=closing + 1)
    assert [(e["code"], e["field"]) for e in wrong["data"]["importMonthlyAccount"]["errors"]] == [
        ("OPENING_MISMATCH", "openingBalanceFen")
    ]
    april = await upload(client, clerk, village, april_csv, month=4, opening=None)
    account = april["data"]["importMonthlyAccount"]["account"]
    assert int(account["openingBalanceFen"]) == closing
    mismatch = await upload(client, clerk, village, april_csv, month=4, opening=None, closing=1)
    assert mismatch["data"]["importMonthlyAccount"]["errors"][0]["code"] == "CLOSING_MISMATCH"
    first_month = await upload(client, clerk, demo.villages[1], april_csv, month=4, opening=None)
    # the clerk's grant covers only their own village
    assert error_codes(first_month) == ["FORBIDDEN"]


async def test_an_unpublished_month_is_replaced_whole(client, gql, demo):
    clerk = await gql.login(CLERK)
    await upload(client, clerk, demo.villages[0], "2026-03-utf8.csv")
    again = await upload(client, clerk, demo.villages[0], "2026-03.xlsx")
    assert again["data"]["importMonthlyAccount"]["errors"] == []
    account = await MonthlyAccount.get()
    assert account.version == 2 and account.source == "XLSX"
    assert await AccountLine.filter(account_id=account.id).count() == 4


async def test_only_the_villages_clerk_uploads_and_drafts_are_staff_only(client, gql, demo):
    for phone in (VILLAGER, SUPERVISOR, OFFICIAL):
        body = await upload(client, await gql.login(phone), demo.villages[0], "2026-03-utf8.csv")
        assert error_codes(body) == ["FORBIDDEN"], phone
    await upload(client, await gql.login(CLERK), demo.villages[0], "2026-03-utf8.csv")
    query = """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 3) { status } }"""
    v = to_global_id("Region", demo.villages[0].id)
    assert error_codes(await gql(query, {"v": v})) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(query, {"v": v}, token=await gql.login(VILLAGER))) == ["FORBIDDEN"]
    seen = await gql.data(query, {"v": v}, token=await gql.login(SUPERVISOR))
    assert seen["monthlyAccount"]["status"] == "DRAFT"


async def test_manual_entry_is_checked_like_an_upload(gql, demo):
    save = """mutation($input: SaveMonthlyAccountInput!) { saveMonthlyAccount(input: $input) {
      account { incomeFen expenseFen closingBalanceFen source } errors { code field line } } }"""
    data = {
        "villageId": to_global_id("Region", demo.villages[0].id),
        "year": 2023,
        "month": 12,
        "openingBalanceFen": 100,
        "lines": [
            {"date": "2023-12-01", "direction": "INCOME", "subjectCode": "522", "amountFen": 5000},
            {"date": "2023-12-02", "direction": "EXPENSE", "subjectCode": "541", "amountFen": 1000},
        ],
    }
    out = await gql.mutate("saveMonthlyAccount", save, data, token=await gql.login(CLERK))
    assert out["errors"] == [] and int(out["account"]["closingBalanceFen"]) == 4100  # 2004 chart
    data["lines"][1]["subjectCode"] = "513"  # a 2023 code: unknown before 2024
    out = await gql.mutate("saveMonthlyAccount", save, data, token=await gql.login(CLERK))
    assert out["errors"] == [{"code": "UNKNOWN_SUBJECT", "field": "subject", "line": 2}]


def test_amounts_parse_exactly_to_fen():
    assert parse_amount("1234.56") == 123456
    assert parse_amount("1,234.56") == 123456
    assert parse_amount("¥1234.56") == 123456
    assert parse_amount("1234.5元") == 123450
    assert parse_amount("0.1") == 10 and parse_amount(0.1) == 10 and parse_amount(1280.5) == 128050
    assert parse_amount("12.345") is None and parse_amount("1,23.4") is None
    assert parse_amount(0.105) is None  # not a whole fen
    assert str(parse_date("2026年3月5日")) == "2026-03-05" and parse_date("2026/13/1") is None


APPROVE = """mutation($input: ApproveMonthlyAccountInput!) { approveMonthlyAccount(input: $input) {
  account { status disclosureId } errors { code field } } }"""


async def test_approval_publishes_every_fen_into_the_chain(client, gql, demo):
    from tortoise import Tortoise

    from tests.test_media import uploaded

    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    receipt = (
        await uploaded(
            client,
            clerk,
            b"%PDF-1.4 receipt\n%%EOF\n",
            purpose="RECEIPT",
            filename="r.pdf",
            content_type="application/pdf",
        )
    )["media"]
    csv = (SAMPLES / "2026-03-utf8.csv").read_bytes()
    data = {
        "operations": json.dumps(
            {
                "query": IMPORT,
                "variables": {
                    "input": {
                        "villageId": to_global_id("Region", village.id),
                        "year": 2026,
                        "month": 3,
                        "file": None,
                        "openingBalanceFen": 500000,
                        "receipts": [{"line": 3, "mediaId": receipt["id"]}],
                    }
                },
            }
        ),
        "map": json.dumps({"0": ["variables.input.file"]}),
    }
    body = (
        await client.post(
            "/graphql",
            data=data,
            files={"0": ("m.csv", csv, "text/csv")},
            headers={"Authorization": f"Bearer {clerk}", "GraphQL-Preflight": "1"},
        )
    ).json()
    assert body["data"]["importMonthlyAccount"]["errors"] == []
    month = {"villageId": to_global_id("Region", village.id), "year": 2026, "month": 3}

    body = await gql(APPROVE, {"input": month}, token=clerk)
    assert error_codes(body) == ["FORBIDDEN"]  # the uploader cannot approve
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month, token=supervisor)
    assert out["errors"] == [] and out["account"]["status"] == "PUBLISHED"
    published = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { category period status attachments { sha256 } } }",
        {"id": out["account"]["disclosureId"]},
    )
    assert published["disclosure"]["category"] == "FINANCE"
    assert published["disclosure"]["period"] == "2026-03"
    assert [a["sha256"] for a in published["disclosure"]["attachments"]] == [receipt["sha256"]]
    public = await gql.data(
        "query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 3) { status } }",
        {"v": month["villageId"]},
    )
    assert public["monthlyAccount"]["status"] == "PUBLISHED"  # now readable by anyone

    verify = "query($v: ID!) { verifyLedger(villageId: $v) { ok length firstBrokenAt } }"
    assert (await gql.data(verify, {"v": month["villageId"]}))["verifyLedger"] == {
        "ok": True,
        "length": 1,
        "firstBrokenAt": None,
    }
    again = await upload(client, clerk, village, "2026-03-utf8.csv")
    assert again["data"]["importMonthlyAccount"]["errors"][0]["code"] == "ALREADY_PUBLISHED"
    # One fen changed behind the API's back is caught at that entry.
    await Tortoise.get_connection("default").execute_script(
        "UPDATE account_line SET amount_fen = amount_fen + 1 WHERE line_no = 4"
    )
    broken = (await gql.data(verify, {"v": month["villageId"]}))["verifyLedger"]
    assert broken == {"ok": False, "length": 1, "firstBrokenAt": 1}
