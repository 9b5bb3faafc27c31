"""Who hears about a flag: the officials above its village, and its flagger and supporters."""

from __future__ import annotations

from typing import cast

from models.accounts import Role
from models.audience import granted_over
from models.flags import Flag, FlagSupport


async def staff_above(flag: Flag, role: Role) -> list[int]:
    """Active users holding `role` on the flag's village or a region above it."""
    return sorted(await granted_over(flag.region_path, [role]))


async def followers(flag: Flag) -> list[int]:
    supporters = await FlagSupport.filter(flag_id=flag.id).values_list("user_id", flat=True)
    return [flag.flagger_id, *cast(list[int], supporters)]
