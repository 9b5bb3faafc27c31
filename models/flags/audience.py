"""Who hears about a flag: the officials above its village, and its flagger and supporters."""

from __future__ import annotations

from typing import cast

from models.accounts import Role, RoleGrant
from models.flags import Flag, FlagSupport
from models.regions import path_ids


async def staff_above(flag: Flag, role: Role) -> list[int]:
    """Users holding `role` on the flag's village or a region above it."""
    grants = await RoleGrant.filter(
        role=role, revoked_at=None, region_id__in=path_ids(flag.region_path)
    ).values_list("user_id", flat=True)
    return cast(list[int], grants)


async def followers(flag: Flag) -> list[int]:
    supporters = await FlagSupport.filter(flag_id=flag.id).values_list("user_id", flat=True)
    return [flag.flagger_id, *cast(list[int], supporters)]
