"""Overdue flags go to the county: run hourly by the scheduler."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from models.accounts import Role
from models.audit import record
from models.flags import Flag, FlagEvent, FlagEventKind, FlagStatus
from models.flags.audience import followers, staff_above
from models.policy import Viewer
from notifications.events import notify_all, rows_for

SOURCE = "job:escalate_overdue_flags"


async def escalate_overdue_flags(now: datetime | None = None) -> int:
    """Flags with no official response by their due time are escalated to the county's
    inspectors, once, with a public timeline entry, an audit entry and notifications."""
    now = now or datetime.now(UTC)
    system = Viewer.for_system(SOURCE)
    overdue = await Flag.filter(
        status=FlagStatus.SUBMITTED, first_response_at=None, escalated_at=None, due_at__lt=now
    )
    for flag in overdue:
        async with in_transaction():
            # updated_at by the real clock, as auto_now stamps it: delta sync reads it
            won = await Flag.filter(id=flag.id, escalated_at=None).update(
                escalated_at=now, updated_at=datetime.now(UTC)
            )
            if not won:  # another worker escalated it
                continue
            await FlagEvent.create(
                flag=flag, kind=FlagEventKind.ESCALATED, note="逾期未答复，已转县纪委", at=now
            )
            await record(
                system,
                "flag.escalate",
                flag,
                region_id=flag.region_id,
                after={"due_at": flag.due_at.isoformat()},
            )
            inspectors, told = await staff_above(flag, Role.INSPECTOR), await followers(flag)
            await notify_all(  # one insert: the two sets may overlap (see `notify_all`)
                [
                    rows_for(inspectors, "FLAG_ESCALATED", "Flag", flag.id),
                    rows_for(told, "FLAG_STATUS", "Flag", flag.id, status="ESCALATED"),
                ]
            )
    return len(overdue)
