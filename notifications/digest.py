"""The evening digest (20:00 Beijing time): for each user, the events recorded since their
last digest whose category they take as DIGEST on a channel become one `deliver` job per
(user, channel). A DigestRun row per user and digest day, claimed in the same transaction
as the jobs, makes a rerun or a second scheduler enqueue nothing; its `last_event_id` is
the watermark the next digest starts after."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from models.jobs.queue import NewJob, enqueue_many
from models.notifications import DigestRun, NotificationEvent
from models.sql import Params, is_postgres
from notifications.preferences import Channel, Mode, effective_for
from notifications.routing import channels_available, deliver_job

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIGEST_HOUR = 20
LOOKBACK = timedelta(days=3)  # events older than this are not news any more
USERS_PER_BATCH = 500


def digest_day(now: datetime) -> str:
    """The digest day a run belongs to: from 20:00 one evening to 20:00 the next, named by
    the first evening, so a run missed and made up after midnight still counts for it."""
    local = now.astimezone(SHANGHAI) - timedelta(hours=DIGEST_HOUR)
    return local.date().isoformat()


async def send_digests(now: datetime | None = None) -> int:
    """Enqueue tonight's digests; the number of deliver jobs enqueued."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    since = now - LOOKBACK
    found: list[int] = (
        await NotificationEvent.filter(  # type: ignore[assignment]
            created_at__gt=since, created_at__lte=now
        )
        .distinct()
        .values_list("user_id", flat=True)
    )
    users = sorted(set(found))
    sent = 0
    for start in range(0, len(users), USERS_PER_BATCH):
        sent += await digest_batch(users[start : start + USERS_PER_BATCH], now, since)
    return sent


async def digest_batch(users: list[int], now: datetime, since: datetime) -> int:
    reachable = await channels_available(users)
    users = [u for u in users if reachable[u]]
    if not users:
        return 0
    day = digest_day(now)
    prefs = await effective_for(users)
    marks = {
        r["user_id"]: r["mark"]
        for r in await DigestRun.filter(user_id__in=users)
        .annotate(mark=Max("last_event_id"))
        .group_by("user_id")
        .values("user_id", "mark")
    }
    events = await NotificationEvent.filter(
        user_id__in=users, created_at__gt=since, created_at__lte=now
    ).order_by("id")
    bundles: dict[tuple[int, Channel], list[int]] = defaultdict(list)
    last: dict[int, int] = {}
    for e in events:
        if e.id <= (marks.get(e.user_id) or 0):
            continue
        if (e.payload or {}).get("urgent") or e.read_at is not None:  # sent, or seen in the app
            continue
        for channel in reachable[e.user_id]:
            if prefs[e.user_id].mode(e.kind, channel) == Mode.DIGEST:
                bundles[(e.user_id, channel)].append(e.id)
                last[e.user_id] = e.id
    if not last:
        return 0
    async with in_transaction() as conn:
        claimed = await claim(conn, last, day, bundles, now)
        jobs: list[NewJob] = [
            deliver_job(user, channel, ids, day)
            for (user, channel), ids in sorted(bundles.items())
            if user in claimed
        ]
        await enqueue_many(jobs, now)
    return len(jobs)


async def claim(
    conn: BaseDBAsyncClient,
    last: dict[int, int],
    day: str,
    bundles: dict[tuple[int, Channel], list[int]],
    now: datetime,
) -> set[int]:
    """Insert the day's DigestRun rows in one statement; the users whose row is new."""
    p = Params(is_postgres(conn))
    counts: dict[int, int] = defaultdict(int)
    for (user, _), ids in bundles.items():
        counts[user] = max(counts[user], len(ids))
    values = ", ".join(
        f"({p(u)}, {p(day)}, {p(last[u])}, {p(counts[u])}, {p(now)})" for u in sorted(last)
    )
    rows = await conn.execute_query_dict(
        "INSERT INTO digest_run (user_id, day, last_event_id, events, created_at)"
        f" VALUES {values} ON CONFLICT (user_id, day) DO NOTHING RETURNING user_id",
        p.values,
    )
    return {r["user_id"] for r in rows}
