"""What a signed-in reader keeps: the villages and townships they follow, what they have read."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from models.disclosures import Disclosure, Follow, ReadMark
from models.errors import ErrorCode, fail
from models.policy import Viewer, require_disclosure_readable
from models.regions import Region


async def load_region(region_id: int) -> Region:
    region = await Region.get_or_none(id=region_id)
    if region is None:
        raise fail(ErrorCode.NOT_FOUND, "regionId")
    return region


async def follow_region(viewer: Viewer, region_id: int) -> Region:
    """Follow a village or township (following it again is no error)."""
    user = viewer.require_user()
    region = await load_region(region_id)
    try:
        await Follow.get_or_create(user_id=user.id, region_id=region.id)
    except IntegrityError:  # a concurrent retry already made it
        pass
    return region


async def unfollow_region(viewer: Viewer, region_id: int) -> Region:
    user = viewer.require_user()
    region = await load_region(region_id)
    await Follow.filter(user_id=user.id, region_id=region.id).delete()
    return region


async def followed_regions(viewer: Viewer) -> list[Region]:
    user = viewer.require_user()
    region_ids = await Follow.filter(user_id=user.id).values_list("region_id", flat=True)
    return await Region.filter(id__in=list(region_ids))


async def mark_read(viewer: Viewer, disclosure_id: int) -> Disclosure:
    """Remember that the viewer has read a disclosure they may read."""
    user = viewer.require_user()
    disclosure = await Disclosure.get_or_none(id=disclosure_id)
    if disclosure is None:
        raise fail(ErrorCode.NOT_FOUND, "id")
    require_disclosure_readable(viewer, disclosure.status, disclosure.region_path, "id")
    try:
        await ReadMark.get_or_create(user_id=user.id, disclosure_id=disclosure.id)
    except IntegrityError:
        pass
    return disclosure
