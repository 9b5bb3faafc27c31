"""Region as a GraphQL node."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.compiled import by_class
from api.context import Info
from api.inputs import enum_value
from api.loaders import RegionLoader
from api.relay import Node, connection_args, keyset_page, register_node
from api.rows import is_row_of
from models.regions import Region as RegionModel
from models.regions import RegionKind as RegionKindEnum
from models.regions import path_ids, subtree_range

RegionKind = graphene.Enum.from_enum(RegionKindEnum, description="区划层级")


@register_node
class Region(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "行政区划：县/区 → 乡镇/街道 → 行政村 → 自然村/村民小组"

    name = graphene.String(required=True)
    kind = graphene.Field(RegionKind, required=True)
    code = graphene.String(description="12 位统计用区划代码")
    depth = graphene.Int(required=True)
    parent = graphene.Field(lambda: Region)
    ancestors = graphene.List(
        graphene.NonNull(lambda: Region), required=True, description="从最上级到上一级"
    )
    children = graphene.Field(
        lambda: RegionConnection, kind=graphene.Argument(RegionKind), **connection_args()
    )

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, RegionModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> RegionModel | None:
        # The region tree is public.
        return await info.context.loaders[RegionLoader].load(int(pk)) if pk.isdigit() else None

    @staticmethod
    async def resolve_parent(root: RegionModel, info: Info) -> RegionModel | None:
        if root.parent_id is None:
            return None
        return await info.context.loaders[RegionLoader].load(root.parent_id)

    @staticmethod
    async def resolve_ancestors(root: RegionModel, info: Info) -> list[RegionModel]:
        ids = path_ids(root.path)[:-1]
        return list(await info.context.loaders[RegionLoader].load_many(ids))

    @staticmethod
    async def resolve_children(
        root: RegionModel,
        info: Info,
        kind: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        return await region_page(parent=root, kind=kind, first=first, after=after)


class RegionConnection(relay.Connection):
    class Meta:
        node = Region


async def region_page(
    *, parent: RegionModel | None, kind: Any, first: int | None, after: str | None
) -> Any:
    """With a parent: its children, or with a kind every descendant of that kind.

    Without: the top of the tree, or every region of that kind.
    """
    kind = enum_value(kind)
    qs = RegionModel.all()
    if parent is not None and kind is not None:
        low, high = subtree_range(parent.path)
        qs = qs.filter(path__gte=low, path__lt=high, kind=kind)
    elif parent is not None:
        qs = qs.filter(parent_id=parent.id)
    elif kind is not None:
        qs = qs.filter(kind=kind)
    else:
        qs = qs.filter(parent_id=None)
    return await keyset_page(qs, first, after)
