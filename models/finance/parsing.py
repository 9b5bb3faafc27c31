"""Reading a month's account lines from CSV (UTF-8 or GBK/GB18030) or XLSX, exactly.

Amounts become integer fen by string arithmetic, never through float: `1234.56`,
`1,234.56`, `¥1234.56`, `1234.5元`. Dates: `2026-03-05`, `2026/3/5`, `2026年3月5日`.
Every problem is reported with its line (as the clerk sees it in the sheet), column and
code; nothing is partially accepted.

Two layouts are read. The plain one has a direction and an amount per line (日期, 收支,
科目代码, 金额, 对方单位, 摘要). The debit/credit one is what accounting packages and 三资
platforms export as a journal (日期, 凭证号, 摘要, 科目编码, 科目名称, 借方金额, 贷方金额):
see `journal_lines` for how its vouchers become income and expense lines.
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
VOUCHER_MAX = 32  # AccountLine.voucher_no
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
# The debit/credit (journal) layout: recognised by its debit or credit column.
JOURNAL_COLUMNS = {
    "date": ("日期", "记账日期", "凭证日期", "制单日期", "date"),
    "voucher": ("凭证号", "凭证字号", "凭证编号", "凭证号数", "voucher", "voucher_no"),
    "subject": ("科目编码", "科目代码", "科目编号", "subject", "subject_code"),
    "debit": ("借方金额", "借方", "借方发生额", "借方金额（元）", "借方金额(元)", "debit"),
    "credit": ("贷方金额", "贷方", "贷方发生额", "贷方金额（元）", "贷方金额(元)", "credit"),
    # Optional: without it the payee risk rules have nothing to compare.
    "counterparty": (
        "对方单位",
        "往来单位",
        "收付款人",
        "往来单位名称",
        "辅助核算",
        "核算项目",
        "counterparty",
        "payee",
    ),
    "summary": ("摘要", "说明", "summary", "memo"),
}
JOURNAL_REQUIRED = ("date", "subject", "debit", "credit")
# Rows a journal export adds that are not entries: totals, carried balances, page breaks.
TOTAL_ROWS = {
    "合计",
    "本月合计",
    "本期合计",
    "本日合计",
    "本年累计",
    "累计",
    "期初余额",
    "上年结转",
    "上月结转",
    "承前页",
    "过次页",
}
TITLE_ROWS_MAX = 5  # title rows an export may put above its header
# 库存现金 / 现金 and 银行存款: the same first-level codes in the 2004 and 2023 charts.
CASH_SUBJECTS = ("101", "102")
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
    voucher_no: str = ""  # the accounting package's voucher (凭证号), when the file has one


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
        if not raw.is_finite():  # 1e999 in a cell reads as infinity
            return None
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
    if "\x00" in text:  # no cell has a use for it, and PostgreSQL cannot store it
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ParseFailed([LineProblem(line, None, ErrorCode.UNREADABLE_FILE)])
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


def header_names(header: list[Any]) -> list[str]:
    return [str(h or "").strip().lower() for h in header]


def header_map(
    header: list[Any], columns: dict[str, tuple[str, ...]] = COLUMNS, required: tuple = REQUIRED
) -> tuple[dict[str, int], list[LineProblem]]:
    """Each known column's index; a MISSING_COLUMN problem per required column that is not
    there, naming the header expected (its first name) and the headers the file has."""
    names = header_names(header)
    found: dict[str, int] = {}
    for key, aliases in columns.items():
        for alias in aliases:
            if alias.lower() in names:
                found[key] = names.index(alias.lower())
                break
    present = [str(h).strip() for h in header if str(h or "").strip()]
    missing = [
        LineProblem(
            1,
            key,
            ErrorCode.MISSING_COLUMN,
            {
                "column": columns[key][0],
                "accepted": "、".join(columns[key]),
                "found": "、".join(present) or "—",
                "expected_names": list(columns[key]),
                "found_names": present,
            },
        )
        for key in required
        if key not in found
    ]
    return found, missing


def title_rows(rows: list[list[Any]]) -> int:
    """How many rows above the header to skip: exports often start with a title and the
    unit's name (序时账 / 单位：东溪村). The header is the first of the top rows that has
    every required column of its layout; none found, the first row is taken as the header
    (and its missing columns are reported)."""
    for index, row in enumerate(rows[: TITLE_ROWS_MAX + 1]):
        if is_journal(row):
            found, missing = header_map(row, JOURNAL_COLUMNS, JOURNAL_REQUIRED)
        else:
            found, missing = header_map(row)
        if not missing:
            return index
    return 0


def is_journal(header: list[Any]) -> bool:
    names = header_names(header)
    aliases = JOURNAL_COLUMNS["debit"] + JOURNAL_COLUMNS["credit"]
    return any(alias.lower() in names for alias in aliases)


def parse_lines(rows: list[list[Any]]) -> tuple[list[ParsedLine], list[LineProblem]]:
    """The readable lines and the problems of the others; ParseFailed when the sheet as a
    whole is unusable (no data, missing columns, too long)."""
    rows = [r for r in rows if any(str(c or "").strip() for c in r)] if rows else []
    if len(rows) < 2:  # nothing, or a header alone
        raise ParseFailed([LineProblem(1, None, ErrorCode.EMPTY_FILE)])
    if len(rows) - 1 > MAX_LINES:
        raise ParseFailed([LineProblem(1, None, ErrorCode.TOO_MANY_LINES, {"max": MAX_LINES})])
    skip = title_rows(rows)
    if skip:
        rows = rows[skip:]
        if len(rows) < 2:
            raise ParseFailed([LineProblem(1 + skip, None, ErrorCode.EMPTY_FILE)])
    if is_journal(rows[0]):
        return journal_lines(rows, skip)
    columns, problems = header_map(rows[0])
    if problems:
        raise ParseFailed(problems)

    def cell(row: list[Any], key: str) -> Any:
        index = columns.get(key)
        return row[index] if index is not None and index < len(row) else None

    parsed: list[ParsedLine] = []
    for number, row in enumerate(rows[1:], start=2 + skip):
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
        counterparty, summary = text_cells(
            cell(row, "counterparty"), cell(row, "summary"), number, line_problems
        )
        if line_problems:
            problems += line_problems
            continue
        assert day is not None and direction is not None and amount is not None
        parsed.append(ParsedLine(number, day, direction, subject, amount, counterparty, summary))
    return parsed, problems


def first_level(code: Any) -> str:
    """A subject code as the chart knows it: `501.0` from a number cell is 501, and a
    sub-account (10201, 102.01, 513-01) is its first-level account (the first three digits:
    the charts' codes are three digits, sub-accounts add two at a time)."""
    if isinstance(code, float) and code == int(code):
        code = int(code)
    text = str(code or "").strip()
    digits = re.match(r"^(\d{3})[\d.\-]*$", text)
    return digits.group(1) if digits else text


def voucher_text(raw: Any) -> str:
    if isinstance(raw, float) and raw == int(raw):
        raw = int(raw)
    return str(raw or "").strip()


def journal_amount(raw: Any) -> int | None:
    """A debit or credit cell: blank (or a dash) is zero."""
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "-", "—", "0", "0.00")):
        return 0
    return parse_amount(raw)


@dataclass
class JournalRow:
    line: int
    date: date
    voucher: str
    subject: str
    debit: int
    credit: int
    counterparty: str
    summary: str


def journal_lines(
    rows: list[list[Any]], skip: int = 0
) -> tuple[list[ParsedLine], list[LineProblem]]:
    """The month's income and expense from a debit/credit journal.

    A village's public month is its money in and out (opening + income − expense = closing,
    the cash and bank balance), so a voucher counts by its cash side: in a voucher with a
    库存现金 (101) or 银行存款 (102) line, every other line becomes an account line with its
    own subject and amount — credited (the money came in for it) as INCOME, debited (the
    money went out for it) as EXPENSE. The cash and bank lines themselves are not repeated.
    A voucher without a cash or bank line moves no money (an accrual, depreciation, the
    period-end 结转 of income and expense into 本年收益) and is left out; one with only cash
    and bank lines is a transfer between them and is left out too. A file without any cash
    or bank line cannot be read this way (NO_CASH_SIDE): the export must hold whole vouchers.

    Date and voucher number left blank on a voucher's later rows (as exports that merge those
    cells do) carry over from the row above; total and carried-balance rows (合计, 本月合计,
    本年累计…) and rows with neither a debit nor a credit are skipped. Each voucher's debits
    must equal its credits (UNBALANCED_VOUCHER), so a cut-off export is noticed."""
    columns, problems = header_map(rows[0], JOURNAL_COLUMNS, JOURNAL_REQUIRED)
    if problems:
        raise ParseFailed(problems)

    def cell(row: list[Any], key: str) -> Any:
        index = columns.get(key)
        return row[index] if index is not None and index < len(row) else None

    entries: list[JournalRow] = []
    last_day: date | None = None
    last_voucher = ""
    for number, row in enumerate(rows[1:], start=2 + skip):
        words = {str(cell(row, k) or "").strip().replace(" ", "") for k in ("date", "summary")}
        words.add(voucher_text(cell(row, "voucher")).replace(" ", ""))
        if words & TOTAL_ROWS:
            continue
        line_problems: list[LineProblem] = []
        debit, credit = journal_amount(cell(row, "debit")), journal_amount(cell(row, "credit"))
        for key, amount in (("debit", debit), ("credit", credit)):
            if amount is None:
                line_problems.append(LineProblem(number, key, ErrorCode.INVALID_AMOUNT))
            elif amount < 0:
                line_problems.append(LineProblem(number, key, ErrorCode.NON_POSITIVE_AMOUNT))
            elif amount > MAX_AMOUNT_FEN:
                line_problems.append(LineProblem(number, key, ErrorCode.AMOUNT_TOO_LARGE))
        if not line_problems and debit == 0 and credit == 0:
            continue
        if not line_problems and debit and credit:
            line_problems.append(LineProblem(number, "credit", ErrorCode.DEBIT_AND_CREDIT))
        raw_day = cell(row, "date")
        day = parse_date(raw_day) if str(raw_day or "").strip() else last_day
        if day is None:
            line_problems.append(LineProblem(number, "date", ErrorCode.INVALID_DATE))
        voucher = voucher_text(cell(row, "voucher")) or last_voucher
        last_day, last_voucher = day, voucher
        if len(voucher) > VOUCHER_MAX:  # cut, two vouchers could read as one
            line_problems.append(
                LineProblem(number, "voucher", ErrorCode.TOO_LONG, {"max": VOUCHER_MAX})
            )
        subject = first_level(cell(row, "subject"))
        if not subject:
            line_problems.append(LineProblem(number, "subject", ErrorCode.MISSING_SUBJECT))
        counterparty, summary = text_cells(
            cell(row, "counterparty"), cell(row, "summary"), number, line_problems
        )
        if line_problems:
            problems += line_problems
            continue
        assert day is not None and debit is not None and credit is not None
        entries.append(
            JournalRow(number, day, voucher, subject, debit, credit, counterparty, summary)
        )
    if problems:
        return [], problems
    if not entries:  # totals and blank rows only
        raise ParseFailed([LineProblem(1, None, ErrorCode.EMPTY_FILE)])
    if not any(e.subject in CASH_SUBJECTS for e in entries):
        raise ParseFailed([LineProblem(1, "subject", ErrorCode.NO_CASH_SIDE)])

    vouchers: dict[tuple[date, str], list[JournalRow]] = {}
    for entry in entries:  # without a voucher number, a line is its own voucher
        voucher_key = (entry.date, entry.voucher or f"#{entry.line}")
        vouchers.setdefault(voucher_key, []).append(entry)
    parsed: list[ParsedLine] = []
    for group in vouchers.values():
        if sum(e.debit for e in group) != sum(e.credit for e in group):
            problems.append(
                LineProblem(
                    group[0].line,
                    "voucher",
                    ErrorCode.UNBALANCED_VOUCHER,
                    {"voucher": group[0].voucher or "—"},
                )
            )
            continue
        if not any(e.subject in CASH_SUBJECTS for e in group):
            continue  # moves no money
        for e in group:
            if e.subject in CASH_SUBJECTS:
                continue
            direction = "INCOME" if e.credit else "EXPENSE"
            amount = e.credit or e.debit
            parsed.append(
                ParsedLine(
                    e.line,
                    e.date,
                    direction,
                    e.subject,
                    amount,
                    e.counterparty,
                    e.summary,
                    e.voucher,
                )
            )
    parsed.sort(key=lambda p: p.line)
    return parsed, problems


def text_cells(payee: Any, text: Any, number: int, problems: list[LineProblem]) -> tuple[str, str]:
    """A line's payee and summary, trimmed; too long ones are problems of that line."""
    counterparty = str(payee or "").strip()
    summary = str(text or "").strip()
    if len(counterparty) > 100:
        problems.append(LineProblem(number, "counterparty", ErrorCode.TOO_LONG, {"max": 100}))
    if len(summary) > 200:
        problems.append(LineProblem(number, "summary", ErrorCode.TOO_LONG, {"max": 200}))
    return counterparty, summary
