"""Admins build the region tree."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.regions.types import Region, RegionKind
from api.relay import decode_id
from models.policy import Action
from models.regions import RegionKind as Kind
from models.regions.operations import create_region


class CreateRegionInput(graphene.InputObjectType):
    parent_id = graphene.ID(description="上级区划；不填则为最上级（仅全系统管理员）")
    kind = RegionKind(required=True)
    name = graphene.String(required=True)
    code = graphene.String(description="12 位统计用区划代码（可选）")


class CreateRegion(BaseMutation):
    class Meta:
        name = "CreateRegionPayload"

    class Arguments:
        input = CreateRegionInput(required=True)

    region = graphene.Field(Region)

    permission = Action.REGION_CREATE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        parent_id = decode_id(data.parent_id, "Region", "parentId") if data.parent_id else None
        region = await create_region(
            ctx.viewer, parent_id, Kind(enum_value(data.kind)), data.name, data.code
        )
        return {"region": region}
