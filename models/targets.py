"""What villagers talk about: the published items they may comment on or flag."""

from __future__ import annotations

from models.disclosures import Disclosure
from models.disclosures import Status as DisclosureStatus
from models.errors import ErrorCode, fail
from models.policy import Viewer, require_disclosure_readable


async def load_published_target(
    viewer: Viewer, target_id: int, field: str = "targetId"
) -> Disclosure:
    """A published disclosure (account lines and projects join with their issues); a draft
    answers NOT_FOUND like a missing id to whoever may not read it."""
    target = await Disclosure.get_or_none(id=target_id)
    if target is None:
        raise fail(ErrorCode.NOT_FOUND, field)
    require_disclosure_readable(viewer, target.status, target.region_path, field)
    if target.status != DisclosureStatus.PUBLISHED:
        raise fail(ErrorCode.NOT_COMMENTABLE, field)
    return target
