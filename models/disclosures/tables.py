"""Structured tables inside a disclosure (e.g. subsidy recipients), masked on the server.

ID numbers and phone numbers are masked before anything is stored, so the unmasked value
never reaches the database, the hash chain or an export.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from models.errors import ErrorCode, UserError

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
    return text


def clean_tables(
    tables: list[dict[str, Any]] | None, errors: list[UserError]
) -> list[dict[str, Any]]:
    """Tables as given (`{title, columns: [{key, label, kind}], rows}`), masked and checked."""
    out: list[dict[str, Any]] = []
    tables = tables or []
    if len(tables) > MAX_TABLES:
        errors.append(UserError(ErrorCode.TABLE_TOO_LARGE, "tables", {"max": MAX_TABLES}))
        return out
    for t, table in enumerate(tables):
        columns = [
            {"key": c["key"], "label": c["label"], "kind": str(ColumnKind(c["kind"]))}
            for c in table["columns"]
        ]
        rows = table.get("rows") or []
        if not columns or len(columns) > MAX_COLUMNS or len(rows) > MAX_ROWS:
            errors.append(UserError(ErrorCode.TABLE_TOO_LARGE, f"tables.{t}", {"max": MAX_ROWS}))
            continue
        kinds = [ColumnKind(c["kind"]) for c in columns]
        cleaned_rows = []
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
        out.append(
            {
                "title": (table.get("title") or "").strip()[:100],
                "columns": columns,
                "rows": cleaned_rows,
            }
        )
    return out
