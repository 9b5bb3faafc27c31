"""The global ID of an item villagers comment on or flag, decoded for the domain."""

from __future__ import annotations

from api.relay import decode_id, from_global_id
from models.errors import ErrorCode, fail


def decode_target_id(global_id: str, field: str = "targetId") -> int:
    """The key of a disclosure's global ID: INVALID_ID when malformed, NOT_COMMENTABLE for
    an object of another kind."""
    try:
        kind, _ = from_global_id(global_id)
    except ValueError:
        raise fail(ErrorCode.INVALID_ID, field) from None
    if kind != "Disclosure":
        raise fail(ErrorCode.NOT_COMMENTABLE, field)
    return decode_id(global_id, "Disclosure", field)
