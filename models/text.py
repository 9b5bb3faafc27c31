"""Free text from users: trimmed, folded and bounded, or a UserError naming the field."""

from __future__ import annotations

from models.errors import ErrorCode, UserError, UserErrors

REASON_MAX = 500


def clean_text(
    text: str | None, field: str, low: int, high: int, code: ErrorCode, *, fold: bool = False
) -> str:
    """Trimmed text of `low`..`high` characters (whitespace folded if asked), or a UserError."""
    value = " ".join((text or "").split()) if fold else (text or "").strip()
    if not low <= len(value) <= high:
        raise UserErrors(UserError(code, field, {"min": low, "max": high}))
    return value


def clean_reason(text: str | None, field: str = "reason", high: int = REASON_MAX) -> str:
    """A public reason or note: at least two characters."""
    return clean_text(text, field, 2, high, ErrorCode.REASON_REQUIRED, fold=True)
