"""Record notification events inside the domain's transaction; delivery comes later."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from models.notifications import NotificationEvent


async def notify(
    user_ids: Iterable[int], kind: str, subject_type: str, subject_id: int, **payload: Any
) -> int:
    users = sorted(set(user_ids))
    if users:
        await NotificationEvent.bulk_create(
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
    if rows:
        await NotificationEvent.bulk_create(rows, batch_size=1000)
    return len(rows)
