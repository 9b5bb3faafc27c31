"""What a signed-in reader keeps: the villages and townships they follow, what they have read."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.audit import record
from models.disclosures import Disclosure, Follow, ReadMark
from models.errors import ErrorCode, fail
from models.policy import Viewer, require_disclosure_readable
from models.regions import Region


async def load_region(region_id: int) -> Region:
    region = await Region.get_or_none(id=region_id)
    if region is None:
        raise fail(ErrorCode.NOT_FOUND, "regionId")
    return region


MAX_FOLLOWS = 200  # a person follows their village and a few others, not a province


async def follow_region(viewer: Viewer, region_id: int) -> Region:
    """Follow a region (a village, or a township or county for everything below it);
    following it again is no error and changes nothing. The audit log has each change."""
    user = viewer.require_user()
    region = await load_region(region_id)
    async with in_transaction():
        if await Follow.exists(user_id=user.id, region_id=region.id):
            return region
        if await Follow.filter(user_id=user.id).count() >= MAX_FOLLOWS:
            raise fail(ErrorCode.TOO_MANY_FOLLOWS, "regionId", max=MAX_FOLLOWS)
        try:
            async with in_transaction():  # a savepoint: a concurrent retry may have made it
                await Follow.create(user_id=user.id, region_id=region.id)
        except IntegrityError:
            return region
        # whom one follows is private: no region, so the region's staff do not list it
        await record(viewer, "region.follow", region, region_id=None)
    return region


async def unfollow_region(viewer: Viewer, region_id: int) -> Region:
    user = viewer.require_user()
    region = await load_region(region_id)
    async with in_transaction():
        if await Follow.filter(user_id=user.id, region_id=region.id).delete():
            await record(viewer, "region.unfollow", region, region_id=None)
    return region


def my_follows(viewer: Viewer) -> QuerySet[Follow]:
    """The viewer's own follows (for a keyset page by id)."""
    return Follow.filter(user_id=viewer.require_user().id)


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
