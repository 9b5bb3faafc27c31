"""Market prices from a CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX sheet, read with the monthly
accounts' helpers: the same amounts (`3.5`, `¥3.50`, `3.5元`, `1,280`), dates (`2026-03-05`,
`2026/3/5`, `2026年3月5日`), header names with synonyms and title rows above the header.

Columns: 日期, 品名 (or 品种, 商品), 市场, 单位 (optional), 价格 (or 单价, 均价) in yuan.
A market is named as it is called in the region imported for (or above or below it). Every
row is recorded or none, through `record_prices`; errors name the sheet's line (1 = the
header) and the column.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from models.errors import ErrorCode, UserError, UserErrors, fail
from models.finance.months import problem_errors
from models.finance.parsing import (
    TITLE_ROWS_MAX,
    LineProblem,
    ParseFailed,
    header_map,
    parse_amount,
    parse_date,
    rows_from_file,
)
from models.policy import Action, Viewer
from models.prices.board import serving_markets
from models.prices.recording import MAX_ROWS, PriceRow, Recorded, checked_rows, record_prices
from models.regions import Region

UPLOAD_MAX_MB = 15
COLUMNS = {
    "date": ("日期", "采价日期", "报价日期", "date"),
    "commodity": ("品名", "品种", "商品", "商品名称", "品种名称", "产品", "commodity"),
    "market": ("市场", "市场名称", "集市", "market"),
    "unit": ("单位", "计量单位", "unit"),
    "price": (
        "价格",
        "单价",
        "均价",
        "价格（元）",
        "价格(元)",
        "单价（元）",
        "单价(元)",
        "均价（元）",
        "均价(元)",
        "price",
    ),
}
REQUIRED = ("date", "commodity", "market", "price")
FIELDS = {key: key for key in COLUMNS}  # errors name the column by its key, as accounts do
TEXT_MAX = 60


def for_prices(problem: LineProblem) -> LineProblem:
    """The accounts parser's whole-file problems, worded for prices."""
    if problem.code in (ErrorCode.EMPTY_FILE, ErrorCode.TOO_MANY_LINES):
        problem.params = {**problem.params, "variant": "PRICES", "max": MAX_ROWS}
    return problem


def price_amount(raw: Any) -> int | None:
    """Yuan as fen (`parse_amount`); a spreadsheet's NaN or infinity is no amount."""
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    return parse_amount(raw)


def cell_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    return str(value if value is not None else "").strip()


def read_rows(data: bytes) -> tuple[str, int, list[list[Any]]]:
    """The source kind, the header's line number and the rows from the header on."""
    source, rows = rows_from_file(data)
    numbered = [r for r in rows if any(str(c or "").strip() for c in r)]
    if len(numbered) < 2:
        raise ParseFailed([LineProblem(1, None, ErrorCode.EMPTY_FILE)])
    if len(numbered) - 1 > MAX_ROWS:
        raise ParseFailed([LineProblem(1, None, ErrorCode.TOO_MANY_LINES, {"max": MAX_ROWS})])
    for index, row in enumerate(numbered[: TITLE_ROWS_MAX + 1]):
        if not header_map(row, COLUMNS, REQUIRED)[1]:
            return source, index + 1, numbered[index:]
    _, missing = header_map(numbered[0], COLUMNS, REQUIRED)
    raise ParseFailed(missing)


async def import_prices(
    viewer: Viewer,
    region_id: int,
    data: bytes,
    *,
    too_large: bool = False,
    now: datetime | None = None,
) -> Recorded:
    """Record the prices of a sheet for the markets serving `region_id` (see the module)."""
    region = await Region.get_or_none(id=region_id)
    if region is None:
        raise fail(ErrorCode.NOT_FOUND, "regionId")
    viewer.require(Action.PRICES_RECORD, region.path)
    if too_large:
        raise fail(ErrorCode.FILE_TOO_LARGE, "file", max_mb=UPLOAD_MAX_MB)
    try:  # spreadsheets are parsed off the event loop
        source, header_line, rows = await anyio.to_thread.run_sync(read_rows, data)
    except ParseFailed as exc:
        raise problem_errors([for_prices(p) for p in exc.problems]) from None
    columns, _ = header_map(rows[0], COLUMNS, REQUIRED)

    def cell(row: list[Any], key: str) -> Any:
        index = columns.get(key)
        return row[index] if index is not None and index < len(row) else None

    by_name: dict[str, list[int]] = {}
    for market in await serving_markets(region):
        by_name.setdefault(market.name, []).append(market.id)
    problems: list[LineProblem] = []
    parsed: list[PriceRow] = []
    for number, row in enumerate(rows[1:], start=header_line + 1):
        before = len(problems)
        day = parse_date(cell(row, "date"))
        if day is None:
            problems.append(LineProblem(number, "date", ErrorCode.INVALID_DATE))
        commodity = cell_text(cell(row, "commodity"))
        if not commodity:
            problems.append(
                LineProblem(number, "commodity", ErrorCode.UNKNOWN_COMMODITY, {"commodity": "—"})
            )
        name = " ".join(cell_text(cell(row, "market")).split())
        found = by_name.get(name, [])
        if len(found) != 1:
            code = ErrorCode.AMBIGUOUS_MARKET if found else ErrorCode.UNKNOWN_MARKET
            problems.append(LineProblem(number, "market", code, {"market": name[:TEXT_MAX] or "—"}))
        fen = price_amount(cell(row, "price"))
        if fen is None:
            problems.append(
                LineProblem(number, "price", ErrorCode.INVALID_AMOUNT, {"variant": "PRICE"})
            )
        unit = cell_text(cell(row, "unit"))[:TEXT_MAX] or None
        if len(problems) > before:
            continue
        assert day is not None and fen is not None
        parsed.append(
            PriceRow(
                commodity=commodity[:TEXT_MAX],
                market_id=found[0],
                date=day,
                price_fen=fen,
                unit=unit,
                line=number,
                market_label=name,
            )
        )
    if problems:  # with the recording checks' errors of the readable rows, by line
        errors = list(problem_errors(problems).errors)
        if parsed:
            try:
                await checked_rows(viewer, parsed, now or datetime.now(UTC), FIELDS)
            except UserErrors as exc:
                errors += exc.errors
        errors.sort(key=lambda e: e.line or 0)
        raise UserErrors(*errors)
    try:
        return await record_prices(viewer, parsed, now, fields=FIELDS, source=source)
    except UserErrors as exc:  # batch-wide errors name the file, not an input list
        raise UserErrors(
            *(UserError(e.code, "file", e.params) if e.field == "prices" else e for e in exc.errors)
        ) from None
