"""Read-only rows for hot read paths: a model's columns as attributes, without the cost of
ORM instances (pypika query building, per-field conversion, iso8601 parsing).

Rows answer to the same attribute names as the model (`region_id`, `published_at`, …);
GraphQL types accept both (see `is_row_of`). Never save a row: write through the model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from tortoise import Tortoise
from tortoise.models import Model
from tortoise.queryset import QuerySet


class Row:
    model: type[Model]
    _datetimes: tuple[str, ...] = ()
    _jsons: tuple[str, ...] = ()
    _bools: tuple[str, ...] = ()

    def __init__(self, record: dict[str, Any]) -> None:
        self.__dict__.update(record)
        for name in self._datetimes:  # SQLite hands back text, PostgreSQL datetimes
            value = record.get(name)
            if isinstance(value, str):
                self.__dict__[name] = datetime.fromisoformat(value)
        for name in self._jsons:
            value = record.get(name)
            if isinstance(value, (str, bytes)):
                self.__dict__[name] = orjson.loads(value)
        for name in self._bools:
            if name in record:
                self.__dict__[name] = bool(record[name])

    @property
    def pk(self) -> int:
        return self.id  # type: ignore[attr-defined]


_ROW_CLASSES: dict[type[Model], type[Row]] = {}


def row_class(model: type[Model]) -> type[Row]:
    cls = _ROW_CLASSES.get(model)
    if cls is None:
        kinds: dict[str, list[str]] = {"DatetimeField": [], "JSONField": [], "BooleanField": []}
        for name, field in model._meta.fields_map.items():
            kind = type(field).__name__
            if kind in kinds:
                kinds[kind].append(field.source_field or name)
        cls = type(
            f"{model.__name__}Row",
            (Row,),
            {
                "model": model,
                "_datetimes": tuple(kinds["DatetimeField"]),
                "_jsons": tuple(kinds["JSONField"]),
                "_bools": tuple(kinds["BooleanField"]),
            },
        )
        _ROW_CLASSES[model] = cls
    return cls


def is_row_of(value: Any, model: type[Model]) -> bool:
    return isinstance(value, model) or (isinstance(value, Row) and value.model is model)


async def fetch_rows(qs: QuerySet) -> list[Any]:
    """Run a queryset built by tortoise as usual, but return rows instead of instances."""
    qs._choose_db_if_not_chosen()  # tortoise builds and parameterizes the SQL
    qs._make_query()
    sql, params = qs.query.get_parameterized_sql()
    cls = row_class(qs.model)
    return [cls(record) for record in await qs._db.execute_query_dict(sql, params)]


async def rows_by_id(model: type[Model], ids: list[int]) -> list[Any]:
    """`SELECT * … WHERE id IN (…)` written directly: the hottest lookup of every loader."""
    if not ids:
        return []
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "postgres":
        marks = ", ".join(f"${i}" for i in range(1, len(ids) + 1))
    else:
        marks = ", ".join("?" * len(ids))
    sql = f'SELECT * FROM "{model._meta.db_table}" WHERE "id" IN ({marks})'
    cls = row_class(model)
    return [cls(record) for record in await conn.execute_query_dict(sql, list(ids))]
