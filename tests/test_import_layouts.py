"""Importing months as accounting software exports them (the debit/credit journal, GBK CSV
and XLSX), and import errors that say what was expected and found, through the API."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from openpyxl import Workbook
from tortoise import Tortoise

from api.relay import to_global_id
from models.finance import AccountLine, MonthlyAccount
from tests.client import error_codes
from tests.test_disclosures import CLERK, SUPERVISOR, VERIFY, draft, step
from tests.test_finance import APPROVE, DECIDE, RISKS, SAMPLES

IMPORT = """mutation($input: ImportMonthlyAccountInput!) { importMonthlyAccount(input: $input) {
  account { incomeFen expenseFen closingBalanceFen lineCount
    lines(first: 50) { edges { node {
      lineNo date direction subjectCode amountFen counterparty summary voucherNo } } } }
  errors { code field line message expected found } } }"""

HEADER = ["记账日期", "凭证字号", "摘要", "科目编码", "科目名称", "借方", "贷方"]
# A month's journal as a rural collective accounting package exports it: whole vouchers
# (each with its cash or bank side), date and voucher number only on a voucher's first row
# in some, sub-account codes, thousands separators, ¥, blanks for zero, totals at the end.
JOURNAL = [
    HEADER,
    ["2026年3月2日", "记-1", "收到镇财政道路补助", "10201", "银行存款-农商行", "30,000.00", ""],
    ["", "", "收到镇财政道路补助", "503", "补助收入", "", "30,000.00"],
    ["2026年3月5日", "记-2", "购办公用品", "51301", "管理费用-办公费", "￥1280.50", ""],
    ["", "", "购办公用品", "101", "库存现金", "", "￥1280.50"],
    ["2026年3月12日", "记-3", "环境整治劳务费", "514", "公益支出", "8,600.00", ""],
    ["2026年3月12日", "记-3", "环境整治劳务费", "102", "银行存款", "", "8,600.00"],
    ["2026年3月15日", "记-4", "提取备用金", "101", "库存现金", "2,000.00", ""],
    ["2026年3月15日", "记-4", "提取备用金", "102", "银行存款", "", "2,000.00"],
    ["2026年3月20日", "记-5", "计提保洁员工资", "513", "管理费用", "500", ""],
    ["2026年3月20日", "记-5", "计提保洁员工资", "212", "应付工资", "", "500"],
    ["2026年3月20日", "记-6", "鱼塘承包费", "102", "银行存款", "1200.5", ""],
    ["2026年3月20日", "记-6", "鱼塘承包费", "501", "经营收入", "", "1200.5"],
    ["", "", "本月合计", "", "", "43,581.00", "43,581.00"],
    ["", "", "本年累计", "", "", "98,000.00", "98,000.00"],
]
# What the month is, from the village's money: the cash and bank side of each voucher.
EXPECTED = [
    (3, "2026-03-02", "INCOME", "503", 3_000_000, "收到镇财政道路补助", "记-1"),
    (4, "2026-03-05", "EXPENSE", "513", 128_050, "购办公用品", "记-2"),
    (6, "2026-03-12", "EXPENSE", "514", 860_000, "环境整治劳务费", "记-3"),
    (13, "2026-03-20", "INCOME", "501", 120_050, "鱼塘承包费", "记-6"),
]


def csv_bytes(rows, encoding="gbk") -> bytes:
    text = "\r\n".join(",".join(f'"{c}"' if "," in c else c for c in row) for row in rows)
    return (text + "\r\n").encode(encoding)


def journal_xlsx() -> bytes:
    """The same journal as an XLSX export: real date and number cells, numeric vouchers, and
    a title and the unit's name above the header."""
    book = Workbook()
    sheet = book.active
    sheet.append(["序时账"])
    sheet.append(["单位：东溪村股份经济合作社", None, None, None, None, "2026年3月"])
    sheet.append(["日期", "凭证号", "摘要", "科目编码", "科目名称", "借方金额", "贷方金额"])
    for row in JOURNAL[1:]:
        day = None
        if row[0]:
            d = row[0].replace("年", "-").replace("月", "-").replace("日", "").split("-")
            day = date(int(d[0]), int(d[1]), int(d[2]))
        voucher = int(row[1].split("-")[1]) if row[1] else None

        def number(text):
            text = text.replace(",", "").replace("￥", "")
            return float(text) if text else None

        code = int(row[3]) if row[3] else None
        sheet.append([day, voucher, row[2], code, row[4], number(row[5]), number(row[6])])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(client, token, village, data, *, lang=None, reason=None, opening=500_000):
    variables = {
        "input": {
            "villageId": to_global_id("Region", village.id),
            "year": 2026,
            "month": 3,
            "file": None,
            "openingBalanceFen": opening,
        }
    }
    if reason:
        variables["input"]["reason"] = reason
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
    return response.json()["data"]["importMonthlyAccount"]


def seen(account) -> list[tuple]:
    return [
        (
            n["lineNo"],
            n["date"],
            n["direction"],
            n["subjectCode"],
            int(n["amountFen"]),
            n["summary"],
            n["voucherNo"],
        )
        for n in (e["node"] for e in account["lines"]["edges"])
    ]


# --- the debit/credit journal -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gbk", "utf-8-sig", "xlsx"])
async def test_a_journal_export_becomes_the_months_income_and_expense(client, gql, demo, kind):
    data = journal_xlsx() if kind == "xlsx" else csv_bytes(JOURNAL, kind)
    payload = await upload(client, await gql.login(CLERK), demo.villages[0], data)
    assert payload["errors"] == [], payload
    account = payload["account"]
    expected = EXPECTED
    if kind == "xlsx":  # two title rows above; the voucher cells are numbers there
        expected = [(e[0] + 2, *e[1:6], e[6].split("-")[1]) for e in EXPECTED]
    assert seen(account) == expected
    assert int(account["incomeFen"]) == 3_120_050 and int(account["expenseFen"]) == 988_050
    assert int(account["closingBalanceFen"]) == 500_000 + 3_120_050 - 988_050


async def test_the_plain_layout_has_no_voucher_numbers(client, gql, demo):
    data = (SAMPLES / "2026-03-gbk.csv").read_bytes()
    payload = await upload(client, await gql.login(CLERK), demo.villages[0], data)
    assert {line[6] for line in seen(payload["account"])} == {""}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (  # a cut-off export: the voucher's other side is missing
            [HEADER, ["2026-03-02", "记-1", "补助", "102", "银行存款", "100", ""]]
            + [["2026-03-02", "记-1", "补助", "503", "补助收入", "", "90"]],
            [("UNBALANCED_VOUCHER", "voucher", 2)],
        ),
        (
            [HEADER, ["2026-03-02", "记-1", "补助", "102", "银行存款", "100", "100"]],
            [("DEBIT_AND_CREDIT", "credit", 2)],
        ),
        (  # income and expense sides only: which money moved cannot be told
            [HEADER, ["2026-03-02", "记-1", "补助", "503", "补助收入", "", "100"]]
            + [["2026-03-02", "记-1", "补助", "513", "管理费用", "100", ""]],
            [("NO_CASH_SIDE", "subject", 1)],
        ),
        (
            [HEADER, ["2026-03-02", "记-1", "补助", "102", "银行存款", "1O0", ""]]
            + [["2026-03-02", "记-1", "补助", "503", "补助收入", "", "-100"]],
            [("INVALID_AMOUNT", "debit", 2), ("NON_POSITIVE_AMOUNT", "credit", 3)],
        ),
        (
            [["日期", "凭证号", "摘要", "科目编码", "借方金额"]]
            + [["2026-03-02", "记-1", "补助", "102", "100"]],
            [("MISSING_COLUMN", "credit", 1)],
        ),
    ],
)
async def test_a_broken_journal_is_refused_with_its_lines(client, gql, demo, rows, expected):
    payload = await upload(client, await gql.login(CLERK), demo.villages[0], csv_bytes(rows))
    assert payload["account"] is None
    assert sorted((e["code"], e["field"], e["line"]) for e in payload["errors"]) == expected
    assert all(e["message"] for e in payload["errors"])
    assert await MonthlyAccount.all().count() == 0


async def test_voucher_numbers_are_published_and_chained(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    assert (await upload(client, clerk, village, csv_bytes(JOURNAL)))["errors"] == []
    month = {"villageId": to_global_id("Region", village.id), "year": 2026, "month": 3}
    for hit in (await gql.data(RISKS, {"v": month["villageId"]}, token=supervisor))[
        "monthlyAccount"
    ]["riskHits"]:
        out = await gql.mutate(
            "decideRiskHit",
            DECIDE,
            {"id": hit["id"], "confirmed": False, "note": "按合同结算"},
            token=supervisor,
        )
        assert out["errors"] == []
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month, token=supervisor)
    assert out["errors"] == [], out
    public = await gql.data(
        """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 3) {
          lines { edges { node { lineNo voucherNo } } } } }""",
        {"v": month["villageId"]},
    )
    assert [e["node"]["voucherNo"] for e in public["monthlyAccount"]["lines"]["edges"]] == [
        "记-1",
        "记-2",
        "记-3",
        "记-6",
    ]
    verify = {"v": month["villageId"], "head": None}
    assert (await gql.data(VERIFY, verify))["verifyLedger"]["ok"] is True
    db = Tortoise.get_connection("default")
    for tampered in ("记-9", ""):  # changed, or blanked
        await db.execute_script(
            f"UPDATE account_line SET voucher_no = '{tampered}' WHERE line_no = 3"
        )
        broken = (await gql.data(VERIFY, verify))["verifyLedger"]
        assert (broken["ok"], broken["firstBrokenAt"]) == (False, 1)
    await db.execute_script("UPDATE account_line SET voucher_no = '记-1' WHERE line_no = 3")
    assert (await gql.data(VERIFY, verify))["verifyLedger"]["ok"] is True


async def test_the_import_script_takes_a_journal_export(app, demo, tmp_path):
    from scripts.import_accounts import import_folder

    (tmp_path / "2026-03.csv").write_bytes(csv_bytes(JOURNAL))
    (tmp_path / "2026-04.xlsx").write_bytes(
        xlsx(
            [
                ["日期", "凭证号", "摘要", "科目编码", "科目名称", "借方发生额", "贷方发生额"]
                + ["往来单位"],
                [
                    date(2026, 4, 3),
                    "记-1",
                    "村部电费",
                    "513",
                    "管理费用",
                    356.2,
                    None,
                    "县供电公司",
                ],
                [date(2026, 4, 3), "记-1", "村部电费", "102", "银行存款", None, 356.2, None],
                [None, None, "合计", None, None, 356.2, 356.2, None],
            ]
        )
    )
    report = await import_folder(tmp_path, demo.villages[0].code, CLERK, 500_000)
    assert report[0].startswith("2026-03 ok: 4 lines"), report
    assert report[1].startswith("2026-04 ok: 1 lines"), report
    [line] = await AccountLine.filter(voucher_no="记-1", date=date(2026, 4, 3))
    assert (line.direction, line.subject_code, line.amount_fen, line.counterparty) == (
        "EXPENSE",
        "513",
        35_620,
        "县供电公司",
    )


# --- errors that say what was expected and found --------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
async def test_a_missing_column_is_named_with_the_headers_found(client, gql, demo, encoding):
    text = (SAMPLES / "broken-columns.csv").read_text(encoding="utf-8")
    data = text.replace("¥", "￥").encode(encoding)  # GBK has the full-width sign only
    clerk = await gql.login(CLERK)
    [error] = (await upload(client, clerk, demo.villages[0], data))["errors"]
    assert (error["code"], error["field"], error["line"]) == ("MISSING_COLUMN", "amount", 1)
    assert error["expected"][0] == "金额" and "amount" in error["expected"]
    assert error["found"] == ["日期", "收支", "科目代码", "数目", "对方单位", "摘要"]
    assert "“金额”" in error["message"] and "数目" in error["message"]
    [english] = (await upload(client, clerk, demo.villages[0], data, lang="en"))["errors"]
    assert english["message"].startswith("The column “金额” is missing")
    assert "the file has: 日期、收支、科目代码、数目" in english["message"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xef\xbb\xbf",
        b"  \r\n\t\n   ",
        "日期,收支,科目代码,金额,对方单位,摘要\r\n".encode(),
        "日期,收支,科目代码,金额,对方单位,摘要\r\n,,,,,\r\n".encode("gbk"),
        "\ufeff记账日期,凭证号,摘要,科目编码,科目名称,借方,贷方\n,,本月合计,,,0,0\n".encode(),
        "xlsx-header",
        "xlsx-nothing",
    ],
)
async def test_an_empty_file_is_called_empty(client, gql, demo, data):
    if data == "xlsx-header":
        data = xlsx([["日期", "收支", "科目代码", "金额"]])
    elif data == "xlsx-nothing":
        data = xlsx([])
    clerk = await gql.login(CLERK)
    payload = await upload(client, clerk, demo.villages[0], data)
    assert [(e["code"], e["line"]) for e in payload["errors"]] == [("EMPTY_FILE", 1)]
    assert "空" in payload["errors"][0]["message"]
    english = await upload(client, clerk, demo.villages[0], data, lang="en")
    assert english["errors"][0]["message"].startswith("The file is empty")
    assert await MonthlyAccount.all().count() == 0


async def test_a_published_month_says_how_to_correct_it(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    data = csv_bytes(JOURNAL)
    assert (await upload(client, clerk, village, data))["errors"] == []
    month = {"villageId": to_global_id("Region", village.id), "year": 2026, "month": 3}
    for hit in (await gql.data(RISKS, {"v": month["villageId"]}, token=supervisor))[
        "monthlyAccount"
    ]["riskHits"]:
        await gql.mutate(
            "decideRiskHit",
            DECIDE,
            {"id": hit["id"], "confirmed": False, "note": "已核"},
            token=supervisor,
        )
    assert (await gql.mutate("approveMonthlyAccount", APPROVE, month, token=supervisor))[
        "errors"
    ] == []
    [again] = (await upload(client, clerk, village, data, opening=None))["errors"]
    assert again["code"] == "ALREADY_PUBLISHED"
    assert "importMonthlyAccount" in again["message"] and "reason" in again["message"]
    [english] = (await upload(client, clerk, village, data, opening=None, lang="en"))["errors"]
    assert "with a reason" in english["message"]
    twice = await gql.mutate("approveMonthlyAccount", APPROVE, month, token=supervisor)
    assert twice["errors"] == [{"code": "ALREADY_PUBLISHED", "field": "month"}]


async def test_a_disclosure_refused_by_its_status_says_what_to_do_instead(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    update = """mutation($input: UpdateDisclosureInput!) { updateDisclosure(input: $input) {
      errors { code field message } } }"""
    d = await draft(gql, clerk, village)
    assert (await step(gql, "SubmitDisclosure", clerk, id=d["id"]))["errors"] == []

    async def refusal(lang=None):
        body = await gql(update, {"input": {"id": d["id"], "title": "改"}}, token=clerk, lang=lang)
        [error] = body["data"]["updateDisclosure"]["errors"]
        assert (error["code"], error["field"]) == ("WRONG_STATUS", "id")
        return error["message"]

    assert "withdrawDisclosure" in await refusal() and "等待" in await refusal()
    assert (await refusal("en")).startswith("Waiting for review: wait for the supervisor")
    assert (await step(gql, "PublishDisclosure", clerk, id=d["id"]))["errors"] == []
    assert "correctDisclosure" in await refusal()
    assert "correction with a reason" in await refusal("en")
    approve = await gql(
        STEP_MESSAGE % ("ApproveDisclosure", "approveDisclosure"),
        {"input": {"id": d["id"]}},
        token=supervisor,
    )
    [error] = approve["data"]["approveDisclosure"]["errors"]
    assert error["code"] == "WRONG_STATUS" and "correctDisclosure" in error["message"]
    assert error_codes(approve) == []


STEP_MESSAGE = """mutation($input: %sInput!) { %s(input: $input) {
  errors { code field message } } }"""
