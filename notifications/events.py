"""Record notification events inside the domain's transaction; delivery comes later."""

from __future__ import annotations

from collections.abc import Iterable
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
