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
        ("UNKNOWN_MARKET", "market", 5),
        ("INVALID_AMOUNT", "price", 9),
    ]
    assert await MarketPrice.all().count() == 0
    # the file's own problems fixed, the recording checks name theirs
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
