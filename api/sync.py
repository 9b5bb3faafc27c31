"""Delta sync: lists read as "what changed since", ordered by (updatedAt, id) ascending
with a keyset cursor over both, and `serverTime` for the client's next call.

`serverTime` is taken before the read and set back by `SYNC_MARGIN`: a row's `updated_at`
is stamped when its transaction writes it, not when it commits, so a write that committed
after our read may carry an earlier time. Any such write whose transaction took less than
the margin has `updated_at` >= the `serverTime` we hand out, and the next call (which asks
for `updated_at >= serverTime`) returns it. The price is that the last margin's changes come
twice; clients apply changes by id and updatedAt, so a repeat changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import graphene

from api.relay import Edge, Page, PageInfo, cursor_key, cursor_time, decode_cursor, encode_cursor
from api.rows import stored
from models.errors import BadUserInput

# Longer than any write transaction runs (the longest, a 5,000-row price import, takes a
# few seconds; requests time out well before a minute).
SYNC_MARGIN = timedelta(seconds=60)


def server_time(now: datetime | None = None) -> datetime:
    """The `updatedSince` for the client's next call. Real time, like `updated_at` (the
    columns are stamped by the database layer's clock, not the app's test clock)."""
    return (now or datetime.now(UTC)) - SYNC_MARGIN


class SyncPage(Page):
    __slots__ = ("server_time",)

    def __init__(self, page: Page, at: datetime | None) -> None:
        super().__init__(page.edges, page.page_info)
        self.server_time = at


def with_server_time(page: Page, at: datetime | None) -> SyncPage:
    return SyncPage(page, at)


def server_time_field() -> graphene.Field:
    return graphene.DateTime(
        description="增量同步：下次请求时作为 updatedSince 传回（服务器时间减去一个余量）"
    )


def resolve_server_time(root: Any, info: Any) -> datetime | None:
    return getattr(root, "server_time", None)


def stamp_text(row: Any, name: str = "updated_at") -> str:
    """A time column as written into a cursor: exactly what the database holds (SQLite's
    text keeps microseconds as written), in isoformat."""
    value = stored(row, name)
    if value.__class__ is str:
        text = value.replace(" ", "T", 1)
        return text if ("+" in text[10:] or text.endswith("Z")) else text + "+00:00"
    return value.astimezone(UTC).isoformat()


def change_key(row: Any) -> str:
    return f"u|{stamp_text(row)}|{row.id}"


def parse_change_cursor(after: str | None) -> tuple[datetime, int] | None:
    if after is None:
        return None
    try:
        tag, stamp, pk = decode_cursor(after).split("|")
        if tag != "u":
            raise ValueError(tag)
    except ValueError:
        raise BadUserInput("INVALID_CURSOR") from None
    return cursor_time(stamp), cursor_key(pk)


def change_page(rows: list[Any], size: int, key: Callable[[Any], str] = change_key) -> Page:
    edges = [Edge(row, encode_cursor(key(row))) for row in rows[:size]]
    return Page(edges, PageInfo(edges, len(rows) > size))
