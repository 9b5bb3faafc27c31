"""Reading a month's account lines from CSV (UTF-8 or GBK/GB18030) or XLSX, exactly.

Amounts become integer fen by string arithmetic, never through float: `1234.56`,
`1,234.56`, `¥1234.56`, `1234.5元`. Dates: `2026-03-05`, `2026/3/5`, `2026年3月5日`.
Every problem is reported with its line (as the clerk sees it in the sheet), column and
code; nothing is partially accepted.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from models.errors import ErrorCode

MAX_LINES = 5000
MAX_COLUMNS = 64  # an account sheet has six; cells to the right of this are never read
MAX_BLANK_ROWS = MAX_LINES  # empty rows (present or skipped over) read before giving up
MAX_XLSX_UNPACKED = 32 * 1024 * 1024  # all parts of the archive, as they will be inflated
MAX_AMOUNT_FEN = 10**13  # a hundred billion yuan: anything above is a typing slip

COLUMNS = {
    "date": ("日期", "记账日期", "date"),
    "direction": ("收支", "收支类型", "方向", "类型", "direction", "type"),
    "subject": ("科目代码", "科目编码", "科目", "subject", "subject_code"),
    "amount": ("金额", "金额（元）", "金额(元)", "amount"),
    "counterparty": ("对方单位", "收付款人", "对方", "counterparty", "payee"),
    "summary": ("摘要", "说明", "summary", "memo"),
}
REQUIRED = ("date", "direction", "subject", "amount")
DIRECTIONS = {
    "收入": "INCOME",
    "收": "INCOME",
    "income": "INCOME",
    "支出": "EXPENSE",
    "支": "EXPENSE",
    "expense": "EXPENSE",
}
AMOUNT_RE = re.compile(r"^[¥￥]?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s*元?$")
DATE_RES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
)


@dataclass
class LineProblem:
    line: int  # 1 = the header row, as numbered in the spreadsheet
    column: str | None
    code: ErrorCode
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedLine:
    line: int
    date: date
    direction: str
    subject_code: str
    amount_fen: int
    counterparty: str
    summary: str


class ParseFailed(Exception):
    def __init__(self, problems: list[LineProblem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


def parse_amount(raw: Any) -> int | None:
    """Integer fen, or None. Spreadsheet numbers arrive as int/float/Decimal."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int):
        return raw * 100
    if isinstance(raw, float):  # an XLSX number cell: its shortest decimal text is exact
        raw = Decimal(repr(raw))
    if isinstance(raw, Decimal):
        fen = raw * 100
        return int(fen) if fen == fen.to_integral_value() else None
    text = str(raw).strip().replace(" ", "")
    sign = -1 if text.startswith(("-", "－")) else 1  # negative: refused later, with its own code
    match = AMOUNT_RE.match(text.lstrip("-－"))
    if not match:
        return None
    whole = int(match.group(1).replace(",", ""))
    cents = (match.group(2) or "").ljust(2, "0")
    return sign * (whole * 100 + int(cents))


def parse_date(raw: Any) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw or "").strip()
    for pattern in DATE_RES:
        match = pattern.match(text)
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                return None
    return None


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without a BOM) when it decodes, else GB18030 (a superset of GBK)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ParseFailed([LineProblem(1, None, ErrorCode.UNREADABLE_FILE)]) from None


def rows_from_csv(data: bytes) -> list[list[Any]]:
    text = decode_csv(data)
    try:
        return [row for row in csv.reader(io.StringIO(text))]
    except csv.Error:
        raise ParseFailed([LineProblem(1, None, ErrorCode.UNREADABLE_FILE)]) from None


def rows_from_xlsx(data: bytes) -> list[list[Any]]:
    """The first sheet's rows, streamed: the declared dimension is ignored, at most
    MAX_COLUMNS cells a row are kept, and reading stops once the sheet is known to be too
    long, so the work is bounded by the line limit whatever the file declares."""
    import zipfile

    from openpyxl import load_workbook

    unreadable = ParseFailed([LineProblem(1, None, ErrorCode.UNREADABLE_FILE)])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # zipfile never inflates a member beyond its declared size, so this bounds it.
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise unreadable
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ParseFailed:
        raise
    except Exception:  # openpyxl raises many kinds for a broken archive
        raise unreadable from None
    too_long = ParseFailed([LineProblem(1, None, ErrorCode.TOO_MANY_LINES, {"max": MAX_LINES})])
    try:
        sheet = book.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # the <dimension> element is the file's claim, not a fact
        rows: list[list[Any]] = []
        filled = blank = 0
        for row in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            if any(row) and any(str(c or "").strip() for c in row):  # any(row): at C speed
                filled += 1
                if filled > MAX_LINES + 1:  # the header and MAX_LINES lines
                    raise too_long
            else:
                blank += 1
                if blank > MAX_BLANK_ROWS:
                    raise too_long
                continue
            rows.append(list(row))
        return rows
    except ParseFailed:
        raise
    except Exception:
        raise unreadable from None
    finally:
        book.close()


def rows_from_file(data: bytes) -> tuple[str, list[list[Any]]]:
    if data[:4] == b"PK\x03\x04":
        return "XLSX", rows_from_xlsx(data)
    return "CSV", rows_from_csv(data)


def read_sheet(data: bytes) -> tuple[str, list[ParsedLine], list[LineProblem]]:
    """The file's source kind, its readable lines and the problems of the others: all the
    work of a sheet in one call, for a worker thread."""
    source, rows = rows_from_file(data)
    lines, problems = parse_lines(rows)
    return source, lines, problems


def header_map(header: list[Any]) -> tuple[dict[str, int], list[LineProblem]]:
    names = [str(h or "").strip().lower() for h in header]
    found: dict[str, int] = {}
    for key, aliases in COLUMNS.items():
        for alias in aliases:
            if alias.lower() in names:
                found[key] = names.index(alias.lower())
                break
    missing = [
        LineProblem(1, key, ErrorCode.MISSING_COLUMN) for key in REQUIRED if key not in found
    ]
    return found, missing


def parse_lines(rows: list[list[Any]]) -> tuple[list[ParsedLine], list[LineProblem]]:
    """The readable lines and the problems of the others; ParseFailed when the sheet as a
    whole is unusable (no data, missing columns, too long)."""
    rows = [r for r in rows if any(str(c or "").strip() for c in r)] if rows else []
    if not rows:
        raise ParseFailed([LineProblem(1, None, ErrorCode.EMPTY_FILE)])
    columns, problems = header_map(rows[0])
    if problems:
        raise ParseFailed(problems)
    if len(rows) - 1 > MAX_LINES:
        raise ParseFailed([LineProblem(1, None, ErrorCode.TOO_MANY_LINES, {"max": MAX_LINES})])

    def cell(row: list[Any], key: str) -> Any:
        index = columns.get(key)
        return row[index] if index is not None and index < len(row) else None

    parsed: list[ParsedLine] = []
    for number, row in enumerate(rows[1:], start=2):
        line_problems = []
        day = parse_date(cell(row, "date"))
        if day is None:
            line_problems.append(LineProblem(number, "date", ErrorCode.INVALID_DATE))
        direction = DIRECTIONS.get(str(cell(row, "direction") or "").strip().lower())
        if direction is None:
            line_problems.append(LineProblem(number, "direction", ErrorCode.INVALID_DIRECTION))
        subject = str(cell(row, "subject") or "").strip()
        if isinstance(cell(row, "subject"), float):  # 501.0 from a spreadsheet number cell
            subject = str(int(cell(row, "subject")))
        if not subject:
            line_problems.append(LineProblem(number, "subject", ErrorCode.MISSING_SUBJECT))
        amount = parse_amount(cell(row, "amount"))
        if amount is None:
            line_problems.append(LineProblem(number, "amount", ErrorCode.INVALID_AMOUNT))
        elif amount <= 0:
            line_problems.append(LineProblem(number, "amount", ErrorCode.NON_POSITIVE_AMOUNT))
        elif amount > MAX_AMOUNT_FEN:
            line_problems.append(LineProblem(number, "amount", ErrorCode.AMOUNT_TOO_LARGE))
        counterparty = str(cell(row, "counterparty") or "").strip()
        summary = str(cell(row, "summary") or "").strip()
        if len(counterparty) > 100:
            line_problems.append(
                LineProblem(number, "counterparty", ErrorCode.TOO_LONG, {"max": 100})
            )
        if len(summary) > 200:
            line_problems.append(LineProblem(number, "summary", ErrorCode.TOO_LONG, {"max": 200}))
        if line_problems:
            problems += line_problems
            continue
        assert day is not None and direction is not None and amount is not None
        parsed.append(ParsedLine(number, day, direction, subject, amount, counterparty, summary))
    return parsed, problems
