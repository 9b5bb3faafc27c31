"""Attacks on what issue 12 added (work lists, journal imports, risk-hit sentences and batch
decisions, confirmed problems, account lines as nodes, my flags and comments, flaggers who
stand by their flag, redaction of published receipts, the vendored GraphiQL and GET /), as a
hostile client, a curious admin and someone with database access. Each attempt is a test:
where it succeeded, the fix is in the domain layer and the test keeps it fixed."""

from __future__ import annotations

import json

import pytest

from models.finance import AccountLine, MonthlyAccount
from models.flags import Flag
from tests import test_attacks
from tests.client import error_codes
from tests.test_disclosures import CLERK, OFFICIAL, SUPERVISOR, VILLAGER
from tests.test_finance import APPROVE, SAVE, line, receipt, save_month
from tests.test_flags import FLAG_ISSUE
from tests.test_import_layouts import HEADER, IMPORT, csv_bytes, xlsx
from tests.test_integrity import approved_month, gid, verdict
from tests.test_media import REDACT, uploaded
from tests.test_redaction import MONTH, photo, redact
from tests.test_risk_lines import (
    HITS,
    NODE,
    QUEUE,
    decide_all,
    lines_of,
    month_input,
    published_month,
)
from tests.test_risk_lines import hits as risk_hits
from tests.test_worklist import QUEUE as WORK_QUEUE
from tests.test_worklist import WORK as MY_WORK

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


# --- drafts: never shown through a published line, a hit's sentence or a work list ---


async def test_a_confirmed_problem_does_not_reveal_a_later_draft_month(client, gql, demo):
    """A receipt reused in June's draft must not make May's public problem name June: the
    rule speaks of months before this one, and June's own hit names May."""
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = await receipt(client, clerk, 0)
    may = [line(3, 120, "甲", r)]
    await save_month(gql, clerk, village, may)
    await save_month(gql, clerk, village, [line(4, 50, "乙", r, month=6)], month=6)
    await save_month(gql, clerk, village, may)  # May again: its rules run with June present
    await decide_all(gql, supervisor, village, confirmed=True, note="同一凭证重复入账")
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == [], out
    public = await lines_of(gql, village)
    assert "2026-06" not in json.dumps(public, ensure_ascii=False)
    flags = await Flag.all().values_list("body", flat=True)
    assert not any("2026-06" in body for body in flags)
    # June's own hit still names May, for the supervisors.
    [june] = await risk_hits(gql, village, supervisor, month=6)
    assert june["message"] == "第1行的凭证图片已在2026-05的账目中使用过"


async def test_a_published_months_lines_answer_as_they_were_after_a_correction(gql, demo):
    """A correction being prepared is not shown through the published lines' ids, and the
    published lines, their flags and problems stay readable as they were."""
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await published_month(gql, village, [line(3, 120, "甲"), line(4, 80, "乙")])
    old = await lines_of(gql, village)
    villager = await gql.login(VILLAGER)
    flag = await gql.mutate(
        "flagIssue",
        FLAG_ISSUE,
        {"targetId": old[0]["id"], "reasonCode": "AMOUNT_QUESTIONED", "body": "这笔钱付给谁了？"},
        token=villager,
    )
    assert flag["errors"] == [], flag
    fix = [line(3, 999, "甲改"), line(4, 80, "乙")]
    data = {
        **month_input(village),
        "openingBalanceFen": 10_000_000,
        "lines": fix,
        "reason": "金额录错",
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    # the public: the month and the old ids as published, the new lines nowhere
    assert await lines_of(gql, village) == old
    staged = await AccountLine.filter(version=2).values_list("id", flat=True)
    for pk in staged:
        for token in (None, villager):
            body = await gql(NODE, {"id": gid("AccountLine", pk)}, token=token)
            assert body["data"]["node"] is None and error_codes(body) == ["NOT_FOUND"]
    node = (await gql.data(NODE, {"id": old[0]["id"]}))["node"]
    assert node["amountFen"] == old[0]["amountFen"] and node["flagCounts"]["total"] == 1
    # the flag is in the township's queue whatever happens to the month
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == [], out
    official = await gql.login(OFFICIAL)
    queue = await gql.data(QUEUE, {"r": gid("Region", demo.townships[0].id)}, token=official)
    ids = [e["node"]["id"] for e in queue["flags"]["edges"]]
    assert flag["flag"]["id"] in ids
    node = (await gql.data(NODE, {"id": old[0]["id"]}))["node"]
    assert node["version"] == 1 and node["flagCounts"]["total"] == 1


async def test_work_lists_and_hits_stay_with_the_villages_staff(gql, demo, others):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(3, 1200, "张三"), line(4, 1200, "张三")])
    v = gid("Region", village.id)
    for phone in (
        VILLAGER,
        others["VILLAGER2"],
        others["CLERK2"],
        others["SUPERVISOR2"],
        others["OFFICIAL2"],
        others["TOWNADMIN2"],
    ):
        token = await gql.login(phone)
        assert error_codes(await gql(WORK_QUEUE, {"v": v}, token=token)) == ["FORBIDDEN"], phone
        body = await gql(MY_WORK, {"v": v}, token=token)
        assert error_codes(body) == ["FORBIDDEN"], phone
        body = await gql(HITS, {"v": v, "m": 5}, token=token)
        assert error_codes(body) == ["NOT_FOUND"], phone  # a draft month: as if missing
        missing = await gql(HITS, {"v": v, "m": 7}, token=token)
        assert error_codes(missing) == ["NOT_FOUND"], phone
    for query in (WORK_QUEUE, MY_WORK):
        assert error_codes(await gql(query, {"v": v})) in (["UNAUTHENTICATED"], ["FORBIDDEN"])
    # A township's or another kind's id is not a village's list.
    for bad in (gid("Region", demo.townships[0].id), gid("Flag", 1), "garbage"):
        body = await gql(WORK_QUEUE, {"v": bad}, token=await gql.login(SUPERVISOR))
        codes = error_codes(body) or [
            e["code"] for e in (body["data"]["reviewQueue"] or {}).get("errors", [])
        ]
        assert "INTERNAL_SERVER_ERROR" not in codes, body
