"""Admins build the region tree."""

from __future__ import annotations

from typing import Any

import graphene
from tortoise.exceptions import IntegrityError

from api.context import Context
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.regions.types import Region, RegionKind
from api.relay import fetch_input
from models.audit import record
from models.errors import UserError, UserErrors
from models.policy import Action
from models.regions import CHILD_KINDS, CODE_PREFIX, add_region
from models.regions import Region as RegionModel
from models.regions import RegionKind as Kind

NAME_MAX = 64


class CreateRegionInput(graphene.InputObjectType):
    parent_id = graphene.ID(description="上级区划；不填则为最上级（仅全系统管理员）")
    kind = RegionKind(required=True)
    name = graphene.String(required=True)
    code = graphene.String(description="12 位统计用区划代码（可选）")


def region_snapshot(region: RegionModel) -> dict[str, Any]:
    return {
        "name": region.name,
        "kind": str(region.kind),
        "code": region.code,
        "parent_id": region.parent_id,
        "path": region.path,
    }


class CreateRegion(BaseMutation):
    class Meta:
        name = "CreateRegionPayload"

    class Arguments:
        input = CreateRegionInput(required=True)

    region = graphene.Field(Region)

    permission = Action.REGION_CREATE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        parent = None
        if data.parent_id:
            parent = await fetch_input(RegionModel, data.parent_id, "Region", "parentId")
        cls.authorize(ctx, parent.path if parent else None)

        kind = Kind(enum_value(data.kind))
        name = (data.name or "").strip()
        code = (data.code or "").strip() or None
        errors = []
        parent_kind = parent.kind if parent else None
        if kind not in CHILD_KINDS[parent_kind]:
            errors.append(
                UserError(
                    "INVALID_REGION_KIND",
                    "kind",
                    {"kind": kind.value, "parent": parent_kind.value if parent_kind else "-"},
                )
            )
        if not 1 <= len(name) <= NAME_MAX:
            errors.append(UserError("INVALID_NAME", "name", {"max": NAME_MAX}))
        if code is not None:
            if not (len(code) == 12 and code.isdigit()):
                errors.append(UserError("INVALID_CODE", "code"))
            elif parent and parent.code:
                prefix = parent.code[: CODE_PREFIX[Kind(parent.kind)]]
                if not code.startswith(prefix):
                    errors.append(UserError("CODE_MISMATCH", "code", {"prefix": prefix}))
            if not errors and await RegionModel.exists(code=code):
                errors.append(UserError("CODE_TAKEN", "code"))
        if not errors and await RegionModel.exists(
            parent_id=parent.id if parent else None, name=name
        ):
            errors.append(UserError("NAME_TAKEN", "name"))
        if errors:
            raise UserErrors(*errors)

        try:
            region = await add_region(parent, kind, name, code)
        except IntegrityError:  # a concurrent create won the race for the name or code
            raise UserErrors(UserError("NAME_TAKEN", "name")) from None
        await record(
            ctx.viewer, "region.create", region, region_id=region.id, after=region_snapshot(region)
        )
        return {"region": region}
