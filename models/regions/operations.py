"""Admins build the region tree: one operation, with its checks and its audit entry."""

from __future__ import annotations

from typing import Any, cast

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.audit import record
from models.errors import ErrorCode, UserError, UserErrors, fail
from models.policy import SYSTEM, Action, Viewer
from models.regions import CHILD_KINDS, CODE_PREFIX, Region, RegionKind, add_region

NAME_MAX = 64


async def region_path(region_id: int | None) -> str:
    """The path of a region, SYSTEM for none (or one that no longer exists)."""
    if region_id is None:
        return SYSTEM
    path = await Region.filter(id=region_id).first().values_list("path", flat=True)
    return cast("str | None", path) or SYSTEM


def region_snapshot(region: Region) -> dict[str, Any]:
    return {
        "name": region.name,
        "kind": str(region.kind),
        "code": region.code,
        "parent_id": region.parent_id,
        "path": region.path,
    }


async def new_region_errors(
    parent: Region | None, kind: RegionKind, name: str, code: str | None
) -> list[UserError]:
    """What is wrong with a new region below `parent` (its name and code already stripped)."""
    errors: list[UserError] = []
    parent_kind = RegionKind(parent.kind) if parent else None
    if kind not in CHILD_KINDS[parent_kind]:
        errors.append(
            UserError(
                ErrorCode.INVALID_REGION_KIND,
                "kind",
                {"kind": kind.value, "parent": parent_kind.value if parent_kind else "-"},
            )
        )
    if not 1 <= len(name) <= NAME_MAX:
        errors.append(UserError(ErrorCode.INVALID_NAME, "name", {"max": NAME_MAX}))
    if code is not None:
        if not (len(code) == 12 and code.isdigit()):
            errors.append(UserError(ErrorCode.INVALID_CODE, "code"))
        elif parent and parent.code:
            prefix = parent.code[: CODE_PREFIX[RegionKind(parent.kind)]]
            if not code.startswith(prefix):
                errors.append(UserError(ErrorCode.CODE_MISMATCH, "code", {"prefix": prefix}))
        if not errors and await Region.exists(code=code):
            errors.append(UserError(ErrorCode.CODE_TAKEN, "code"))
    if not errors and await Region.exists(parent_id=parent.id if parent else None, name=name):
        errors.append(UserError(ErrorCode.NAME_TAKEN, "name"))
    return errors


async def create_region(
    viewer: Viewer, parent_id: int | None, kind: RegionKind, name: str, code: str | None
) -> Region:
    """A region below `parent_id` (None: at the top, for system-wide admins only)."""
    try:
        async with in_transaction():
            parent = None
            if parent_id is not None:
                parent = await Region.get_or_none(id=parent_id)
                if parent is None:
                    raise fail(ErrorCode.NOT_FOUND, "parentId")
            viewer.require(Action.REGION_CREATE, parent.path if parent else None)
            name = (name or "").strip()
            code = (code or "").strip() or None
            errors = await new_region_errors(parent, kind, name, code)
            if errors:
                raise UserErrors(*errors)
            region = await add_region(parent, kind, name, code)
            await record(
                viewer, "region.create", region, region_id=region.id, after=region_snapshot(region)
            )
    except IntegrityError:  # a concurrent create won the race for the name or code
        raise fail(ErrorCode.NAME_TAKEN, "name") from None
    return region
