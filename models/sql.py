"""Hand-written SQL that runs on both databases: numbered or question-mark placeholders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Q


class Params:
    """Collects a statement's parameters and writes each one's placeholder (`$n` on
    PostgreSQL, `?` on SQLite) in the order they appear in the text."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.postgres else "?"

    def many(self, values: list[Any]) -> str:
        """Placeholders for an `IN (...)` list."""
        return ", ".join(self(v) for v in values)


def is_postgres(connection: Any) -> bool:
    return connection.capabilities.dialect == "postgres"


def changed_after(cursor: tuple[datetime, int]) -> Q:
    """Delta sync's keyset: rows after (updated_at, id) in that order (ties on the time are
    neither skipped nor repeated)."""
    stamp, pk = cursor
    return Q(updated_at__gt=stamp) | Q(updated_at=stamp, id__gt=pk)
