"""Monthly accounts through the API: every sample in every encoding and format, each broken
sample's exact errors with nothing stored, and continuity across months."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.relay import from_global_id, to_global_id
from models.disclosures import Disclosure
from models.finance import AccountLine, MonthlyAccount
from models.finance.parsing import parse_amount, parse_date
from tests import media_files
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


RISKS = """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 3) {
  riskHits { id lineNo rule status detail } } }"""
DECIDE = (
    """mutation($input: DecideRiskHitInput!) { decideRiskHit(input: $input) { errors { code } } }"""
)
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
            media_files.pdf(),
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
    blocked = await gql.mutate("approveMonthlyAccount", APPROVE, month, token=supervisor)
    assert blocked["errors"] == [{"code": "RISK_HITS_OPEN", "field": "month"}]
    hits = await gql.data(RISKS, {"v": month["villageId"]}, token=supervisor)
    [hit] = hits["monthlyAccount"]["riskHits"]
    assert (hit["lineNo"], hit["rule"]) == (4, "NO_RECEIPT_ABOVE_THRESHOLD")
    decided = await gql.mutate(
        "decideRiskHit",
        DECIDE,
        {"id": hit["id"], "confirmed": False, "note": "保洁队劳务费按月结算，合同已存档"},
        token=supervisor,
    )
    assert decided["errors"] == []
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

    # The month answers both 各项收入 (FIN-2) and 各项支出 (FIN-3) in the compliance view.
    report = await gql.data(
        """query($v: ID!) { disclosureCompliance(regionId: $v, period: "2026-03") {
          edges { node { items { item { code } status disclosureId } } } } }""",
        {"v": month["villageId"]},
    )
    items = {
        i["item"]["code"]: i for i in report["disclosureCompliance"]["edges"][0]["node"]["items"]
    }
    for code in ("FIN-2", "FIN-3"):
        assert items[code]["status"] in ("ON_TIME", "LATE")
        assert items[code]["disclosureId"] == out["account"]["disclosureId"]
    # …and in the public league table: published before 10 April, both count as on time.
    disclosure_pk = int(from_global_id(out["account"]["disclosureId"])[1])
    really = (await Disclosure.get(id=disclosure_pk)).first_published_at
    await Disclosure.filter(id=disclosure_pk).update(
        first_published_at=datetime(2026, 4, 5, tzinfo=UTC)
    )
    league = await gql.data(
        """query($v: ID!) { supervisionStats(regionId: $v, from: "2026-04-01",
          to: "2026-05-01", level: VILLAGE) { edges { node { disclosuresDue
          disclosuresOnTime } } } }""",
        {"v": month["villageId"]},
    )
    [node] = [e["node"] for e in league["supervisionStats"]["edges"]]
    assert node["disclosuresOnTime"] == 2  # FIN-2 and FIN-3, of the items due in April
    assert node["disclosuresDue"] > 2

    verify = "query($v: ID!) { verifyLedger(villageId: $v) { ok length firstBrokenAt } }"
    # That date was set behind the API's back: the chain notices; put it back.
    assert (await gql.data(verify, {"v": month["villageId"]}))["verifyLedger"]["ok"] is False
    await Disclosure.filter(id=disclosure_pk).update(first_published_at=really)
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


SAVE = """mutation($input: SaveMonthlyAccountInput!) { saveMonthlyAccount(input: $input) {
  account { riskHits { lineNo rule status } } errors { code field line } } }"""


async def receipt(client, token, n: int) -> str:
    from tests.test_media import uploaded

    pdf = media_files.pdf(n)
    media = await uploaded(
        client, token, pdf, purpose="RECEIPT", filename="r.pdf", content_type="application/pdf"
    )
    return media["media"]["id"]


def line(day, amount_yuan, payee, receipt_id=None, direction="EXPENSE", subject="513", month=5):
    item = {
        "date": f"2026-{month:02d}-{day:02d}",
        "direction": direction,
        "subjectCode": subject,
        "amountFen": int(amount_yuan * 100),
        "counterparty": payee,
        "summary": "测试",
    }
    if receipt_id:
        item["receiptId"] = receipt_id
    return item


async def save_month(gql, token, village, lines, month=5):
    opening = 10_000_000 if month == 5 else None  # later months follow on from May
    data = {
        "villageId": to_global_id("Region", village.id),
        "year": 2026,
        "month": month,
        "lines": lines,
    }
    if opening is not None:
        data["openingBalanceFen"] = opening
    out = await gql.mutate("saveMonthlyAccount", SAVE, data, token=token)
    assert out["errors"] == [], out
    return out


async def hits_for(gql, village, token, month=5):
    query = """query($v: ID!, $m: Int!) { monthlyAccount(villageId: $v, year: 2026, month: $m) {
      riskHits { lineNo rule } } }"""
    data = await gql.data(query, {"v": to_global_id("Region", village.id), "m": month}, token=token)
    return sorted((h["lineNo"], h["rule"]) for h in data["monthlyAccount"]["riskHits"])


async def test_each_risk_rule_fires_on_its_fixture_and_a_clean_month_is_quiet(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = [await receipt(client, clerk, n) for n in range(6)]
    clean = [
        line(3, 120, "东溪文具店", r[0]),
        line(8, 6000, "村卫生保洁队", r[1]),
        line(9, 300, "柳塘合作社", direction="INCOME", subject="501"),
    ]
    await save_month(gql, clerk, village, clean)
    assert await hits_for(gql, village, supervisor) == []
    cases = {
        "DUPLICATE_RECEIPT": [line(3, 120, "甲", r[2]), line(4, 130, "乙", r[2])],
        "DUPLICATE_PAYMENT": [line(3, 480, "丙商店", r[3]), line(20, 480, "丙商店", r[4])],
        "NO_RECEIPT_ABOVE_THRESHOLD": [line(5, 5200, "丁工程队")],
        "SPLIT_PAYMENTS": [line(6, 9500, "戊建材", r[3]), line(7, 9800, "戊建材", r[4])],
        "PAYEE_IS_OFFICER": [line(9, 300, "刘芳", r[5])],
    }
    expected_lines = {
        "DUPLICATE_RECEIPT": [1, 2],
        "DUPLICATE_PAYMENT": [1, 2],
        "NO_RECEIPT_ABOVE_THRESHOLD": [1],
        "SPLIT_PAYMENTS": [1, 2],
        "PAYEE_IS_OFFICER": [1],
    }
    for rule, lines in cases.items():
        await save_month(gql, clerk, village, lines)
        assert await hits_for(gql, village, supervisor) == [
            (n, rule) for n in expected_lines[rule]
        ], rule
    # June reuses a receipt of May's (the last case's).
    await save_month(gql, clerk, village, [line(3, 120, "甲", r[5], month=6)], month=6)
    assert await hits_for(gql, village, supervisor, month=6) == [(1, "DUPLICATE_RECEIPT")]


async def test_risk_notes_are_for_supervisors_and_officials_only(client, gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(5, 5200, "丁工程队")])
    query = """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) { riskHits { rule } } }"""
    v = to_global_id("Region", village.id)
    for phone, visible in [(SUPERVISOR, True), (OFFICIAL, True), (CLERK, False)]:
        data = await gql.data(query, {"v": v}, token=await gql.login(phone))
        assert (data["monthlyAccount"]["riskHits"] is not None) is visible, phone
    hit_id = (
        await gql.data(
            """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) {
      riskHits { id } } }""",
            {"v": v},
            token=await gql.login(SUPERVISOR),
        )
    )["monthlyAccount"]["riskHits"][0]["id"]
    for phone in (CLERK, VILLAGER):
        body = await gql(
            DECIDE,
            {"input": {"id": hit_id, "confirmed": True, "note": "说明"}},
            token=await gql.login(phone),
        )
        assert error_codes(body) == ["FORBIDDEN"], phone


async def test_summary_totals_equal_the_sum_of_published_lines(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = [await receipt(client, clerk, n) for n in range(2)]
    may = [
        line(3, 120.5, "东溪文具店", r[0]),
        line(8, 6000, "村卫生保洁队", r[1]),
        line(9, 300, "柳塘合作社", direction="INCOME", subject="501"),
        line(10, 30000, "镇财政所", direction="INCOME", subject="503"),
    ]
    await save_month(gql, clerk, village, may)
    v = to_global_id("Region", village.id)
    summary_q = """query($r: ID!) { financeSummary(regionId: $r, year: 2026) {
      incomeFen expenseFen monthsPublished byMonth { month incomeFen expenseFen }
      bySubject { code name direction amountFen } } }"""
    before = (await gql.data(summary_q, {"r": v}))["financeSummary"]
    assert before["monthsPublished"] == 0 and before["incomeFen"] == 0  # drafts do not count
    out = await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    assert out["errors"] == []
    for region in (village, demo.townships[0], demo.county):
        summary = (await gql.data(summary_q, {"r": to_global_id("Region", region.id)}))[
            "financeSummary"
        ]
        assert int(summary["incomeFen"]) == 30_000 + 3_000_000
        assert int(summary["expenseFen"]) == 12_050 + 600_000
        may_row = summary["byMonth"][4]
        assert (may_row["month"], int(may_row["incomeFen"]), int(may_row["expenseFen"])) == (
            5,
            3_030_000,
            612_050,
        )
        subjects = {
            (s["code"], s["direction"]): (s["name"], int(s["amountFen"]))
            for s in summary["bySubject"]
        }
        assert subjects == {
            ("501", "INCOME"): ("经营收入", 30_000),
            ("503", "INCOME"): ("补助收入", 3_000_000),
            ("513", "EXPENSE"): ("管理费用", 612_050),
        }
    other = (await gql.data(summary_q, {"r": to_global_id("Region", demo.townships[1].id)}))[
        "financeSummary"
    ]
    assert other["incomeFen"] == 0


async def test_a_folder_of_months_is_imported_in_order_and_stops_at_a_bad_one(app, demo, tmp_path):
    from scripts.import_accounts import import_folder

    march = (SAMPLES / "2026-03-utf8.csv").read_text(encoding="utf-8")
    april = (
        march.replace("2026-03-", "2026-04-")
        .replace("2026/3/", "2026/4/")
        .replace("2026年3月", "2026年4月")
    )
    (tmp_path / "2026-04.csv").write_text(april, encoding="utf-8")
    (tmp_path / "2026-03.csv").write_bytes((SAMPLES / "2026-03-gbk.csv").read_bytes())
    (tmp_path / "2026-05.csv").write_text(april, encoding="utf-8")  # April's dates: refused
    (tmp_path / "notes.txt").write_text("ignored")
    report = await import_folder(tmp_path, demo.villages[0].code, "13800000004", 500_000)
    assert report[0].startswith("2026-03 ok: 4 lines") and report[1].startswith("2026-04 ok")
    assert report[2].startswith("2026-05 FAILED") and "not in 2026-05" in report[2]
    accounts = await MonthlyAccount.all().order_by("month")
    assert [a.month for a in accounts] == [3, 4]
    assert accounts[1].opening_balance_fen == accounts[0].closing_balance_fen


async def test_a_published_month_renders_a_shareable_picture_in_chinese(
    client, gql, demo, monkeypatch
):
    import io as _io

    from PIL import Image, ImageChops, ImageDraw, ImageFont

    from models.finance import image

    # a bare machine (no system font): the font that comes with the package draws Chinese
    monkeypatch.setattr(image, "FONT_CANDIDATES", (image.BUNDLED_FONT,))
    font = image.find_font()
    assert font == image.BUNDLED_FONT
    assert image.has_glyphs(font, "东溪村财务收支公开月初余额补助收入按科目（元）哈希链·")
    assert not image.has_glyphs(font, "\U0002a6a5")  # outside the subset: its box, and told so
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = [await receipt(client, clerk, n) for n in range(2)]
    await save_month(
        gql,
        clerk,
        village,
        [
            line(3, 120.5, "东溪文具店", r[0]),
            line(8, 6000, "村卫生保洁队", r[1]),
            line(10, 30000, "镇财政所", direction="INCOME", subject="503"),
        ],
    )
    v = to_global_id("Region", village.id)
    query = "query($v: ID!) { financeSummaryImage(villageId: $v, year: 2026, month: 5) }"
    assert error_codes(await gql(query, {"v": v})) == ["BAD_USER_INPUT"]  # not published yet
    await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    url = (await gql.data(query, {"v": v}))["financeSummaryImage"]
    assert url == (await gql.data(query, {"v": v}))["financeSummaryImage"]  # cached by content
    response = await client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers["cache-control"]
    picture = Image.open(_io.BytesIO(response.content)).convert("L")
    assert picture.width == 1080
    title = picture.crop((60, 50, 400, 120))  # the village name, drawn in the CJK font
    assert title.getextrema()[0] < 80  # dark strokes on white: something was drawn

    def drawn(text: str) -> Image.Image:  # as render() draws it
        canvas = Image.new("RGB", (340, 70), image.PAPER)
        ImageDraw.Draw(canvas).text((0, 0), text, font=ImageFont.truetype(font, 56), fill=image.INK)
        return canvas.convert("L")

    def differing(a: Image.Image, b: Image.Image) -> int:
        return sum(ImageChops.difference(a, b).point(lambda p: p > 64 and 255).histogram()[255:])

    # the very glyphs of the village's name, not missing-glyph boxes
    tofu = drawn("\U0010fffd" * len(village.name))
    assert differing(title, drawn(village.name)) == 0 < differing(title, tofu)
    monkeypatch.setattr(image, "FONT_CANDIDATES", ())
    (await client.get(url))  # already rendered: still served
    assert error_codes(await gql(query.replace("month: 5", "month: 4"), {"v": v})) == ["NOT_FOUND"]


async def test_a_published_month_is_corrected_through_review_and_the_chain(client, gql, demo):
    from tortoise import Tortoise

    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = [await receipt(client, clerk, n) for n in range(3)]
    v = to_global_id("Region", village.id)
    first = [line(3, 120, "东溪文具店", r[0]), line(8, 6000, "村卫生保洁队", r[1])]
    await save_month(gql, clerk, village, first)
    await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    fixed = [line(3, 120, "东溪文具店", r[0]), line(8, 5800, "村卫生保洁队", r[1])]
    data = {"villageId": v, "year": 2026, "month": 5, "lines": fixed}
    refused = await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk)
    assert refused["errors"] == [{"code": "ALREADY_PUBLISHED", "field": "month", "line": None}]
    staged = await gql.mutate(
        "saveMonthlyAccount", SAVE, {**data, "reason": "保洁费多记200元"}, token=clerk
    )
    assert staged["errors"] == []
    totals = """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) {
      status expenseFen correctionReason disclosureId } }"""
    public = (await gql.data(totals, {"v": v}))["monthlyAccount"]
    assert (public["status"], int(public["expenseFen"]), public["correctionReason"]) == (
        "PUBLISHED",
        612_000,
        None,
    )  # the public still sees what was approved
    staff = (await gql.data(totals, {"v": v}, token=supervisor))["monthlyAccount"]
    assert (staff["status"], int(staff["expenseFen"]), staff["correctionReason"]) == (
        "DRAFT",
        592_000,
        "保洁费多记200元",
    )
    out = await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    assert out["errors"] == []
    versions = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { version versions { version reason } } }",
        {"id": public["disclosureId"]},
    )
    assert versions["disclosure"]["versions"] == [
        {"version": 1, "reason": None},
        {"version": 2, "reason": "保洁费多记200元"},
    ]
    assert int((await gql.data(totals, {"v": v}))["monthlyAccount"]["expenseFen"]) == 592_000
    verify = "query($v: ID!) { verifyLedger(villageId: $v) { ok length firstBrokenAt } }"
    assert (await gql.data(verify, {"v": v}))["verifyLedger"] == {
        "ok": True,
        "length": 2,
        "firstBrokenAt": None,
    }
    # The first version's lines are kept, and still guarded by the chain.
    await Tortoise.get_connection("default").execute_script(
        "UPDATE account_line SET amount_fen = 1 WHERE version = 1 AND line_no = 2"
    )
    assert (await gql.data(verify, {"v": v}))["verifyLedger"]["firstBrokenAt"] == 1
