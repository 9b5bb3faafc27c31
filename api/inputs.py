"""Decoding what clients send: graphene's input values into the plain values operations take."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from models.errors import BadUserInput


def enum_value(value: Any) -> Any:
    """graphene hands enum arguments over as members; the ORM wants the plain value."""
    return getattr(value, "value", value)


# What a date can hold: year+1 of the last year still makes a date.
MIN_YEAR, MAX_YEAR = 1, 9998


def year_arg(year: int) -> int:
    """A year given as a query argument, BAD_USER_INPUT when no date can carry it."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadUserInput("INVALID_MONTH")
    return year


def month_arg(year: int, month: int) -> tuple[int, int]:
    """A (year, month) given as query arguments, BAD_USER_INPUT when out of range."""
    if not 1 <= month <= 12:
        raise BadUserInput("INVALID_MONTH")
    return year_arg(year), month


def date_arg(day: date) -> date:
    """A date given as a query argument: a day a time zone can still be applied to."""
    if not 1900 <= day.year <= MAX_YEAR:
        raise BadUserInput("INVALID_DATE")
    return day


def datetime_arg(at: datetime | None) -> datetime | None:
    """A time given as a query argument, in UTC: one without a zone is taken as UTC, and one
    whose year cannot be stored is refused (as `date_arg`)."""
    if at is None:
        return None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    if not 1900 <= at.year <= MAX_YEAR:
        raise BadUserInput("INVALID_DATE")
    return at.astimezone(UTC)
