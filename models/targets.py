"""What villagers talk about: the published items they may comment on or flag, and who may."""

from __future__ import annotations

from api.context import Context
from api.relay import fetch_input, from_global_id
from models.disclosures import Disclosure
from models.disclosures import Status as DisclosureStatus
from models.errors import Forbidden, UserError, UserErrors
from models.regions import covers


async def load_published_target(global_id: str, field: str = "targetId") -> Disclosure:
    """A published disclosure (account lines and projects join with their issues)."""
    try:
        kind, _ = from_global_id(global_id)
    except ValueError:
        raise UserErrors(UserError("INVALID_ID", field)) from None
    if kind != "Disclosure":
        raise UserErrors(UserError("NOT_COMMENTABLE", field))
    target = await fetch_input(Disclosure, global_id, "Disclosure", field)
    if target.status != DisclosureStatus.PUBLISHED:
        raise UserErrors(UserError("NOT_COMMENTABLE", field))
    return target


async def require_participant(ctx: Context, path: str, field: str = "targetId") -> None:
    """Staff covering the item, or a verified villager of a village under it."""
    user = ctx.viewer.require_user()
    home = await ctx.region_path(user.village_id) if user.village_id else None
    if not ctx.viewer.can_participate(path, home):
        if home and covers(path, home) and not user.residency_verified_at:
            raise UserErrors(UserError("RESIDENCY_REQUIRED", field))  # one step away
        raise Forbidden()
