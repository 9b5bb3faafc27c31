"""Periods (2026-03, 2026-Q1, 2026-H1, 2026) and when each one's disclosures are due."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.disclosures import Frequency

SHANGHAI = ZoneInfo("Asia/Shanghai")
PATTERNS = {
    Frequency.MONTHLY: re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$", re.ASCII),
    Frequency.QUARTERLY: re.compile(r"^(\d{4})-Q([1-4])$", re.ASCII),
    Frequency.HALF_YEARLY: re.compile(r"^(\d{4})-H([12])$", re.ASCII),
    Frequency.YEARLY: re.compile(r"^(\d{4})$", re.ASCII),
}
# Defaults where no region sets its own: the 10th of the next month for monthly accounts,
# the 20th of the month after a quarter or half year, the end of January for the year.
DEFAULT_DUE_DAY = {
    Frequency.MONTHLY: 10,
    Frequency.QUARTERLY: 20,
    Frequency.HALF_YEARLY: 20,
    Frequency.YEARLY: 31,
}


@dataclass(frozen=True)
class Period:
    text: str
    frequency: Frequency
    first_month: date  # first day of the period
    last_month: date  # first day of its last month


def parse_period(text: str) -> Period | None:
    for frequency, pattern in PATTERNS.items():
        match = pattern.match(text or "")
        if not match:
            continue
        year = int(match.group(1))
        if not 1900 <= year <= 9998:  # its due date must still be a date, in any time zone
            return None
        if frequency == Frequency.MONTHLY:
            start, months = int(match.group(2)), 1
        elif frequency == Frequency.QUARTERLY:
            start, months = (int(match.group(2)) - 1) * 3 + 1, 3
        elif frequency == Frequency.HALF_YEARLY:
            start, months = (int(match.group(2)) - 1) * 6 + 1, 6
        else:
            start, months = 1, 12
        last = start + months - 1
        return Period(text, frequency, date(year, start, 1), date(year, last, 1))
    return None


def due_at(period: Period, day: int) -> datetime:
    """The end of the due day (Asia/Shanghai) in the month after the period, in UTC."""
    year, month = period.last_month.year, period.last_month.month + 1
    if month == 13:
        year, month = year + 1, 1
    day = min(day, calendar.monthrange(year, month)[1])
    local = datetime.combine(date(year, month, day) + timedelta(days=1), time(), SHANGHAI)
    return local.astimezone(UTC)


def local_start(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI).astimezone(UTC)


def periods_due_between(start: date, end: date) -> list[Period]:
    """Periods that may fall due in [start, end) for some due day (each village's exact
    deadline is checked against the range later)."""
    found = []
    for year in range(start.year - 1, end.year + 1):
        texts = [f"{year}-{m:02d}" for m in range(1, 13)] + [f"{year}-Q{q}" for q in range(1, 5)]
        texts += [f"{year}-H1", f"{year}-H2", str(year)]
        for text in texts:
            period = parse_period(text)
            assert period is not None
            if due_at(period, 1) < local_start(end) and due_at(period, 31) >= local_start(start):
                found.append(period)
    return found
