"""Registration, sign-in with rotating refresh tokens, residency and role grants."""

from __future__ import annotations

from typing import Any

import graphene

from api.accounts.types import AuthPayloadFields, Role, RoleGrant, User
from api.context import Context, Info, viewer_for_session
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.ratelimit import address_key, count_attempt, refund, throttle
from api.relay import decode_id
from models.accounts import Role as RoleEnum
from models.accounts import Session, operations
from models.accounts import User as UserModel
from models.accounts.auth import TokenPair, normalize_phone
from models.errors import ErrorCode, UserErrors
from models.policy import Action


async def signed_in(ctx: Context, user: UserModel, pair: TokenPair) -> dict:
    # The payload's `user` is now seen by its owner: let the rest of the request know.
    session = await Session.get(id=pair.session_id).select_related("user")
    ctx.viewer = await viewer_for_session(session)
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_in": pair.expires_in,
        "user": user,
    }


class RegisterInput(graphene.InputObjectType):
    phone = graphene.String(required=True)
    password = graphene.String(required=True)
    name = graphene.String(required=True)
    village_id = graphene.ID(required=True, description="所在行政村")


class Register(AuthPayloadFields, BaseMutation):
    class Meta:
        name = "RegisterPayload"
        description = "村民注册；注册后需由村文书或乡镇干部核实村民身份"

    class Arguments:
        input = RegisterInput(required=True)

    public = True

    atomic = False  # hash the password outside the transaction

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        await throttle(ctx, f"register:{address_key(ctx.ip)}", 20, 3600)
        village_id = decode_id(data.village_id, "Region", "villageId")
        user, pair = await operations.register(
            ctx.viewer,
            ctx.services.passwords,
            ctx.settings.auth,
            phone=data.phone,
            password=data.password,
            name=data.name,
            village_id=village_id,
            user_agent=ctx.user_agent,
        )
        return await signed_in(ctx, user, pair)


class LoginInput(graphene.InputObjectType):
    phone = graphene.String(required=True)
    password = graphene.String(required=True)


class Login(AuthPayloadFields, BaseMutation):
    class Meta:
        name = "LoginPayload"

    class Arguments:
        input = LoginInput(required=True)

    public = True

    atomic = False

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        settings = ctx.settings
        phone = normalize_phone(data.phone)
        counted: list[str] = []
        if phone is not None:  # an invalid phone is refused by the operation, unthrottled
            # Failures count, successes are refunded: per phone and IP, so that a stranger
            # who knows the number cannot keep its owner out; a slower backstop per phone
            # against guessing from many addresses; and per IP against spraying many phones.
            window = settings.login_window_seconds
            counted = await count_attempt(
                ctx,
                [
                    (f"login:{phone}:{address_key(ctx.ip)}", settings.login_attempts, window),
                    (
                        f"login-phone:{phone}",
                        settings.login_phone_attempts,
                        settings.login_phone_window_seconds,
                    ),
                    (f"login-ip:{address_key(ctx.ip)}", settings.login_attempts * 10, window),
                ],
            )
        try:
            user, pair = await operations.login(
                ctx.viewer,
                ctx.services.passwords,
                settings.auth,
                phone=data.phone,
                password=data.password,
                user_agent=ctx.user_agent,
            )
        except UserErrors as exc:
            if not any(e.code == ErrorCode.INVALID_CREDENTIALS for e in exc.errors):
                await refund(ctx, counted)  # the password was right (a disabled account)
            raise
        await refund(ctx, counted)
        return await signed_in(ctx, user, pair)


class RefreshTokenInput(graphene.InputObjectType):
    refresh_token = graphene.String(required=True)


class RefreshToken(AuthPayloadFields, BaseMutation):
    class Meta:
        name = "RefreshTokenPayload"
        description = "用刷新令牌换取新的一对令牌；旧刷新令牌随即失效，重复使用会注销整个登录"

    class Arguments:
        input = RefreshTokenInput(required=True)

    public = True

    atomic = False  # a reused token's revocation must be committed, not rolled back

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        await throttle(ctx, f"refresh-ip:{address_key(ctx.ip)}", 120, 60)
        user, pair = await operations.refresh(ctx.settings.auth, data.refresh_token or "")
        return await signed_in(ctx, user, pair)


class LogoutInput(graphene.InputObjectType):
    all_sessions = graphene.Boolean(default_value=False, description="同时注销所有设备")


class Logout(BaseMutation):
    class Meta:
        name = "LogoutPayload"

    class Arguments:
        input = LogoutInput(required=False)

    ok = graphene.Boolean(required=True)
    login_required = True
    error_defaults = {"ok": False}

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        await operations.logout(ctx.viewer, all_sessions=bool(data and data.all_sessions))
        return {"ok": True}

    @classmethod
    async def mutate(cls, root: Any, info: Info, input: Any = None) -> Any:  # noqa: A002
        return await super().mutate(root, info, input)


class ChangePasswordInput(graphene.InputObjectType):
    old_password = graphene.String(required=True)
    new_password = graphene.String(required=True)


class ChangePassword(BaseMutation):
    class Meta:
        name = "ChangePasswordPayload"
        description = "修改密码；其他设备上的登录随之失效"

    class Arguments:
        input = ChangePasswordInput(required=True)

    user = graphene.Field(User)
    login_required = True
    atomic = False

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user = ctx.viewer.require_user()
        await throttle(ctx, f"password:{user.id}", 10, 3600)
        user = await operations.change_password(
            ctx.viewer, ctx.services.passwords, data.old_password, data.new_password
        )
        return {"user": user}


class VerifyResidencyInput(graphene.InputObjectType):
    user_id = graphene.ID(required=True)


class VerifyResidency(BaseMutation):
    class Meta:
        name = "VerifyResidencyPayload"
        description = "村文书或乡镇干部核实村民身份；核实后才能评论和质疑本村事项"

    class Arguments:
        input = VerifyResidencyInput(required=True)

    user = graphene.Field(User)
    permission = Action.RESIDENCY_VERIFY

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user_id = decode_id(data.user_id, "User", "userId")
        return {"user": await operations.verify_residency(ctx.viewer, user_id)}


class GrantRoleInput(graphene.InputObjectType):
    user_id = graphene.ID(required=True)
    role = Role(required=True)
    region_id = graphene.ID(required=True)


class GrantRole(BaseMutation):
    class Meta:
        name = "GrantRolePayload"
        description = "管理员在其管辖范围内授予角色；已有相同授权时原样返回"

    class Arguments:
        input = GrantRoleInput(required=True)

    role_grant = graphene.Field(RoleGrant)
    permission = Action.ROLE_GRANT

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user_id = decode_id(data.user_id, "User", "userId")
        region_id = decode_id(data.region_id, "Region", "regionId")
        role = RoleEnum(enum_value(data.role))
        return {"role_grant": await operations.grant_role(ctx.viewer, user_id, role, region_id)}


class RevokeRoleInput(graphene.InputObjectType):
    grant_id = graphene.ID(required=True)


class RevokeRole(BaseMutation):
    class Meta:
        name = "RevokeRolePayload"

    class Arguments:
        input = RevokeRoleInput(required=True)

    role_grant = graphene.Field(RoleGrant)
    permission = Action.ROLE_REVOKE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        grant_id = decode_id(data.grant_id, "RoleGrant", "grantId")
        return {"role_grant": await operations.revoke_role(ctx.viewer, grant_id)}
