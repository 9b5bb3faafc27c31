"""A user's inbox: their notifications, newest first, and marking them read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.queryset import QuerySet

from models.errors import ErrorCode, UserError, UserErrors
from models.notifications import NotificationEvent
from models.policy import Viewer

MAX_IDS = 500  # a page or a few; `all` marks everything


def inbox(viewer: Viewer, unread_only: bool = False) -> QuerySet[NotificationEvent]:
    qs = NotificationEvent.filter(user_id=viewer.require_user().id)
    return qs.filter(read_at=None) if unread_only else qs


async def unread_count(viewer: Viewer) -> int:
    return await inbox(viewer, unread_only=True).count()


async def own_notification(viewer: Viewer, pk: int) -> NotificationEvent | None:
    """The viewer's notification `pk`; None for a missing one or someone else's."""
    if viewer.user is None:
        return None
    return await NotificationEvent.get_or_none(id=pk, user_id=viewer.user.id)


async def mark_read(viewer: Viewer, ids: Sequence[int], everything: bool, now: datetime) -> int:
    """Mark the viewer's notifications read: `ids`, or all when `everything`. Someone else's
    id answers like a missing one and nothing is marked. Already read ones keep their time."""
    qs = inbox(viewer, unread_only=True)
    if len(ids) > MAX_IDS:  # 33,000 ids overran PostgreSQL's parameter limit: a 500
        raise UserErrors(UserError(ErrorCode.TOO_MANY_ITEMS, "ids", {"max": MAX_IDS}))
    if not everything:
        wanted = set(ids)
        mine = set(await inbox(viewer).filter(id__in=list(wanted)).values_list("id", flat=True))
        if wanted - mine:
            raise UserErrors(UserError(ErrorCode.NOT_FOUND, "ids"))
        qs = qs.filter(id__in=list(wanted))
    return await qs.update(read_at=now)
