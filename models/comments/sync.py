"""An item's comments changed since a time, for delta sync: read from the comment's own
`updated_at`, stamped by every change a reader can see, through the index on
(target, updated_at, id)."""

from __future__ import annotations

from datetime import datetime

from models.comments import Comment
from models.sql import changed_after


async def changed_since(
    target_type: str,
    target_id: int,
    since: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Comment]:
    """Up to `limit` of the item's comments and replies changed at or after `since`
    (tombstones included), ordered by (updated_at, id), after the keyset `after`."""
    qs = Comment.filter(target_type=target_type, target_id=target_id, updated_at__gte=since)
    if after is not None:
        qs = qs.filter(changed_after(after))
    return await qs.order_by("updated_at", "id").limit(limit)
