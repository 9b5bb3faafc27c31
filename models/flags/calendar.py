"""The national holiday table that response deadlines count working days by."""

from __future__ import annotations

from datetime import date

from tortoise.transactions import in_transaction

from models.audit import record
from models.errors import ErrorCode
from models.flags import Holiday
from models.policy import Viewer, require_calendar_editor
from models.text import clean_text

NAME_MAX = 40


async def set_holiday(
    viewer: Viewer, day: date, name: str | None, *, workday: bool = False, remove: bool = False
) -> Holiday | None:
    """Mark `day` a holiday, or a weekend worked (`workday`); `remove` takes it off the table.
    The calendar is national: only system-wide admins keep it."""
    require_calendar_editor(viewer)
    async with in_transaction():
        if remove:
            existing = await Holiday.get_or_none(day=day)
            if existing is not None:
                await record(
                    viewer,
                    "holiday.remove",
                    existing,
                    region_id=None,
                    before={"day": day.isoformat(), "name": existing.name},
                )
                await existing.delete()
            return None
        label = clean_text(name, "name", 1, NAME_MAX, ErrorCode.INVALID_NAME, fold=True)
        holiday, _ = await Holiday.update_or_create(
            day=day, defaults={"name": label, "workday": workday}
        )
        await record(
            viewer,
            "holiday.set",
            holiday,
            region_id=None,
            after={"day": day.isoformat(), "name": label, "workday": workday},
        )
    return holiday
