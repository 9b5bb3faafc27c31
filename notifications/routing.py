"""Routing recorded events to SMS and WeChat by each user's preferences: IMMEDIATE (or an
`urgent` event, unless the channel is OFF) enqueues a `deliver` job per event and channel
now; DIGEST waits for the evening digest (notifications/digest.py); OFF never sends.
Inbox and live always have every event."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.jobs.queue import NewJob, enqueue_many
from models.notifications import NotificationEvent
from models.sql import is_postgres
from notifications.channels import sms_reachable, wechat_bound
from notifications.preferences import Channel, Mode, effective_for

DELIVER = "deliver"
USERS_PER_READ = 2000


async def channels_available(user_ids: Iterable[int]) -> dict[int, set[Channel]]:
    """The channels each user can be reached on beyond the inbox: SMS for an active user
    with a verified phone, WeChat for a bound one."""
    users = sorted(set(user_ids))
    found: dict[int, set[Channel]] = {u: set() for u in users}
    for uid in await sms_reachable(users):
        found[uid].add(Channel.SMS)
    for uid in await wechat_bound(users):
        found[uid].add(Channel.WECHAT)
    return found


def deliver_job(user_id: int, channel: Channel, event_ids: list[int], digest: str | None) -> NewJob:
    """One `deliver` job: one message. Its unique key keeps out a duplicate while the first
    is queued or running; the RoutedEvent / DigestRun claims keep it out after that."""
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
    jobs: dict[int, list[NewJob]] = defaultdict(list)
    for event in events:
        for channel in sorted(reachable.get(event.user_id, ())):
            mode = prefs[event.user_id].mode(event.kind, channel)
            urgent = bool((event.payload or {}).get("urgent"))
            if mode == Mode.IMMEDIATE or (urgent and mode != Mode.OFF):
                jobs[event.id].append(deliver_job(event.user_id, channel, [event.id], None))
    if not jobs:
        return
    async with in_transaction() as conn:
        fresh = await claim_events(conn, sorted(jobs), now)
        await enqueue_many([j for e in sorted(fresh) for j in jobs[e]], now)


async def claim_events(conn: BaseDBAsyncClient, event_ids: list[int], now: datetime) -> set[int]:
    """Claim the events for routing in one statement; those no earlier run claimed."""
    at = now.astimezone(UTC)
    if is_postgres(conn):
        rows = await conn.execute_query_dict(
            "INSERT INTO routed_event (event_id, created_at)"
            " SELECT e, $2 FROM unnest($1::bigint[]) AS t(e)"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            [event_ids, at],
        )
    else:
        rows = await conn.execute_query_dict(
            "INSERT INTO routed_event (event_id, created_at)"
            " SELECT value, ? FROM json_each(?) WHERE true"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            [at, json.dumps(event_ids)],
        )
    return {r["event_id"] for r in rows}
