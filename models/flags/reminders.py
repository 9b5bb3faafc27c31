"""A working day before a flag's response deadline, the township's officials are reminded."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from tortoise.transactions import in_transaction

from models.accounts import Role, RoleGrant
from models.audit import record_many
from models.disclosures.periods import SHANGHAI
from models.flags import Flag, FlagStatus
from models.flags.deadlines import calendar_between, is_working_day
from models.policy import Viewer
from models.regions import path_ids
from notifications.events import notify_many

SOURCE = "job:remind_flags_due"


async def next_working_day(day: date) -> tuple[bool, date]:
    """(whether `day` is a working day, the first working day after it)."""
    holidays, workdays = await calendar_between(day, day + timedelta(days=40))
    following = day + timedelta(days=1)
    while not is_working_day(following, holidays, workdays):
        following += timedelta(days=1)
    return is_working_day(day, holidays, workdays), following


async def officials_by_region(region_ids: set[int]) -> dict[int, set[int]]:
    """The officials granted on each of `region_ids` (one query for a batch of flags)."""
    rows = await RoleGrant.filter(
        role=Role.OFFICIAL, revoked_at=None, region_id__in=list(region_ids)
    ).values_list("region_id", "user_id")
    found: dict[int, set[int]] = defaultdict(set)
    for region_id, user_id in rows:
        found[region_id].add(user_id)
    return found


async def remind_flags_due(*, now: datetime | None = None) -> int:
    """On a working day, flags still unanswered whose deadline is the end of the next working
    day (or sooner) are reminded to the officials above their village, once per flag.

    The claim (`reminded_at`) and the notifications commit together: a rerun, or a retry
    after the commit, finds nothing left to remind. The payload names no flagger."""
    now = now or datetime.now(UTC)
    working, following = await next_working_day(now.astimezone(SHANGHAI).date())
    if not working:  # Friday's run covers a deadline on Monday
        return 0
    horizon = datetime.combine(following + timedelta(days=1), time(), SHANGHAI)
    async with in_transaction():
        # FOR UPDATE on PostgreSQL: a concurrent run waits, then sees `reminded_at` set
        flags = (
            await Flag.filter(
                status=FlagStatus.SUBMITTED,
                first_response_at=None,
                escalated_at=None,
                reminded_at=None,
                due_at__gt=now,
                due_at__lte=horizon.astimezone(UTC),
            )
            .select_for_update()
            .order_by("id")
        )
        if not flags:
            return 0
        await Flag.filter(id__in=[f.id for f in flags]).update(reminded_at=now)
        officials = await officials_by_region({r for f in flags for r in path_ids(f.region_path)})
        events = []
        for flag in flags:
            users = {u for r in path_ids(flag.region_path) for u in officials.get(r, ())}
            events.append((users, flag.id, {"due_at": flag.due_at.isoformat()}))
        await notify_many("FLAG_DUE_SOON", "Flag", events)
        await record_many(
            Viewer.for_system(SOURCE),
            "flag.remind",
            [(f, f.region_id, None, {"due_at": f.due_at.isoformat()}) for f in flags],
        )
    return len(flags)
