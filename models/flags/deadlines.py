"""Response deadlines in working days: weekends and the holiday table skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from models.disclosures.periods import SHANGHAI
from models.flags import Holiday


async def calendar_between(start: date, end: date) -> tuple[set[date], set[date]]:
    """(holidays, weekend days that are working days) in [start, end]."""
    rows = await Holiday.filter(day__gte=start, day__lte=end)
    return {r.day for r in rows if not r.workday}, {r.day for r in rows if r.workday}


def is_working_day(day: date, holidays: set[date], workdays: set[date]) -> bool:
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


async def due_after(submitted: datetime, working_days: int) -> datetime:
    """The end (Beijing time) of the Nth working day after the day of submission."""
    start = submitted.astimezone(SHANGHAI).date()
    holidays, workdays = await calendar_between(
        start, start + timedelta(days=working_days * 3 + 30)
    )
    day, counted = start, 0
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(day, holidays, workdays):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(), SHANGHAI).astimezone(UTC)
