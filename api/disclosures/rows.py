"""Disclosures read for feeds as plain rows: a page of ORM instances costs more than the
query itself (per-field conversion, datetime parsing), and feeds only read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from tortoise.queryset import QuerySet

from models.disclosures import Disclosure

DATETIMES = tuple(
    name
    for name, field in Disclosure._meta.fields_map.items()
    if type(field).__name__ == "DatetimeField"
)
JSONS = ("tables", "attachment_ids")
BOOLS = ("must_read",)


class DisclosureRow:
    """A disclosure's columns as attributes, named as on the model (region_id, …)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.__dict__.update(record)
        for name in DATETIMES:  # SQLite hands back text, PostgreSQL datetimes
            value = record[name]
            if isinstance(value, str):
                setattr(self, name, datetime.fromisoformat(value))
        for name in JSONS:
            value = record[name]
            if isinstance(value, (str, bytes)):
                setattr(self, name, orjson.loads(value))
        for name in BOOLS:
            setattr(self, name, bool(record[name]))

    @property
    def pk(self) -> int:
        return self.id


async def fetch_rows(qs: QuerySet) -> list[DisclosureRow]:
    """Run a Disclosure queryset built by tortoise, skipping model instantiation."""
    qs._choose_db_if_not_chosen()  # tortoise builds and parameterizes the SQL as usual
    qs._make_query()
    sql, params = qs.query.get_parameterized_sql()
    return [DisclosureRow(record) for record in await qs._db.execute_query_dict(sql, params)]
