"""Who is told about an event: the people a policy rule lets act on a region, or its residents.

Read from the role table (models/policy.py) so that a notification reaches exactly those who
may act on it, and nobody whose grants do not cover the object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from tortoise.expressions import Q

from models.accounts import Role, RoleGrant, User
from models.policy import RULES, Action
from models.regions import path_ids, subtree_range


async def granted_over(path: str, roles: Iterable[Role]) -> set[int]:
    """Active users holding one of `roles` on the region at `path`, a region above it, or
    system-wide (a grant covers its region and everything below it)."""
    wanted = list(roles)
    if not wanted:
        return set()
    rows = await RoleGrant.filter(
        Q(region_id__in=path_ids(path)) | Q(region_id__isnull=True),
        role__in=wanted,
        revoked_at=None,
        user__is_active=True,
    ).values_list("user_id", flat=True)
    return set(cast(list[int], rows))


async def allowed_to(action: Action, path: str) -> set[int]:
    """Those whose grants let them do `action` on the region at `path` (as `Viewer.can`)."""
    return await granted_over(path, RULES[action])


async def residents_below(path: str) -> set[int]:
    """Active villagers whose verified home village is the region at `path` or lies below it."""
    low, high = subtree_range(path)
    rows = await User.filter(
        village__path__gte=low,
        village__path__lt=high,
        residency_verified_at__not_isnull=True,
        is_active=True,
    ).values_list("id", flat=True)
    return set(cast(list[int], rows))
