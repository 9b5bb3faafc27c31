"""Attacks on what issue 12 added (work lists, journal imports, risk-hit sentences and batch
decisions, confirmed problems, account lines as nodes, my flags and comments, flaggers who
stand by their flag, redaction of published receipts, the vendored GraphiQL and GET /), as a
hostile client, a curious admin and someone with database access. Each attempt is a test:
where it succeeded, the fix is in the domain layer and the test keeps it fixed."""

from __future__ import annotations

import json

import pytest

from models.finance import AccountLine, MonthlyAccount
from tests import test_attacks
from tests.client import error_codes
from tests.test_disclosures import CLERK, OFFICIAL
from tests.test_finance import line
from tests.test_import_layouts import HEADER, IMPORT, csv_bytes, xlsx
from tests.test_integrity import approved_month, gid, verdict
from tests.test_media import REDACT, uploaded
from tests.test_redaction import MONTH, photo, redact

others = test_attacks.others  # the same outsiders as the attack tests


async def month_receipts(gql, village) -> list:
    data = await gql.data(MONTH, {"v": gid("Region", village.id)})
    return [e["node"]["receipt"] for e in data["monthlyAccount"]["lines"]["edges"]]


# --- redaction ---


@pytest.fixture
async def public_receipt(client, gql, demo):
    """A published month of 东溪村 whose first line holds a photo receipt."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    receipt = await photo(client, clerk, (820, 620))
    await approved_month(gql, village, [line(3, 120, "东溪建材店", receipt["id"])])
    [shown] = await month_receipts(gql, village)
    assert shown["id"] == receipt["id"]
    return {"village": village, "receipt": shown}


async def test_another_villages_clerk_cannot_black_out_a_published_receipt_by_its_bytes(
    client, gql, demo, others, public_receipt
):
    """The public receipt, downloaded and uploaded again in another village, is the same
    file: redacting that upload must not replace (or hide) the first village's receipt."""
    village, receipt = public_receipt["village"], public_receipt["receipt"]
    before = await verdict(gql, village)
    data = (await client.get(receipt["url"])).content
    whole = {"x": 0, "y": 0, "w": 820, "h": 620}
    for phone, region in (
        (others["CLERK2"], None),
        (others["SUPERVISOR2"], None),
        (others["OFFICIAL2"], demo.townships[1]),
    ):
        token = await gql.login(phone)
        where = gid("Region", region.id) if region else None
        mine = (await uploaded(client, token, data, region_id=where))["media"]
        assert mine["sha256"] == receipt["sha256"]  # the same file, cleaned again
        body = await gql(
            REDACT,
            {"input": {"mediaId": mine["id"], "rectangles": [whole], "reason": "遮挡"}},
            token=token,
        )
        assert error_codes(body) == ["FORBIDDEN"], (phone, body)
        assert await month_receipts(gql, village) == [receipt], phone
        assert (await client.get(receipt["url"])).status_code == 200
    after = await verdict(gql, village)
    assert after["ok"] and after["length"] == before["length"]
    # The village's own staff, and the township covering both, still may.
    out = await redact(gql, await gql.login(OFFICIAL), receipt["id"])
    assert out["errors"] == [], out
    [shown] = await month_receipts(gql, village)
    assert shown["redacted"] and shown["id"] != receipt["id"]


# --- malformed journals: a clear code each, nothing stored, never an internal error ---

J = HEADER


def voucher(debit_code, debit, credit_code, credit, day="2026-03-02", no="记-1", summary="补助"):
    return [
        [day, no, summary, debit_code, "借", debit, ""],
        [day, no, summary, credit_code, "贷", "", credit],
    ]


BAD_JOURNALS = {
    "giant amount": [J, *voucher("102", "9" * 30, "503", "9" * 30)],
    "exponent": [J, *voucher("102", "1e308", "503", "1e308")],
    "infinity": [J, *voucher("102", "inf", "503", "inf")],
    "not a number": [J, *voucher("102", "NaN", "503", "NaN")],
    "negative both sides": [J, *voucher("102", "-100", "503", "-100")],
    "fractions of a fen": [J, *voucher("102", "100.001", "503", "100.001")],
    "formula cell": [J, *voucher("102", "=100", "503", "=100")],
    "date after the month": [J, *voucher("102", "100", "503", "100", day="2026-04-01")],
    "date before the month": [J, *voucher("102", "100", "503", "100", day="2026-02-28")],
    "impossible date": [J, *voucher("102", "100", "503", "100", day="2026-02-30")],
    "unknown subject": [J, *voucher("102", "100", "999", "100")],
    "only total rows": [J, ["", "", "本月合计", "", "", "100", "100"]],
    "a cell with a NUL": [J, *voucher("102", "100", "503", "100", summary="补\x00助")],
}


def raw_bytes(rows, encoding="gbk") -> bytes:
    return csv_bytes(rows, encoding)


async def import_body(client, token, village, data) -> dict:
    variables = {
        "input": {
            "villageId": gid("Region", village.id),
            "year": 2026,
            "month": 3,
            "file": None,
            "openingBalanceFen": 500_000,
        }
    }
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": IMPORT, "variables": variables}),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": ("month", data, "application/octet-stream")},
        headers={"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def assert_refused(body) -> None:
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body
    assert "errors" not in body, body
    payload = body["data"]["importMonthlyAccount"]
    assert payload["account"] is None, payload
    assert payload["errors"] and all(e["code"] and e["message"] for e in payload["errors"])
    assert await MonthlyAccount.all().count() == 0
    assert await AccountLine.all().count() == 0


@pytest.mark.parametrize("case", list(BAD_JOURNALS))
async def test_a_malformed_journal_is_refused_with_a_code(client, gql, demo, case):
    data = csv_bytes(BAD_JOURNALS[case])
    await assert_refused(await import_body(client, await gql.login(CLERK), demo.villages[0], data))


ODD_FILES = {
    "invalid GBK bytes": b"\xff\xfe\x81\x20\xfe\xff," * 50,
    "UTF-16": ("\r\n".join(",".join(r) for r in BAD_JOURNALS["giant amount"])).encode("utf-16"),
    "a GBK header cut in half": csv_bytes([J])[:-3] + b"\xb7",
    "binary junk": bytes(range(256)) * 40,
    "a zip that is not a workbook": b"PK\x03\x04" + b"\x00" * 200,
    "formulas without cached values (xlsx)": xlsx(
        [
            ["日期", "凭证号", "摘要", "科目编码", "科目名称", "借方金额", "贷方金额"],
            ["2026-03-02", "记-1", "补助", "102", "银行存款", "=50+50", None],
            ["2026-03-02", "记-1", "补助", "503", "补助收入", None, "=50+50"],
        ]
    ),
    "header only (xlsx)": xlsx(
        [["日期", "凭证号", "摘要", "科目编码", "科目名称", "借方", "贷方"]]
    ),
}


@pytest.mark.parametrize("case", list(ODD_FILES))
async def test_an_odd_file_is_refused_with_a_code(client, gql, demo, case):
    body = await import_body(client, await gql.login(CLERK), demo.villages[0], ODD_FILES[case])
    await assert_refused(body)


async def test_a_voucher_number_is_never_cut_short(client, gql, demo):
    """Cut to the column's 32 characters, two vouchers could read as one (and balance)."""
    rows = [J, *voucher("102", "100", "503", "100", no="记-" + "1" * 40)]
    body = await import_body(client, await gql.login(CLERK), demo.villages[0], csv_bytes(rows))
    await assert_refused(body)
    errors = body["data"]["importMonthlyAccount"]["errors"]
    assert [(e["code"], e["field"], e["line"]) for e in errors] == [
        ("TOO_LONG", "voucher", 2),
        ("TOO_LONG", "voucher", 3),
    ]
