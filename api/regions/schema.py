"""Region queries and mutations, merged into the root types by api.schema."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Info
from api.loaders import RegionLoader
from api.regions.mutations import CreateRegion
from api.regions.types import Region, RegionConnection, RegionKind, region_page
from api.relay import argument_id, connection_args
from models.errors import NotFound


async def load_region_by_global_id(info: Info, global_id: str) -> Any:
    _, pk = argument_id(global_id, "Region")
    # by_id: straight from the process's region cache, without a loader's future and the
    # turn of the event loop its batch waits for
    region = (await info.context.loaders.by_id(RegionLoader, {pk})).get(pk)
    if region is None:
        raise NotFound()
    return region


class RegionQueries(graphene.ObjectType):
    region = graphene.Field(Region, id=graphene.ID(required=True))
    regions = graphene.Field(
        RegionConnection,
        required=True,
        parent_id=graphene.ID(description="上级；与 kind 同用时返回其下所有该层级区划"),
        kind=graphene.Argument(RegionKind),
        **connection_args(),
        description="不给 parentId 时返回最上级区划（或给定层级的全部区划）",
    )

    @staticmethod
    async def resolve_region(root: Any, info: Info, id: str) -> Any:  # noqa: A002
        return await load_region_by_global_id(info, id)

    @staticmethod
    async def resolve_regions(
        root: Any,
        info: Info,
        parent_id: str | None = None,
        kind: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        parent = await load_region_by_global_id(info, parent_id) if parent_id else None
        return await region_page(parent=parent, kind=kind, first=first, after=after)


class RegionMutations(graphene.ObjectType):
    create_region = CreateRegion.Field()
