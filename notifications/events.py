"""Record notification events inside the domain's transaction; delivery comes later."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from tortoise import Tortoise

from models.notifications import NotificationEvent
from models.sql import is_postgres

SQLITE_ROWS_PER_UPSERT = 400


async def take_seqs(counts: dict[int, int]) -> dict[int, int]:
    """Reserve `counts[user]` sequence numbers per user; the last number taken for each. One
    upsert per batch, rows in user order so concurrent transactions lock them alike."""
    conn = Tortoise.get_connection("default")
    users = sorted(counts)
    last: dict[int, int] = {}
    if is_postgres(conn):
        found = await conn.execute_query_dict(
            "INSERT INTO notification_counter (user_id, last_seq)"
            " SELECT u, n FROM unnest($1::int[], $2::int[]) AS t(u, n) ORDER BY u"
            " ON CONFLICT (user_id) DO UPDATE"
            " SET last_seq = notification_counter.last_seq + excluded.last_seq"
            " RETURNING user_id, last_seq",
            [users, [counts[u] for u in users]],
        )
        last.update((r["user_id"], r["last_seq"]) for r in found)
    else:
        for start in range(0, len(users), SQLITE_ROWS_PER_UPSERT):
            chunk = users[start : start + SQLITE_ROWS_PER_UPSERT]
            marks = ", ".join(["(?, ?)"] * len(chunk))
            found = await conn.execute_query_dict(
                f"INSERT INTO notification_counter (user_id, last_seq) VALUES {marks}"
                " ON CONFLICT (user_id) DO UPDATE"
                " SET last_seq = notification_counter.last_seq + excluded.last_seq"
                " RETURNING user_id, last_seq",
                [v for u in chunk for v in (u, counts[u])],
            )
            last.update((r["user_id"], r["last_seq"]) for r in found)
    return last


async def insert(rows: list[NotificationEvent]) -> None:
    if not rows:
        return
    counts = Counter(r.user_id for r in rows)
    last = await take_seqs(counts)
    # each user's numbers in row order: the first row gets the lowest
    following = {u: last[u] - counts[u] + 1 for u in counts}
    for row in rows:
        row.seq = following[row.user_id]
        following[row.user_id] += 1
    await NotificationEvent.bulk_create(rows, batch_size=1000)
    from notifications.dispatch import enqueue_dispatch  # dispatch imports the channels

    await enqueue_dispatch([(u, last[u] - counts[u] + 1, last[u]) for u in sorted(counts)], None)


async def notify(
    user_ids: Iterable[int], kind: str, subject_type: str, subject_id: int, **payload: Any
) -> int:
    users = sorted(set(user_ids))
    await insert(
        [
            NotificationEvent(
                user_id=uid,
                kind=kind,
                subject_type=subject_type,
                subject_id=subject_id,
                payload=payload,
            )
            for uid in users
        ]
    )
    return len(users)


async def notify_many(
    kind: str, subject_type: str, events: Sequence[tuple[Iterable[int], int, dict[str, Any]]]
) -> int:
    """`notify` for many subjects in one statement: (user ids, subject id, payload) each."""
    rows = [
        NotificationEvent(
            user_id=uid, kind=kind, subject_type=subject_type, subject_id=subject, payload=payload
        )
        for users, subject, payload in events
        for uid in sorted(set(users))
    ]
    await insert(rows)
    return len(rows)


def rows_for(
    user_ids: Iterable[int], kind: str, subject_type: str, subject_id: int, **payload: Any
) -> list[NotificationEvent]:
    """The rows `notify` would record, to record several kinds with one `insert`."""
    return [
        NotificationEvent(
            user_id=uid,
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id,
            payload=payload,
        )
        for uid in sorted(set(user_ids))
    ]


async def notify_all(batches: Sequence[list[NotificationEvent]]) -> int:
    """Record several kinds (each from `rows_for`) in one insert. A transaction that notified
    overlapping user sets in two calls would lock their counter rows in two passes, which can
    deadlock against another such transaction on PostgreSQL; one call locks in user order."""
    rows = [row for batch in batches for row in batch]
    await insert(rows)
    return len(rows)
