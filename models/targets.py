"""What villagers talk about: the published items they may comment on or flag, a disclosure
or one line of a published month."""

from __future__ import annotations

from dataclasses import dataclass

from models.disclosures import Disclosure
from models.disclosures import Status as DisclosureStatus
from models.errors import ErrorCode, fail
from models.policy import Viewer, readable_line, require_disclosure_readable

KINDS = ("Disclosure", "AccountLine")


@dataclass(frozen=True)
class Target:
    kind: str  # the comment's or flag's target_type
    id: int
    region_id: int
    region_path: str


async def load_published_target(
    viewer: Viewer, target_id: int, field: str = "targetId", *, target_type: str = "Disclosure"
) -> Target:
    """A published disclosure, or a line of a published version of a month (its region is
    the month's village); a draft answers NOT_FOUND like a missing id to whoever may not read
    it, and NOT_COMMENTABLE to staff who may."""
    if target_type == "AccountLine":
        found = await readable_line(viewer, target_id)
        if found is None:
            raise fail(ErrorCode.NOT_FOUND, field)
        if not found.published:
            raise fail(ErrorCode.NOT_COMMENTABLE, field)
        return Target("AccountLine", found.line.id, found.account.village_id, found.village_path)
    target = await Disclosure.get_or_none(id=target_id)
    if target is None:
        raise fail(ErrorCode.NOT_FOUND, field)
    require_disclosure_readable(viewer, target.status, target.region_path, field)
    if target.status != DisclosureStatus.PUBLISHED:
        raise fail(ErrorCode.NOT_COMMENTABLE, field)
    return Target("Disclosure", target.id, target.region_id, target.region_path)
