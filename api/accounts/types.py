"""User and RoleGrant nodes; what of a user each viewer may see follows models.policy."""

from __future__ import annotations

from typing import Any

import graphene

from api.compiled import by_class
from api.context import Context, Info
from api.loaders import ActiveGrantsByUserLoader, RegionLoader, UserLoader
from api.regions.types import Region
from api.relay import Node, register_node
from api.rows import is_row_of
from models.accounts import Role as RoleEnum
from models.accounts import RoleGrant as RoleGrantModel
from models.accounts import User as UserModel
from models.accounts.auth import mask_phone
from models.errors import Forbidden
from models.policy import (
    SYSTEM,
    ForbiddenReason,
    can_see_grant,
    can_see_phone,
    can_see_user,
)

Role = graphene.Enum.from_enum(RoleEnum, description="授予在某个区划上的角色")


async def user_scope_paths(ctx: Context, user: UserModel) -> list[str]:
    """Where a user belongs: their home village and the regions of their grants. Not loaded
    for the user themselves or an anonymous viewer: no rule then depends on it."""
    viewer = ctx.viewer
    if viewer.user_id == user.id or not viewer.is_authenticated:
        return []
    grants = await ctx.loaders[ActiveGrantsByUserLoader].load(user.id)
    region_ids = [g.region_id for g in grants]
    if user.village_id is not None:
        region_ids.append(user.village_id)
    # One batched load, not an await per region; a region-less grant covers the system.
    known = [rid for rid in region_ids if rid is not None]
    regions = dict(zip(known, await ctx.loaders[RegionLoader].load_many(known), strict=True))
    return [
        regions[rid].path if rid is not None and regions.get(rid) else SYSTEM for rid in region_ids
    ]


@register_node
class User(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "用户。手机号仅本人、管理员及管辖其所在村的乡镇干部可见，其他人看到掩码。"

    name = graphene.String(required=True)
    phone = graphene.String(required=True, description="完整或掩码（138****1234）")
    village = graphene.Field(Region, description="所在行政村")
    residency_verified = graphene.Boolean(required=True)
    residency_verified_at = graphene.DateTime()
    phone_verified = graphene.Boolean(
        required=True, description="手机号已用短信验证码验证（只有已验证的号码收到短信）"
    )
    id_number_set = graphene.Boolean(
        description="是否已为“我的补贴”登记身份证号（仅本人可见，他人看到 null；号码从不显示）"
    )
    created_at = graphene.DateTime(required=True)
    last_login_at = graphene.DateTime()
    is_active = graphene.Boolean(required=True)
    roles = graphene.List(
        graphene.NonNull(lambda: RoleGrant),
        required=True,
        description="当前有效的授权（仅可见部分）",
    )

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, UserModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> UserModel | None:
        ctx: Context = info.context
        ctx.viewer.require_user()
        user = await ctx.loaders[UserLoader].load(int(pk)) if pk.isdigit() else None
        if user is None:
            return None
        if not can_see_user(ctx.viewer, user, await user_scope_paths(ctx, user)):
            raise Forbidden(ForbiddenReason.ACCOUNT_PRIVATE)
        return user

    @staticmethod
    async def resolve_phone(root: UserModel, info: Info) -> str:
        ctx: Context = info.context
        if can_see_phone(ctx.viewer, root, await user_scope_paths(ctx, root)):
            return root.phone
        return mask_phone(root.phone)

    @staticmethod
    async def resolve_village(root: UserModel, info: Info) -> Any:
        if root.village_id is None:
            return None
        return await info.context.loaders[RegionLoader].load(root.village_id)

    @staticmethod
    def resolve_phone_verified(root: UserModel, info: Info) -> bool:
        return root.phone_verified_at is not None

    @staticmethod
    def resolve_id_number_set(root: UserModel, info: Info) -> bool | None:
        viewer = info.context.viewer
        if viewer.user is None or viewer.user.id != root.id:
            return None  # whether someone entered a number is theirs to know
        return viewer.user.id_number_hash is not None

    @staticmethod
    def resolve_residency_verified(root: UserModel, info: Info) -> bool:
        return root.residency_verified_at is not None

    @staticmethod
    async def resolve_roles(root: UserModel, info: Info) -> list[RoleGrantModel]:
        ctx: Context = info.context
        grants = await ctx.loaders[ActiveGrantsByUserLoader].load(root.id)
        return [
            grant
            for grant in grants
            if can_see_grant(ctx.viewer, grant, await ctx.region_path(grant.region_id))
        ]


@register_node
class RoleGrant(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "授权：某用户在某区划（及其下级）上担任某角色"

    role = graphene.Field(Role, required=True)
    region = graphene.Field(Region, description="为空表示全系统")
    user = graphene.Field(User, required=True)
    granted_at = graphene.DateTime(required=True)
    revoked_at = graphene.DateTime()

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return isinstance(root, RoleGrantModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> RoleGrantModel | None:
        ctx: Context = info.context
        viewer = ctx.viewer
        viewer.require_user()
        grant = await RoleGrantModel.get_or_none(id=int(pk)) if pk.isdigit() else None
        if grant is None:
            return None
        if not can_see_grant(viewer, grant, await ctx.region_path(grant.region_id)):
            raise Forbidden(ForbiddenReason.ACCOUNT_PRIVATE)
        return grant

    @staticmethod
    async def resolve_region(root: RoleGrantModel, info: Info) -> Any:
        if root.region_id is None:
            return None
        return await info.context.loaders[RegionLoader].load(root.region_id)

    @staticmethod
    async def resolve_user(root: RoleGrantModel, info: Info) -> Any:
        return await info.context.loaders[UserLoader].load(root.user_id)


class AuthPayloadFields:
    """Mixed into the payloads of mutations that sign a user in."""

    access_token = graphene.String(description="Bearer 访问令牌（短期）")
    refresh_token = graphene.String(description="刷新令牌：只能使用一次，换取新的一对令牌")
    expires_in = graphene.Int(description="访问令牌有效秒数")
    user = graphene.Field(User)
