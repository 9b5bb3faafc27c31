"""After notifications are recorded: one job per batch, committed with them (the outbox),
tells live subscribers and routes each event to the user's other channels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from models.jobs.handlers import JobContext, job_handler
from models.jobs.queue import enqueue
from models.notifications import NotificationEvent
from notifications import live, routing

DISPATCH = "notify_dispatch"
USERS_PER_READ = 1000


async def enqueue_dispatch(ranges: Sequence[tuple[int, int, int]], now: datetime | None) -> None:
    """`ranges`: (user id, first seq, last seq) of what was just recorded, in the caller's
    transaction, so the job exists exactly when the notifications do."""
    if not ranges:
        return
    users, first, last = (list(c) for c in zip(*ranges, strict=True))
    await enqueue(DISPATCH, {"users": users, "first": first, "last": last}, now=now)


async def load_events(payload: dict[str, Any]) -> list[NotificationEvent]:
    wanted = {
        u: (f, last)
        for u, f, last in zip(payload["users"], payload["first"], payload["last"], strict=True)
    }
    users = sorted(wanted)
    found: list[NotificationEvent] = []
    for start in range(0, len(users), USERS_PER_READ):
        chunk = users[start : start + USERS_PER_READ]
        lowest = min(wanted[u][0] for u in chunk)
        rows = await NotificationEvent.filter(user_id__in=chunk, seq__gte=lowest)
        found += [r for r in rows if wanted[r.user_id][0] <= r.seq <= wanted[r.user_id][1]]
    found.sort(key=lambda r: (r.user_id, r.seq))
    return found


@job_handler(DISPATCH)
async def dispatch(ctx: JobContext) -> int:
    # run again after a crash, both steps must be harmless: live subscribers drop a seq they
    # have seen, routing enqueues deliveries under unique keys
    events = await load_events(ctx.payload)
    await live.publish(events)
    await routing.route(events, ctx.now)
    return len(events)
