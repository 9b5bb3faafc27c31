"""Tables of values a process has already worked out, each bounded."""

from __future__ import annotations

from typing import Any


class Kept(dict):
    """A dict emptied when it reaches `limit` entries: for values cheap to work out again
    (an encoding, a check already passed), where a client sending ever new keys must not
    grow a process's memory without end. Read with `get`; add with `keep`."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: Any, value: Any) -> Any:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
