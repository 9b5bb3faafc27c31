"""Routing recorded events to SMS and WeChat by each user's preferences: IMMEDIATE (or an
`urgent` event, unless the channel is OFF) enqueues a `deliver` job per event and channel
now; DIGEST waits for the evening digest (notifications/digest.py); OFF never sends.
Inbox and live always have every event."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from models.accounts import User
from models.jobs.queue import NewJob, enqueue_many
from models.notifications import NotificationEvent
from notifications.preferences import Channel, Mode, effective_for

DELIVER = "deliver"
USERS_PER_READ = 2000


async def wechat_bound(user_ids: Sequence[int]) -> set[int]:
    """The users with a WeChat binding. THE place WeChat is wired in: the channels work adds
    the binding model; until then nobody has one."""
    return set()


async def channels_available(user_ids: Iterable[int]) -> dict[int, set[Channel]]:
    """The channels each user can be reached on beyond the inbox: SMS for an active user
    with a verified phone, WeChat for a bound one."""
    users = sorted(set(user_ids))
    found: dict[int, set[Channel]] = {u: set() for u in users}
    for start in range(0, len(users), USERS_PER_READ):
        chunk = users[start : start + USERS_PER_READ]
        verified: list[int] = await User.filter(  # type: ignore[assignment]
            id__in=chunk, is_active=True, phone_verified_at__isnull=False
        ).values_list("id", flat=True)
        for uid in verified:
            found[uid].add(Channel.SMS)
        for uid in await wechat_bound(chunk):
            found[uid].add(Channel.WECHAT)
    return found


def deliver_job(user_id: int, channel: Channel, event_ids: list[int], digest: str | None) -> NewJob:
    """One `deliver` job: one message. Its unique key makes a rerun enqueue nothing while
    the first job is queued or running."""
    tail = f"digest-{digest}" if digest else str(event_ids[0])
    return NewJob(
        DELIVER,
        {
            "user_id": user_id,
            "channel": str(channel),
            "event_ids": event_ids,
            "digest": digest is not None,
        },
        unique_key=f"{DELIVER}:{channel}:{user_id}:{tail}",
    )


async def route(events: Sequence[NotificationEvent], now: datetime) -> None:
    """Enqueue the deliveries each user's preferences ask for now, in one statement."""
    if not events:
        return
    users = sorted({e.user_id for e in events})
    reachable = await channels_available(users)
    wanted = [u for u in users if reachable[u]]
    if not wanted:  # most villagers: no verified phone, no WeChat
        return
    prefs = await effective_for(wanted)
    jobs: list[NewJob] = []
    for event in events:
        for channel in sorted(reachable.get(event.user_id, ())):
            mode = prefs[event.user_id].mode(event.kind, channel)
            urgent = bool((event.payload or {}).get("urgent"))
            if mode == Mode.IMMEDIATE or (urgent and mode != Mode.OFF):
                jobs.append(deliver_job(event.user_id, channel, [event.id], None))
    await enqueue_many(jobs, now)
