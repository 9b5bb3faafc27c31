"""Short reads on SQLite run on the event loop's thread through a read-only connection.

aiosqlite runs every statement on a worker thread: the hop there and back, with the GIL
handed over each way, costs more than a feed page's query itself (measured under load:
~0.35 ms per statement against 0.05–0.25 ms of SQLite work). In WAL mode a second
connection reads the last committed state while tortoise's connection writes, so bounded
reads — a primary-key lookup, a page picked through an index — use this one and never
leave the thread. Inside a transaction they stay on tortoise's connection, which sees the
transaction's own writes; a busy database (a checkpoint holding a lock) also sends them
back there instead of blocking the loop. With `Settings.fast_paths` off no reader is
opened and every read goes through tortoise.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise import BaseDBAsyncClient

from api.compat import in_transaction, sqlite_filename

_readers: dict[str, tuple[sqlite3.Connection, int]] = {}


def open_reader(filename: str) -> None:
    if filename == ":memory:":
        return  # a second connection would see another, empty database
    found = _readers.get(filename)
    if found is not None:
        _readers[filename] = (found[0], found[1] + 1)
        return
    # The loop's thread is the only user; the check would also refuse a test's next loop.
    connection = sqlite3.connect(
        filename, isolation_level=None, check_same_thread=False, timeout=0.05
    )
    connection.execute("PRAGMA query_only = ON")
    _readers[filename] = (connection, 1)


def close_reader(filename: str) -> None:
    found = _readers.get(filename)
    if found is None:
        return
    if found[1] > 1:
        _readers[filename] = (found[0], found[1] - 1)
        return
    del _readers[filename]
    found[0].close()


def read_inline(
    conn: BaseDBAsyncClient, sql: str, params: list[Any]
) -> tuple[list[str], list[tuple]] | None:
    """Column names and tuples, or None when this read must go through tortoise's `conn`
    (the current one: a transaction's inside a transaction)."""
    if in_transaction(conn):
        return None
    found = _readers.get(sqlite_filename(conn))
    if found is None:
        return None
    try:
        cursor = found[0].execute(sql, params)
        records = cursor.fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return None
        raise
    return [d[0] for d in cursor.description], records
