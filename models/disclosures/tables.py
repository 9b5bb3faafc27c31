"""Structured tables inside a disclosure (e.g. subsidy recipients), masked on the server.

ID numbers and phone numbers are masked before anything is stored, so the unmasked value
never reaches the database, the hash chain or an export: in the columns declared as such,
and wherever else one appears in a cell, the table's title or a column's name (an 18-digit
number with a valid GB 11643 check digit, a mainland mobile number; in full-width digits or
in groups too). `mask_id_numbers` does the same for a disclosure's text.

Before an ID_NUMBER cell is masked, the keyed hash of its number is taken as the row's key
(我的补贴: the named villager finds the row by the hash of the number they entered). The
keys are kept apart from the tables, never served nor chained.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from models.errors import ErrorCode, UserError
from models.subsidies import id_hash, normalise

MAX_TABLES, MAX_COLUMNS, MAX_ROWS, MAX_CELL = 10, 30, 5000, 200


class ColumnKind(StrEnum):
    TEXT = "TEXT"
    NAME = "NAME"
    ID_NUMBER = "ID_NUMBER"
    PHONE = "PHONE"
    MONEY_FEN = "MONEY_FEN"
    NUMBER = "NUMBER"


def mask_id_number(value: str) -> str:
    value = re.sub(r"\s", "", value)
    if len(value) <= 8:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_any_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# GB 11643-1999: 17 digits, then a check digit (ISO 7064 MOD 11-2; 10 is written X)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
ID_NUMBER_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9Xx])")
# In free text a number is also written in groups (430124 19780512 1634, or the date split
# again): found on the text with full-width digits folded, see `folded`.
ID_IN_TEXT_RE = re.compile(
    r"(?<![0-9])[0-9]{6}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{3}[0-9Xx](?![0-9Xx])"
)
MOBILE_RE = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")
# Full-width digits, X, space, hyphen and plus as typed by a Chinese input method, one
# character for one: the positions found in the folded text are those of the original.
FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ\u3000－＋", "0123456789Xx -+")


def folded(text: str) -> str:
    return text.translate(FULL_WIDTH)


def _mask_found(pattern: re.Pattern[str], text: str, mask: Any) -> str:
    """`text` with each match of `pattern` in its folded form replaced by `mask(match)` (the
    folded, ASCII text of the match; None keeps the original characters)."""
    out, last = [], 0
    for m in pattern.finditer(folded(text)):
        masked = mask(m[0])
        if masked is None:
            continue
        out += [text[last : m.start()], masked]
        last = m.end()
    return "".join(out) + text[last:] if out else text


def id_check_digit(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def is_id_number(value: str) -> bool:
    return bool(ID_NUMBER_RE.fullmatch(value)) and id_check_digit(value[:17]) == value[17].upper()


def mask_id_numbers(text: str) -> str:
    """Every valid 18-digit ID number in `text` masked, however typed (full-width digits,
    groups apart); other long numbers are left alone."""
    if len(text) < 18:
        return text

    def mask(found: str) -> str | None:
        number = re.sub(r"[ -]", "", found)
        return mask_id_number(number) if is_id_number(number) else None

    return _mask_found(ID_IN_TEXT_RE, text, mask)


def mask_mobiles(text: str) -> str:
    """Every mainland mobile number in `text` masked (138****5678), full-width digits too."""
    if len(text) < 11:
        return text
    return _mask_found(
        MOBILE_RE, text, lambda found: _masked_mobile(re.sub(r"[^0-9]", "", found)[-11:])
    )


def _masked_mobile(digits: str) -> str:
    return f"{digits[:3]}****{digits[-4:]}"


def masked(text: str) -> str:
    """Free text of a table with every ID and mobile number in it masked."""
    return mask_mobiles(mask_id_numbers(text))


def clean_cell(kind: ColumnKind, raw: Any) -> str | int | None:
    """The stored value, or None when the cell is invalid for its column."""
    text = "" if raw is None else str(raw).strip()
    if len(text) > MAX_CELL:
        return None
    if kind == ColumnKind.ID_NUMBER:
        return mask_id_number(text)
    if kind == ColumnKind.PHONE:
        return mask_any_phone(text)
    if kind == ColumnKind.MONEY_FEN:
        return int(text) if re.fullmatch(r"-?\d{1,15}", text) else None
    if kind == ColumnKind.NUMBER:
        try:
            Decimal(text)
        except InvalidOperation:
            return None
    # whatever the column says it holds, no ID or mobile number is stored in clear
    return masked(text)


def row_key(kinds: list[ColumnKind], row: list[Any]) -> str | None:
    """The keyed hash of the row's first valid ID number in an ID_NUMBER column, else None."""
    for kind, raw in zip(kinds, row, strict=True):
        if kind == ColumnKind.ID_NUMBER and raw is not None:
            number = normalise(str(raw))
            if is_id_number(number):
                return id_hash(number)
    return None


def clean_tables(
    tables: list[dict[str, Any]] | None, errors: list[UserError]
) -> tuple[list[dict[str, Any]], list[list[str | None]]]:
    """Tables as given (`{title, columns: [{key, label, kind}], rows}`), masked and checked,
    and their row keys: per table, per row, the hash of the ID number it names or None."""
    out: list[dict[str, Any]] = []
    keys: list[list[str | None]] = []
    tables = tables or []
    if len(tables) > MAX_TABLES:
        errors.append(UserError(ErrorCode.TABLE_TOO_LARGE, "tables", {"max": MAX_TABLES}))
        return out, keys
    for t, table in enumerate(tables):
        # a title or a column's name is published as the cells are: no number in clear
        columns = [
            {
                "key": masked(c["key"]),
                "label": masked(c["label"]),
                "kind": str(ColumnKind(c["kind"])),
            }
            for c in table["columns"]
        ]
        rows = table.get("rows") or []
        if not columns or len(columns) > MAX_COLUMNS or len(rows) > MAX_ROWS:
            errors.append(UserError(ErrorCode.TABLE_TOO_LARGE, f"tables.{t}", {"max": MAX_ROWS}))
            continue
        kinds = [ColumnKind(c["kind"]) for c in columns]
        cleaned_rows = []
        row_keys: list[str | None] = []
        for r, row in enumerate(rows):
            if len(row) != len(columns):
                errors.append(UserError(ErrorCode.INVALID_TABLE_ROW, f"tables.{t}.rows.{r}"))
                break
            cells = [clean_cell(kind, cell) for kind, cell in zip(kinds, row, strict=True)]
            bad = [c for c, value in enumerate(cells) if value is None]
            if bad:
                errors.append(
                    UserError(ErrorCode.INVALID_TABLE_CELL, f"tables.{t}.rows.{r}.{bad[0]}")
                )
                break
            cleaned_rows.append(cells)
            row_keys.append(row_key(kinds, row) if ColumnKind.ID_NUMBER in kinds else None)
        keys.append(row_keys)
        out.append(
            {
                "title": masked((table.get("title") or "").strip()[:100]),
                "columns": columns,
                "rows": cleaned_rows,
            }
        )
    return out, keys
