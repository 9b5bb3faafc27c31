"""Which send-back notes are current, and the checks the workflows make with them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models.disclosures import ReturnNote
from models.errors import ErrorCode, fail


async def close_return_notes(disclosure_id: int) -> None:
    """A resubmitted disclosure's notes are answered (call inside its transaction)."""
    await ReturnNote.filter(disclosure_id=disclosure_id, closed_at=None).update(
        closed_at=datetime.now(UTC)
    )


async def require_not_returned(field: str, **current: Any) -> None:
    """RETURNED while a note sent this back and nothing changed since (`current`: the
    staged correction's id, or the month and its version)."""
    note = await ReturnNote.filter(closed_at=None, **current).order_by("-id").first()
    if note is not None:
        raise fail(ErrorCode.RETURNED, field, reason=note.reason)
