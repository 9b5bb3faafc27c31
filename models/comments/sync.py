"""When a comment last changed, for delta sync.

The comment table keeps no `updated_at`; every change to a comment (added, edited, hidden,
restored, reported, deleted) writes an audit entry in the same transaction, so its last
change is the later of its creation and its newest audit entry. A disclosure holds a few
hundred comments at most: its whole list is read and sorted here (two statements).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.functions import Max

from models.audit import AuditEntry
from models.comments import Comment


def as_time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def last_changes(ids: list[int]) -> dict[int, datetime]:
    """comment id → its newest audit entry's time (one grouped statement)."""
    if not ids:
        return {}
    rows = (
        await AuditEntry.filter(object_type="Comment", object_id__in=[str(i) for i in ids])
        .group_by("object_id")
        .annotate(last=Max("at"))
        .values("object_id", "last")
    )
    return {int(r["object_id"]): as_time(r["last"]) for r in rows if r["last"] is not None}


def updated_at(comment: Any, audited: dict[int, datetime]) -> datetime:
    times = [as_time(comment.created_at)]
    if comment.edited_at is not None:
        times.append(as_time(comment.edited_at))
    if comment.id in audited:
        times.append(audited[comment.id])
    return max(times)


async def changed_since(
    target_type: str, target_id: int, since: datetime, after: tuple[datetime, int] | None
) -> list[Any]:
    """The item's comments and replies changed at or after `since` (tombstones included),
    ordered by (last change, id), after the keyset `after`; each carries `updated_at`."""
    comments = await Comment.filter(target_type=target_type, target_id=target_id)
    audited = await last_changes([c.id for c in comments])
    changed: list[Any] = []
    for comment in comments:
        at = updated_at(comment, audited)
        if at < since or (after is not None and (at, comment.id) <= after):
            continue
        comment.updated_at = at  # served as updatedAt
        changed.append(comment)
    changed.sort(key=lambda c: (c.updated_at, c.id))
    return changed
