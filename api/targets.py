"""The global ID of an item villagers comment on or flag, decoded for the domain."""

from __future__ import annotations

from api.relay import decode_id, from_global_id
from models.errors import ErrorCode, fail
from models.targets import KINDS


def decode_target(global_id: str, field: str = "targetId") -> tuple[str, int]:
    """(kind, key) of a disclosure's or an account line's global ID: INVALID_ID when
    malformed, NOT_COMMENTABLE for an object of another kind."""
    try:
        kind, _ = from_global_id(global_id)
    except ValueError:
        raise fail(ErrorCode.INVALID_ID, field) from None
    if kind not in KINDS:
        raise fail(ErrorCode.NOT_COMMENTABLE, field)
    return kind, decode_id(global_id, kind, field)
