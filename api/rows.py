"""Read-only rows for hot read paths: a model's columns as attributes, without the cost of
ORM instances (pypika query building, per-field conversion, datetime parsing up front).

Rows answer to the same attribute names as the model (`region_id`, `published_at`, …);
GraphQL types accept both (see `is_row_of`). Never save a row: write through the model.
SQLite hands datetimes and JSON back as text: a row converts such a column the first time
it is read, so a feed page parses only the columns a query shows.

With the short cuts off (`Settings.fast_paths`, applied when the database opens), the
functions that have a plain equivalent answer tortoise's model instances instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

import orjson
from tortoise import Tortoise
from tortoise.models import Model
from tortoise.queryset import QuerySet

from api.compat import db_columns, fetch_tuples, parameterized_sql, table_name
from api.sqlite_reads import read_inline
from models.kept import Kept
from models.sql import Params

DB_LOG = logging.getLogger("tortoise.db_client")  # where tortoise logs its own statements
_shortcuts = True


def use_shortcuts(on: bool) -> None:
    """For the whole process: one database, one configuration."""
    global _shortcuts
    _shortcuts = on


def shortcuts() -> bool:
    return _shortcuts


class Row:
    model: type[Model]
    # Columns a partial read left out (see `partial_row_class`)
    absent: frozenset[str] = frozenset()
    # Datetime columns held as SQLite's text until read (see `iso_stamp`)
    text_stamps: frozenset[str] = frozenset()
    # A page's batch-loaded values (api.execution), None until set: asked of every object
    # completed, and a partial row's `__getattr__` would answer a missing one by raising.
    _prefetched: dict[str, Any] | None = None

    def __init__(self, record: dict[str, Any]) -> None:
        self.__dict__.update(record)

    @property
    def pk(self) -> int:
        return self.id  # type: ignore[attr-defined]


def _converted(name: str, convert: Any, kinds: tuple[type, ...]) -> property:
    def get(self: Row) -> Any:
        value = self.__dict__.get(name)
        if isinstance(value, kinds):
            value = self.__dict__[name] = convert(value)
        return value

    def set_(self: Row, value: Any) -> None:
        self.__dict__[name] = value

    return property(get, set_)


# The text tortoise 1.1 writes to SQLite for an aware UTC datetime: its sqlite3 adapter
# (tortoise.backends.sqlite.executor) stores `isoformat(" ")`, which leaves the fraction out
# when the microseconds are 0; `to_db_value` keeps the value's own offset (the app writes UTC;
# a naive value is made aware in the configured zone, "UTC"), auto_now writes `localtime()`
# in that zone. Only dates and times `datetime.fromisoformat` accepts match (a 29 February
# does not: it falls back), and no ".000000", which isoformat() would leave out: so for a
# match, `fromisoformat(text).isoformat()` is the text with its first " " made a "T"
# (tests/test_rows.py checks every month, day, hour, minute and second).
_DATE = (
    "(?!0000)[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.(?!000000)[0-9]{6})?"
utc_text = re.compile(f"{_DATE} {_TIME}\\+00:00").fullmatch


# Texts `utc_text` matched → their isoformat() form: a page shows the same few hundred
# times request after request, and the match costs more than the rest of the field.
_SERVED = Kept(16_384)


def iso_stamp(row: Any, name: str) -> str | None:
    """What `getattr(row, name).isoformat()` answers, read off SQLite's text without parsing
    it; None when that cannot be told so (not a SQLite row's datetime column, a column
    already converted or not read, a text of another form): then ask the attribute."""
    if name not in getattr(row.__class__, "text_stamps", ()):
        return None
    text = row.__dict__.get(name)
    if text.__class__ is not str:
        return None
    served = _SERVED.get(text)
    if served is None:
        if utc_text(text) is None:
            return None
        served = _SERVED.keep(text, text.replace(" ", "T", 1))
    return served


class ColumnNotRead(Exception):
    """A partial row was asked for a column its statement left out: the caller's list of
    columns is wrong. Not an AttributeError, so that no `getattr(row, name, default)` takes
    it for a missing attribute and answers the default."""


def _not_read(self: Row, name: str) -> Any:
    if name in self.absent:
        raise ColumnNotRead(name)
    raise AttributeError(name)


def _absent(name: str, self: Row) -> Any:
    raise ColumnNotRead(name)


_ROW_CLASSES: dict[tuple[type[Model], bool], type[Row]] = {}
# Each set of columns a query can leave out is a class: a client sending ever other
# selections must not grow this without end (rows made before keep their class).
_PARTIAL_CLASSES = Kept(4096)


def row_class(model: type[Model], typed: bool = False) -> type[Row]:
    """`typed`: the driver answers times and booleans as such (asyncpg), so only JSON
    (text from both drivers) is converted when read."""
    cls = _ROW_CLASSES.get((model, typed))
    if cls is None:
        attrs: dict[str, Any] = {"model": model}
        stamps = set()
        for column, field in db_columns(model):
            kind = type(field).__name__
            if kind == "DatetimeField" and not typed:
                attrs[column] = _converted(column, datetime.fromisoformat, (str,))
                stamps.add(column)
            elif kind == "JSONField":
                attrs[column] = _converted(column, orjson.loads, (str, bytes))
            elif kind == "BooleanField" and not typed:  # SQLite answers 0/1
                attrs[column] = _converted(column, bool, (int,))
        attrs["text_stamps"] = frozenset(stamps)
        cls = type(f"{model.__name__}Row", (Row,), attrs)
        _ROW_CLASSES[(model, typed)] = cls
    return cls


def partial_row_class(model: type[Model], absent: frozenset[str], typed: bool = False) -> type[Row]:
    """Rows of a statement that reads only some of `model`'s columns (a feed page that
    shows no body, say): reading one of the `absent` columns raises ColumnNotRead."""
    if not absent:
        return row_class(model, typed)
    key = (model, absent, typed)
    cls = _PARTIAL_CLASSES.get(key)
    if cls is None:
        base = row_class(model, typed)
        attrs: dict[str, Any] = {"absent": absent, "__getattr__": _not_read}
        attrs["text_stamps"] = base.text_stamps - absent
        for column in absent:  # a converting property would answer None, not raise
            if isinstance(getattr(base, column, None), property):
                attrs[column] = property(partial(_absent, column))
        cls = _PARTIAL_CLASSES.keep(key, type(base.__name__, (base,), attrs))
    return cls


def columns_read(
    field_columns: dict[str, tuple[str, ...]], wanted: Any, always: tuple[str, ...] = ()
) -> frozenset[str] | None:
    """The columns the GraphQL fields `wanted` read, by a type's map of field → columns
    (and `always`); None (every column) when a field is not in the map."""
    columns = set(always)
    for name in wanted:
        found = field_columns.get(name)
        if found is None:
            return None
        columns.update(found)
    return frozenset(columns)


def is_row_of(value: Any, model: type[Model]) -> bool:
    if isinstance(value, Row):
        return value.model is model
    return isinstance(value, model)


def stored(value: Any, name: str) -> Any:
    """A column as the database answered it: a row's before conversion (SQLite's text),
    a model instance's attribute."""
    return value.__dict__[name] if isinstance(value, Row) else getattr(value, name)


async def fetch_rows(qs: QuerySet) -> list[Any]:
    """Run a queryset built by tortoise as usual, but return rows instead of instances."""
    if not _shortcuts:
        return await qs
    sql, params = parameterized_sql(qs)
    return await query_rows(qs.model, sql, params)


async def query_rows(
    model: type[Model],
    sql: str,
    params: list[Any],
    inline: bool = False,
    absent: frozenset[str] = frozenset(),
    conn: Any = None,
) -> list[Any]:
    """Rows of `model` (plus any extra columns the statement names) from raw SQL. `inline`
    marks a bounded read (by primary key, or a page through an index) that SQLite may
    answer on the loop's own thread (see api.sqlite_reads). `absent`: the model's columns
    the statement leaves out (see `partial_row_class`). `conn`: the current connection when
    the caller has it already (tortoise's lookup checks the loop each time)."""
    if conn is None:
        conn = Tortoise.get_connection("default")
    DB_LOG.debug("%s: %s", sql, params)
    found: tuple[Sequence[str], Sequence[Any]] | None = None
    if inline and conn.capabilities.dialect == "sqlite":
        found = read_inline(conn, sql, params)
    if found is None:
        found = await fetch_tuples(conn, sql, params)
    names, records = found
    typed = conn.capabilities.dialect == "postgres"
    cls, new = partial_row_class(model, absent, typed), object.__new__
    out = []
    for record in records:  # each as long as `names`: the driver's own description
        row = new(cls)
        row.__dict__.update(zip(names, record))  # noqa: B905 (a keyword to zip costs 0.16 µs)
        out.append(row)
    return out


@lru_cache(maxsize=256)
def select_list(model: type[Model], columns: frozenset[str] | None) -> tuple[str, frozenset[str]]:
    """The select list for `columns` of `model` (None: `*`) and the columns it leaves out."""
    if columns is None:
        return "*", frozenset()
    every = [column for column, _ in db_columns(model)]
    read = [c for c in every if c in columns or c == "id"]
    return ", ".join(f'"{c}"' for c in read), frozenset(every).difference(read)


async def rows_by_id(
    model: type[Model], ids: list[int], columns: frozenset[str] | None = None
) -> list[Any]:
    """`SELECT * … WHERE id IN (…)` written directly: the hottest lookup of every loader.
    `columns`: only those (and the id) are read; reading another raises ColumnNotRead."""
    if not ids:
        return []
    if not _shortcuts:
        return await model.filter(id__in=ids)
    table = table_name(model)
    select, absent = select_list(model, columns)
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "postgres":
        # One array parameter: one statement text whatever the number of ids, so asyncpg
        # prepares it once and PostgreSQL keeps one plan (an IN list of n parameters is a
        # new statement, parsed and planned, for every n).
        sql = f'SELECT {select} FROM "{table}" WHERE "id" = ANY($1)'
        return await query_rows(model, sql, [list(ids)], absent=absent, conn=conn)
    marks = Params(postgres=False)
    sql = f'SELECT {select} FROM "{table}" WHERE "id" IN ({marks.many(list(ids))})'
    return await query_rows(model, sql, marks.values, inline=True, absent=absent, conn=conn)
