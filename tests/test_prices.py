"""Market prices through the API: an imported GBK sheet gives the exact daily series and the
week's change on the board; every row or none; corrections are revisions with an audit
trail; each role's forbidden steps; bad input answers codes, never an internal error."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from api.relay import to_global_id
from models.audit import AuditEntry
from models.prices import MarketPrice
from models.prices.recording import beijing_today
from tests.client import error_codes
from tests.test_attacks import others  # noqa: F401 (a fixture)
from tests.test_disclosures import ADMIN, CLERK, INSPECTOR, OFFICIAL, SUPERVISOR, VILLAGER

CREATE_MARKET = """mutation($input: CreateMarketInput!) { createMarket(input: $input) {
  market { id name region { id name } } errors { code field message } } }"""
RECORD = """mutation($input: RecordMarketPricesInput!) { recordMarketPrices(input: $input) {
  created updated unchanged
  prices { commodity { code } market { name } date priceFen unit revision revisedAt updatedAt }
  errors { code field line message } } }"""
IMPORT = """mutation($input: ImportMarketPricesInput!) { importMarketPrices(input: $input) {
  created updated unchanged prices { commodity { code } date priceFen }
  errors { code field line message expected found } } }"""
SERIES = """query($c: String!, $r: ID!, $from: Date!, $to: Date!) {
  marketPrices(commodity: $c, regionId: $r, from: $from, to: $to) {
    commodity { code name } unit minFen maxFen avgFen count
    points { date minFen maxFen avgFen markets } } }"""
BOARD = """query($r: ID!) { latestPrices(regionId: $r) {
  commodity { code } market { name } date priceFen unit revision
  weekAgoDate weekAgoFen changeFen changePermille } }"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cn(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


async def create_market(gql, token, region, name):
    payload = await gql.mutate(
        "createMarket",
        CREATE_MARKET,
        {"regionId": gid("Region", region.id), "name": name},
        token=token,
    )
    return payload


async def two_markets(gql, demo) -> tuple[dict, dict]:
    token = await gql.login(OFFICIAL)
    town = demo.townships[0]
    first = await create_market(gql, token, town, "东溪镇农贸市场")
    second = await create_market(gql, token, town, "东溪镇集市")
    assert first["errors"] == [] and second["errors"] == [], (first, second)
    return first["market"], second["market"]


async def upload(client, token, region, data: bytes, name="prices.csv"):
    variables = {"input": {"regionId": gid("Region", region.id), "file": None}}
    headers = {"GraphQL-Preflight": "1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": IMPORT, "variables": variables}),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (name, data, "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def three_weeks(today: date) -> list[tuple[date, str, str, str, str]]:
    """(day, 品名, 市场, 单位, 价格) over 21 days: rice at both markets (with a day missing at
    one), pork quoted per 公斤 at one of them."""
    rows = []
    for back in range(20, -1, -1):
        day = today - timedelta(days=back)
        rows.append((day, "大米", "东溪镇农贸市场", "斤", f"￥{2 + back % 5 * 0.13 + 0.05:.2f}"))
        if back not in (7, 8):
            rows.append((day, "大米", "东溪镇集市", "", f"{2.4 - back % 3 * 0.11:.2f}元"))
        rows.append((day, "猪肉", "东溪镇集市", "公斤", f"￥{30 + back % 4 * 0.51:.2f}"))
    return rows


def gbk_sheet(rows) -> bytes:
    lines = ["东溪镇农产品价格采集表", "日期,品名,市场,单位,价格（元）"]
    lines += [
        f"{cn(day)},{name},{market},{unit},{price}" for day, name, market, unit, price in rows
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def fen(price: str) -> int:
    return int(Decimal(price.strip("￥¥元")) * 100)


async def test_an_imported_gbk_sheet_gives_the_exact_series_and_the_weeks_change(client, gql, demo):
    await two_markets(gql, demo)
    today = beijing_today()
    rows = three_weeks(today)
    official = await gql.login(OFFICIAL)
    body = await upload(client, official, demo.townships[0], gbk_sheet(rows))
    payload = body["data"]["importMarketPrices"]
    assert payload["errors"] == [], payload
    assert (payload["created"], payload["updated"], payload["unchanged"]) == (len(rows), 0, 0)

    # Pork at 30.51 yuan/公斤 is 15.255 yuan/斤: 1526 fen, half up.
    pork = [p for p in payload["prices"] if p["commodity"]["code"] == "PORK"]
    by_day = {p["date"]: p["priceFen"] for p in pork}
    for day, name, _, _, price in rows:
        if name == "猪肉":
            expected = half_up(Decimal(fen(price)) / 2)
            assert by_day[day.isoformat()] == expected

    # The series, computed here independently from the sheet.
    start = today - timedelta(days=20)
    village = demo.villages[0]
    data = await gql.data(
        SERIES,
        {
            "c": "RICE",
            "r": gid("Region", village.id),
            "from": start.isoformat(),
            "to": today.isoformat(),
        },
    )
    series = data["marketPrices"]
    daily: dict[date, list[int]] = {}
    for day, name, _, _, price in rows:
        if name == "大米":
            daily.setdefault(day, []).append(fen(price))
    expected_points = [
        {
            "date": day.isoformat(),
            "minFen": min(values),
            "maxFen": max(values),
            "avgFen": half_up(Decimal(sum(values)) / len(values)),
            "markets": len(values),
        }
        for day, values in sorted(daily.items())
    ]
    assert series["points"] == expected_points
    every = [v for values in daily.values() for v in values]
    assert (series["minFen"], series["maxFen"], series["count"]) == (
        min(every),
        max(every),
        len(every),
    )
    assert series["avgFen"] == half_up(Decimal(sum(every)) / len(every))
    assert series["unit"] == "斤" and series["commodity"] == {"code": "RICE", "name": "大米"}
    # by its Chinese name, and for the township itself: the same series
    again = await gql.data(
        SERIES,
        {
            "c": "大米",
            "r": gid("Region", demo.townships[0].id),
            "from": start.isoformat(),
            "to": today.isoformat(),
        },
    )
    assert again["marketPrices"] == series
    # another township's villages are not served by these markets
    elsewhere = await gql.data(
        SERIES,
        {
            "c": "RICE",
            "r": gid("Region", demo.townships[1].id),
            "from": start.isoformat(),
            "to": today.isoformat(),
        },
    )
    assert elsewhere["marketPrices"]["points"] == [] and elsewhere["marketPrices"]["avgFen"] is None

    # The board: the latest price of each commodity and market against a week before it.
    board = (await gql.data(BOARD, {"r": gid("Region", village.id)}))["latestPrices"]
    assert [(b["commodity"]["code"], b["market"]["name"]) for b in board] == [
        ("RICE", "东溪镇农贸市场"),
        ("RICE", "东溪镇集市"),
        ("PORK", "东溪镇集市"),
    ]
    sheet = {(name, market, day): price for day, name, market, _, price in rows}
    rice = board[0]
    now_fen = fen(sheet[("大米", "东溪镇农贸市场", today)])
    week_fen = fen(sheet[("大米", "东溪镇农贸市场", today - timedelta(days=7))])
    assert (rice["date"], rice["priceFen"], rice["weekAgoFen"]) == (
        today.isoformat(),
        now_fen,
        week_fen,
    )
    assert rice["weekAgoDate"] == (today - timedelta(days=7)).isoformat()
    assert rice["changeFen"] == now_fen - week_fen
    permille = Decimal(abs(now_fen - week_fen) * 1000) / week_fen
    sign = 1 if now_fen >= week_fen else -1
    assert rice["changePermille"] == sign * half_up(permille)
    # 东溪镇集市 has no rice 7 or 8 days back: the latest of 7 to 10 days before is taken
    market2 = board[1]
    nine = today - timedelta(days=9)
    assert market2["weekAgoDate"] == nine.isoformat()
    assert market2["weekAgoFen"] == fen(sheet[("大米", "东溪镇集市", nine)])
    assert board[2]["unit"] == "斤" and board[2]["revision"] == 1

    # Importing the same sheet again changes nothing.
    same = (await upload(client, official, demo.townships[0], gbk_sheet(rows)))["data"]
    assert same["importMarketPrices"]["unchanged"] == len(rows)
    assert same["importMarketPrices"]["created"] == same["importMarketPrices"]["updated"] == 0


async def test_one_bad_row_and_the_whole_import_changes_nothing(client, gql, demo):
    await two_markets(gql, demo)
    today = beijing_today()
    official = await gql.login(OFFICIAL)
    good = (today, "大米", "东溪镇农贸市场", "斤", "￥2.50")
    bad = [
        (today, "榴莲", "东溪镇农贸市场", "斤", "￥9.00"),  # line 4: unknown commodity
        (today, "大米", "南岭乡市场", "斤", "2.50"),  # line 5: no such market here
        (today, "大米", "东溪镇集市", "个", "2.50"),  # line 6: 个 is no weight
        (today + timedelta(days=1), "鸡蛋", "东溪镇集市", "", "5.00"),  # line 7: tomorrow
        (today, "鸡蛋", "东溪镇集市", "", "-5.00"),  # line 8
        (today, "鸡蛋", "东溪镇农贸市场", "", "五元"),  # line 9
    ]
    body = await upload(client, official, demo.townships[0], gbk_sheet([good, *bad]))
    payload = body["data"]["importMarketPrices"]
    assert [(e["code"], e["field"], e["line"]) for e in payload["errors"]] == [
        ("UNKNOWN_COMMODITY", "commodity", 4),
        ("UNKNOWN_MARKET", "market", 5),
        ("UNKNOWN_UNIT", "unit", 6),
        ("DATE_IN_FUTURE", "date", 7),
        ("NON_POSITIVE_AMOUNT", "price", 8),
        ("INVALID_AMOUNT", "price", 9),
    ]
    assert await MarketPrice.all().count() == 0
    # the sheet's own problems fixed, the recording checks still name theirs
    fixed = [good, *bad[:1], bad[2], bad[3], bad[4]]
    body = await upload(client, official, demo.townships[0], gbk_sheet(fixed))
    payload = body["data"]["importMarketPrices"]
    assert [(e["code"], e["field"], e["line"]) for e in payload["errors"]] == [
        ("UNKNOWN_COMMODITY", "commodity", 4),
        ("UNKNOWN_UNIT", "unit", 5),
        ("DATE_IN_FUTURE", "date", 6),
        ("NON_POSITIVE_AMOUNT", "price", 7),
    ]
    assert "个" in payload["errors"][1]["message"] and "斤" in payload["errors"][1]["message"]
    assert payload["created"] == 0 and payload["prices"] == []
    assert await MarketPrice.all().count() == 0
    assert not await AuditEntry.filter(action="prices.record").exists()

    # A missing column names what is expected and what was found.
    sheet = "日期,品种,单价\n2026-03-05,大米,2.5\n".encode("gbk")
    payload = (await upload(client, official, demo.townships[0], sheet))["data"][
        "importMarketPrices"
    ]
    [error] = payload["errors"]
    assert (error["code"], error["field"], error["line"]) == ("MISSING_COLUMN", "market", 1)
    assert "市场" in error["expected"] and error["found"] == ["日期", "品种", "单价"]
    # an empty file, a file of nothing but a header
    for data in (b"", "日期,品名,市场,价格\n".encode()):
        payload = (await upload(client, official, demo.townships[0], data))["data"]
        [error] = payload["importMarketPrices"]["errors"]
        assert error["code"] == "EMPTY_FILE" and "价格" in error["message"]


async def test_an_xlsx_sheet_with_number_and_date_cells(client, gql, demo):
    from datetime import datetime

    from openpyxl import Workbook

    await two_markets(gql, demo)
    today = beijing_today()
    book = Workbook()
    sheet = book.active
    sheet.append(["市场价格"])
    sheet.append(["日期", "品种", "市场", "单位", "均价"])
    sheet.append([datetime(today.year, today.month, today.day), "EGG", "东溪镇农贸市场", "斤", 5.8])
    sheet.append([today.isoformat(), "花生", "东溪镇集市", "kg", 14])
    sheet.append([cn(today), "尿素", "东溪镇集市", "元/公斤", "￥2.35"])
    out = io.BytesIO()
    book.save(out)
    body = await upload(
        client, await gql.login(OFFICIAL), demo.townships[0], out.getvalue(), "p.xlsx"
    )
    payload = body["data"]["importMarketPrices"]
    assert payload["errors"] == [], payload
    assert [(p["commodity"]["code"], p["priceFen"]) for p in payload["prices"]] == [
        ("EGG", 580),
        ("PEANUT", 700),  # 14 yuan/kg is 7 yuan/斤
        ("UREA", 235_000),  # 2.35 yuan/公斤 is 2350 yuan/吨
    ]


async def test_a_correction_is_a_revision_with_its_audit_entry(gql, demo):
    market, _ = await two_markets(gql, demo)
    official = await gql.login(OFFICIAL)
    day = (beijing_today() - timedelta(days=1)).isoformat()
    row = {"commodity": "RICE", "market": market["id"], "priceFen": 250, "date": day}
    first = await gql.mutate("recordMarketPrices", RECORD, {"prices": [row]}, token=official)
    assert first["errors"] == [] and first["created"] == 1
    [price] = first["prices"]
    assert (price["revision"], price["revisedAt"], price["priceFen"]) == (1, None, 250)
    same = await gql.mutate("recordMarketPrices", RECORD, {"prices": [row]}, token=official)
    assert (same["created"], same["updated"], same["unchanged"]) == (0, 0, 1)
    assert same["prices"][0]["updatedAt"] == price["updatedAt"]
    assert await AuditEntry.filter(action="prices.record").count() == 1
    # given per 公斤: 5.10 yuan/公斤 is 2.55 yuan/斤
    fixed = {**row, "priceFen": 510, "unit": "公斤"}
    second = await gql.mutate("recordMarketPrices", RECORD, {"prices": [fixed]}, token=official)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 1, 0)
    [price] = second["prices"]
    assert (price["revision"], price["priceFen"]) == (2, 255) and price["revisedAt"]
    assert price["updatedAt"] > first["prices"][0]["updatedAt"]
    log = await gql.data(
        """query($r: ID!) { auditLog(regionId: $r, action: "prices.record") { edges { node {
          objectType actor { name } before after region { name } } } } }""",
        {"r": gid("Region", demo.county.id)},
        token=await gql.login(INSPECTOR),
    )
    entries = [e["node"] for e in log["auditLog"]["edges"]]
    assert len(entries) == 2
    correction = next(e for e in entries if e["before"])
    assert correction["before"]["prices"] == [["RICE", _pk(market), day, 250, 1]]
    assert correction["after"]["prices"] == [["RICE", _pk(market), day, 255, 2]]
    assert (
        correction["after"]["corrected"] == 1
        and correction["region"]["name"] == demo.townships[0].name
    )

    # The board: the corrected price; a price older than 60 days is no longer shown; a
    # price 11 days before the latest is too far back to compare with.
    today = beijing_today()
    rows = [
        {**row, "commodity": "CORN", "date": (today - timedelta(days=61)).isoformat()},
        {**row, "commodity": "EGG", "priceFen": 600, "date": today.isoformat()},
        {**row, "commodity": "EGG", "priceFen": 500, "date": (today - timedelta(11)).isoformat()},
    ]
    more = await gql.mutate("recordMarketPrices", RECORD, {"prices": rows}, token=official)
    assert more["errors"] == [] and more["created"] == 3
    board = (await gql.data(BOARD, {"r": gid("Region", demo.villages[0].id)}))["latestPrices"]
    assert [(b["commodity"]["code"], b["priceFen"], b["revision"]) for b in board] == [
        ("RICE", 255, 2),
        ("EGG", 600, 1),
    ]
    assert board[1]["weekAgoFen"] is None and board[1]["changePermille"] is None
    assert board[1]["changeFen"] is None and board[1]["weekAgoDate"] is None


def _pk(market: dict) -> int:
    from api.relay import from_global_id

    return int(from_global_id(market["id"])[1])


async def test_each_roles_forbidden_steps(client, gql, demo, others):  # noqa: F811
    market, _ = await two_markets(gql, demo)
    county = await create_market(gql, await gql.login(ADMIN), demo.county, "青禾县批发市场")
    assert county["errors"] == []
    day = beijing_today().isoformat()
    row = {"commodity": "RICE", "market": market["id"], "priceFen": 250, "date": day}
    town = demo.townships[0]
    cases = [
        (CLERK, "PRICE_RECORDERS_ONLY"),
        (SUPERVISOR, "PRICE_RECORDERS_ONLY"),
        (VILLAGER, "PRICE_RECORDERS_ONLY"),
        (INSPECTOR, "PRICE_RECORDERS_ONLY"),
        (others["OFFICIAL2"], "OUTSIDE_REGION"),
        (others["TOWNADMIN2"], "OUTSIDE_REGION"),
        (None, None),
    ]
    sheet = gbk_sheet([(beijing_today(), "大米", "东溪镇农贸市场", "斤", "2.50")])
    for phone, reason in cases:
        token = await gql.login(phone) if phone else None
        expected = "FORBIDDEN" if phone else "UNAUTHENTICATED"
        steps = [
            await gql(
                CREATE_MARKET,
                {"input": {"regionId": gid("Region", town.id), "name": "新市场"}},
                token=token,
            ),
            await gql(RECORD, {"input": {"prices": [row]}}, token=token),
            await upload(client, token, town, sheet),
        ]
        for body in steps:
            assert error_codes(body) == [expected], (phone, body)
            if reason:
                assert body["errors"][0]["extensions"]["reason"] == reason, (phone, body)
    # The township's official may not record the county's market, nor set one up there.
    official = await gql.login(OFFICIAL)
    on_county = {**row, "market": county["market"]["id"]}
    body = await gql(RECORD, {"input": {"prices": [row, on_county]}}, token=official)
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["reason"] == "OUTSIDE_REGION"
    body = await gql(
        CREATE_MARKET,
        {"input": {"regionId": gid("Region", demo.county.id), "name": "县市场"}},
        token=official,
    )
    assert body["errors"][0]["extensions"]["reason"] == "OUTSIDE_REGION"
    assert await MarketPrice.all().count() == 0
    # The township's admin may; the county's admin everywhere in it.
    for phone, prices in ((others["TOWNADMIN"], [row]), (ADMIN, [row, on_county])):
        payload = await gql.mutate(
            "recordMarketPrices", RECORD, {"prices": prices}, token=await gql.login(phone)
        )
        assert payload["errors"] == [], (phone, payload)
    # Reading is public: the county's market serves every village, listed after the town's.
    data = await gql.data(
        "query($r: ID!) { markets(regionId: $r) { name region { name } } }",
        {"r": gid("Region", demo.villages[0].id)},
    )
    assert [m["name"] for m in data["markets"]] == [
        "东溪镇农贸市场",
        "东溪镇集市",
        "青禾县批发市场",
    ]
    data = await gql.data(
        "query($r: ID!) { markets(regionId: $r) { name } }",
        {"r": gid("Region", demo.townships[1].id)},
    )
    assert [m["name"] for m in data["markets"]] == ["青禾县批发市场"]
    node = await gql.data(
        "query($id: ID!) { node(id: $id) { ... on Market { name } } }", {"id": market["id"]}
    )
    assert node["node"] == {"name": "东溪镇农贸市场"}


# --- attacks and bad input: a code each, nothing stored, never an internal error ---------


async def record(gql, token, rows, lang=None):
    body = await gql(RECORD, {"input": {"prices": rows}}, token=token, lang=lang)
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body
    return body


async def test_bad_rows_answer_codes_naming_the_row(gql, demo):
    market, _ = await two_markets(gql, demo)
    official = await gql.login(OFFICIAL)
    today = beijing_today()
    ok = {"commodity": "RICE", "market": market["id"], "priceFen": 250, "date": today.isoformat()}
    cases = [
        ({"commodity": "榴莲"}, "UNKNOWN_COMMODITY", "commodity"),
        ({"commodity": "RICE'; DROP TABLE market_price;--"}, "UNKNOWN_COMMODITY", "commodity"),
        ({"commodity": "大" * 5000}, "UNKNOWN_COMMODITY", "commodity"),
        ({"commodity": ""}, "UNKNOWN_COMMODITY", "commodity"),
        ({"unit": "个"}, "UNKNOWN_UNIT", "unit"),
        ({"unit": "斤' OR 1=1 --"}, "UNKNOWN_UNIT", "unit"),
        ({"date": (today + timedelta(days=1)).isoformat()}, "DATE_IN_FUTURE", "date"),
        ({"date": "9999-12-31"}, "DATE_IN_FUTURE", "date"),
        ({"date": "0001-01-01"}, "DATE_TOO_OLD", "date"),
        ({"date": (today - timedelta(days=5 * 365 + 2)).isoformat()}, "DATE_TOO_OLD", "date"),
        ({"priceFen": -250}, "NON_POSITIVE_AMOUNT", "priceFen"),
        ({"priceFen": 0}, "NON_POSITIVE_AMOUNT", "priceFen"),
        ({"priceFen": 2.5}, "INVALID_AMOUNT", "priceFen"),
        ({"priceFen": 1e15}, "AMOUNT_TOO_LARGE", "priceFen"),
        ({"priceFen": 1.7e308}, "AMOUNT_TOO_LARGE", "priceFen"),
        ({"priceFen": 1, "unit": "吨"}, "NON_POSITIVE_AMOUNT", "priceFen"),  # < 1 fen per 斤
        ({"priceFen": 900_000_000, "unit": "克"}, "AMOUNT_TOO_LARGE", "priceFen"),
        ({"market": gid("Region", demo.townships[0].id)}, "WRONG_KIND", "market"),
        ({"market": "not-an-id"}, "INVALID_ID", "market"),
        ({"market": gid("Market", 99999)}, "UNKNOWN_MARKET", "market"),
    ]
    for change, code, field in cases:
        for lang in (None, "en"):
            body = await record(gql, official, [ok, {**ok, **change}], lang=lang)
            payload = body["data"]["recordMarketPrices"]
            errors = [(e["code"], e["field"], e["line"]) for e in payload["errors"]]
            assert errors == [(code, field, 2)], (change, payload)
            message = payload["errors"][0]["message"]
            assert message and code not in message, (change, message)
            assert payload["created"] == 0 and payload["prices"] == []
    duplicate = await record(gql, official, [ok, {**ok, "commodity": "大米", "priceFen": 260}])
    [error] = duplicate["data"]["recordMarketPrices"]["errors"]
    assert (error["code"], error["line"]) == ("DUPLICATE_ENTRY", 2)
    empty = await record(gql, official, [])
    assert [e["code"] for e in empty["data"]["recordMarketPrices"]["errors"]] == ["REQUIRED"]
    assert await MarketPrice.all().count() == 0
    assert not await AuditEntry.filter(action="prices.record").exists()

    # NaN and Infinity are not JSON numbers: refused by the transport, not by a crash.
    text = json.dumps(
        {"query": RECORD, "variables": {"input": {"prices": [{**ok, "priceFen": 0}]}}}
    )
    for bad in ("NaN", "Infinity", "-Infinity", "1e999"):
        response = await gql.client.post(
            "/graphql",
            content=text.replace('"priceFen": 0', f'"priceFen": {bad}'),
            headers={"Authorization": f"Bearer {official}", "Content-Type": "application/json"},
        )
        body = response.json()
        codes = error_codes(body) or [
            e["code"] for e in body["data"]["recordMarketPrices"]["errors"]
        ]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, (bad, body)
    assert await MarketPrice.all().count() == 0


async def test_big_batches_take_few_statements_and_too_big_ones_are_refused(gql, demo):
    import logging

    market, other = await two_markets(gql, demo)
    official = await gql.login(OFFICIAL)
    today = beijing_today()
    codes = [c["code"] for c in (await gql.data("{ commodities { code } }"))["commodities"]]
    assert len(codes) >= 25 and codes[:3] == ["RICE", "PADDY", "CORN"]
    rows = [
        {
            "commodity": code,
            "market": where["id"],
            "priceFen": 100 + n,
            "date": (today - timedelta(days=n)).isoformat(),
        }
        for code in codes[:25]
        for where in (market, other)
        for n in range(40)
    ]
    assert len(rows) == 2000

    statements = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            statements.append(record.getMessage())

    log = logging.getLogger("tortoise.db_client")
    handler, level = Count(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        first = await record(gql, official, rows)
        created = len(statements)
        statements.clear()
        again = await record(gql, official, [{**r, "priceFen": r["priceFen"] + 1} for r in rows])
        corrected = len(statements)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    payload = first["data"]["recordMarketPrices"]
    assert payload["errors"] == [] and payload["created"] == 2000
    payload = again["data"]["recordMarketPrices"]
    assert payload["errors"] == [] and payload["updated"] == 2000
    assert {p["revision"] for p in payload["prices"]} == {2}
    assert created < 40 and corrected < 40, (created, corrected)
    [entry] = await AuditEntry.filter(action="prices.record", before__isnull=False)
    assert len(entry.before["prices"]) == 2000 and len(entry.after["prices"]) == 2000

    too_many = [{**rows[0], "date": (today - timedelta(days=n)).isoformat()} for n in range(10_001)]
    body = await record(gql, official, too_many)
    [error] = body["data"]["recordMarketPrices"]["errors"]
    assert (error["code"], error["field"]) == ("TOO_MANY_ITEMS", "prices")
    assert await MarketPrice.all().count() == 2000


async def test_queries_refuse_bad_ranges_and_unknown_names(gql, demo):
    village = gid("Region", demo.villages[0].id)
    today = beijing_today()

    async def series(commodity="RICE", region=village, start=None, end=None):
        variables = {
            "c": commodity,
            "r": region,
            "from": start or (today - timedelta(days=30)).isoformat(),
            "to": end or today.isoformat(),
        }
        return await gql(SERIES, variables)

    assert error_codes(await series(start=(today - timedelta(days=366)).isoformat())) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(await series(start=(today - timedelta(days=365)).isoformat())) == []
    assert error_codes(
        await series(start=today.isoformat(), end=(today - timedelta(1)).isoformat())
    ) == ["BAD_USER_INPUT"]
    assert error_codes(await series(start="0001-01-01", end="0001-02-01")) == ["BAD_USER_INPUT"]
    assert error_codes(await series(end="10000-01-01")) == ["BAD_USER_INPUT"]
    assert error_codes(await series(commodity="RICE' OR '1'='1")) == ["NOT_FOUND"]
    assert error_codes(await series(commodity="x" * 10_000)) == ["NOT_FOUND"]
    assert error_codes(await series(region=gid("Region", 99999))) == ["NOT_FOUND"]
    assert error_codes(await series(region="garbage")) == ["BAD_USER_INPUT"]
    body = await gql(BOARD, {"r": gid("Region", 99999)})
    assert error_codes(body) == ["NOT_FOUND"]
    # an empty board, an empty series: no prices yet
    assert (await gql.data(BOARD, {"r": village}))["latestPrices"] == []
    data = (await series())["data"]["marketPrices"]
    assert data["points"] == [] and data["count"] == 0 and data["minFen"] is None
    # Public and the same for everyone: a GET answer carries an ETag to revalidate with.
    query = "{ commodities { code name unit category sortOrder } }"
    anonymous = await gql.data(query)
    assert await gql.data(query, token=await gql.login(OFFICIAL)) == anonymous
    response = await gql.client.get("/graphql", params={"query": query})
    assert response.status_code == 200 and response.headers.get("etag")
    assert response.json()["data"] == anonymous
    grain = await gql.data("{ commodities(category: INPUT) { code unit nameEn } }")
    assert grain["commodities"] == [
        {"code": "UREA", "unit": "吨", "nameEn": "Urea"},
        {"code": "COMPOUND_FERTILIZER", "unit": "吨", "nameEn": "Compound fertiliser"},
    ]


async def test_markets_are_checked_and_named_once_per_region(client, gql, demo, others):  # noqa: F811
    official = await gql.login(OFFICIAL)
    town = demo.townships[0]
    cases = [
        ((demo.villages[0], "村里的集市"), "MARKET_REGION_KIND", "regionId"),
        ((town, ""), "INVALID_NAME", "name"),
        ((town, "   "), "INVALID_NAME", "name"),
        ((town, "市" * 61), "INVALID_NAME", "name"),
    ]
    for (region, name), code, field in cases:
        payload = await create_market(gql, official, region, name)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], payload
    first = await create_market(gql, official, town, "  东溪镇   集市 ")
    assert first["market"]["name"] == "东溪镇 集市"
    again = await create_market(gql, official, town, "东溪镇 集市")
    assert [e["code"] for e in again["errors"]] == ["NAME_TAKEN"]
    assert "市场" in again["errors"][0]["message"]
    body = await gql(
        CREATE_MARKET, {"input": {"regionId": gid("Region", 99999), "name": "x"}}, token=official
    )
    assert [e["code"] for e in body["data"]["createMarket"]["errors"]] == ["NOT_FOUND"]

    # The same name in two townships: unknown from a township that is not served by it,
    # ambiguous from the county above both.
    other = await create_market(
        gql, await gql.login(others["OFFICIAL2"]), demo.townships[1], "东溪镇 集市"
    )
    assert other["errors"] == []
    today = beijing_today()
    sheet = gbk_sheet([(today, "大米", "东溪镇 集市", "", "2.50")])
    own = (await upload(client, official, town, sheet))["data"]["importMarketPrices"]
    assert own["errors"] == [] and own["created"] == 1
    foreign = await upload(client, official, demo.townships[1], sheet)
    assert error_codes(foreign) == ["FORBIDDEN"]  # not their township
    admin = await gql.login(ADMIN)
    wide = (await upload(client, admin, demo.county, sheet))["data"]["importMarketPrices"]
    assert [(e["code"], e["line"]) for e in wide["errors"]] == [("AMBIGUOUS_MARKET", 3)]
    # A sheet naming another township's market from one's own: that market is not served here.
    lone = await create_market(
        gql, await gql.login(others["OFFICIAL2"]), demo.townships[1], "南岭集"
    )
    assert lone["errors"] == []
    sheet = gbk_sheet([(today, "大米", "南岭集", "", "2.50")])
    payload = (await upload(client, official, town, sheet))["data"]["importMarketPrices"]
    assert [(e["code"], e["field"], e["line"]) for e in payload["errors"]] == [
        ("UNKNOWN_MARKET", "market", 3)
    ]


async def test_unreadable_and_oversized_sheets(client, gql, demo):
    await two_markets(gql, demo)
    official = await gql.login(OFFICIAL)
    town = demo.townships[0]
    today = beijing_today()
    for price in ("nan", "inf", "1e400", "-", "￥", '"1,2,3"', "2.555"):
        sheet = gbk_sheet([(today, "大米", "东溪镇集市", "", price)])
        payload = (await upload(client, official, town, sheet))["data"]["importMarketPrices"]
        assert [e["code"] for e in payload["errors"]] == ["INVALID_AMOUNT"], (price, payload)
    for day in ("2026-02-30", "明天", "99999-01-01"):
        sheet = f"日期,品名,市场,价格\n{day},大米,东溪镇集市,2.5\n".encode()
        payload = (await upload(client, official, town, sheet))["data"]["importMarketPrices"]
        assert [(e["code"], e["line"]) for e in payload["errors"]] == [("INVALID_DATE", 2)], day
    huge = "日期,品名,市场,价格\n" + f"{today},大米,东溪镇集市,2.5\n" * 5001
    payload = (await upload(client, official, town, huge.encode()))["data"]["importMarketPrices"]
    [error] = payload["errors"]
    assert error["code"] == "TOO_MANY_LINES" and "5000" in error["message"]
    for junk in (b"PK\x03\x04not a zip", b"\xff\xfe\x00\x00garbage\x00"):
        payload = (await upload(client, official, town, junk))["data"]["importMarketPrices"]
        assert [e["code"] for e in payload["errors"]] == ["UNREADABLE_FILE"]
    # a price repeated inside one sheet
    twice = gbk_sheet([(today, "大米", "东溪镇集市", "", "2.50")] * 2)
    payload = (await upload(client, official, town, twice))["data"]["importMarketPrices"]
    assert [(e["code"], e["line"]) for e in payload["errors"]] == [("DUPLICATE_ENTRY", 4)]
    assert await MarketPrice.all().count() == 0


async def test_the_import_script_acts_as_the_official_and_is_audited(gql, demo):
    from scripts.import_prices import import_file

    await two_markets(gql, demo)
    town = demo.townships[0]
    today = beijing_today()
    sheet = gbk_sheet(three_weeks(today)[:6])
    report = await import_file("prices.csv", sheet, town.code, OFFICIAL)
    assert report == ["prices.csv ok: 6 new, 0 corrected, 0 unchanged"]
    log = await gql.data(
        """query($r: ID!) { auditLog(regionId: $r, action: "prices.record") { edges { node {
          objectType actor { name } requestId after } } } }""",
        {"r": gid("Region", demo.county.id)},
        token=await gql.login(INSPECTOR),
    )
    [entry] = [e["node"] for e in log["auditLog"]["edges"]]
    assert (
        entry["actor"] == {"name": "镇干部 张伟"} and entry["requestId"] == "script:import_prices"
    )
    assert entry["objectType"] == "PriceBatch" and entry["after"]["source"] == "CSV"
    assert entry["after"]["created"] == 6

    assert await import_file("prices.csv", sheet, town.code, CLERK) == [
        "prices.csv FAILED: FORBIDDEN Only township officials or administrators set up markets "
        "and record market prices"
    ]
    bad = gbk_sheet([(today, "榴莲", "东溪镇集市", "", "9"), (today, "大米", "无名集", "", "2")])
    report = await import_file("bad.csv", bad, town.code, OFFICIAL)
    assert report == [
        "bad.csv FAILED: 2 errors, nothing recorded",
        "  line 3 commodity: No commodity “榴莲” (see commodities for the list)",
        "  line 4 market: No market “无名集” serves this region",
    ]
    assert (await import_file("x.csv", sheet, "000000000000", OFFICIAL))[0].startswith("unknown")
    assert await MarketPrice.all().count() == 6


async def test_concurrent_batches_for_the_same_day_never_lose_a_revision(gql, demo):
    import asyncio

    from models.errors import UserErrors
    from models.policy import viewer_for_user
    from models.prices.recording import PriceRow, record_prices

    market, _ = await two_markets(gql, demo)
    viewer = await viewer_for_user(demo.users["OFFICIAL"], "test")
    day = beijing_today()

    async def attempt(fen: int) -> str:
        row = PriceRow("RICE", _pk(market), day, fen)
        try:
            result = await record_prices(viewer, [row])
        except UserErrors as exc:
            return exc.errors[0].code
        return "created" if result.created else "updated"

    outcomes = await asyncio.gather(*(attempt(250 + n) for n in range(4)))
    assert set(outcomes) <= {"created", "updated", "PRICES_RECORDED_MEANWHILE"}, outcomes
    assert outcomes.count("created") == 1
    [price] = await MarketPrice.all()
    assert price.revision == 1 + outcomes.count("updated")
    assert await AuditEntry.filter(action="prices.record").count() == price.revision
    # corrections of one stored price, all at once: each one counts (the row is locked)
    before = price.revision
    outcomes = await asyncio.gather(*(attempt(300 + n) for n in range(4)))
    assert outcomes == ["updated"] * 4
    [price] = await MarketPrice.all()
    assert price.revision == before + 4
    assert await AuditEntry.filter(action="prices.record").count() == price.revision


async def test_commodities_are_seeded_once_and_never_overwritten(app):
    from models.prices import Commodity
    from models.prices.commodity_data import COMMODITIES, ensure_commodities

    assert await Commodity.all().count() == len(COMMODITIES) >= 25
    await Commodity.filter(code="TEA").update(name="绿茶")
    assert await ensure_commodities() == 0
    assert (await Commodity.get(code="TEA")).name == "绿茶"
    await Commodity.filter(code="UREA").delete()
    assert await ensure_commodities() == 1
    assert len({c.code for c in await Commodity.all()}) == len(COMMODITIES)


def crafted_xlsx(cells: list[str]) -> bytes:
    """An XLSX whose second row's number cells hold `cells` as written (openpyxl reads
    `1e999` as infinity)."""
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["日期", "品名", "市场", "单位", "价格"])
    book.active.append(list(range(1, len(cells) + 1)))
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as source, zipfile.ZipFile(out, "w") as to:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                for n, cell in enumerate(cells, start=1):
                    data = data.replace(f"<v>{n}</v>".encode(), f"<v>{cell}</v>".encode())
            to.writestr(info, data)
    return out.getvalue()


async def test_infinite_and_huge_spreadsheet_numbers(client, gql, demo):
    await two_markets(gql, demo)
    official = await gql.login(OFFICIAL)
    town = demo.townships[0]
    cases = [
        (["1e999", "1e999", "1e999", "1e999", "1e999"], ["date", "market", "price"]),
        (["-1e999", "0.5", "7", "-1e999", "-1e999"], ["date", "market", "price"]),
        (["46000", "1e300", "1", "2", "1e300"], ["date", "market"]),  # a bare serial number
    ]
    for cells, fields in cases:
        body = await upload(client, official, town, crafted_xlsx(cells), "x.xlsx")
        assert "errors" not in body, body
        payload = body["data"]["importMarketPrices"]
        assert sorted({e["field"] for e in payload["errors"]}) == sorted(fields), payload
    assert await MarketPrice.all().count() == 0
