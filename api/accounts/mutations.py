"""Registration, sign-in with rotating refresh tokens, residency and role grants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import graphene
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.accounts.types import AuthPayloadFields, Role, RoleGrant, User
from api.context import Context, viewer_for_session
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.ratelimit import throttle
from api.relay import decode_id, fetch_input
from models.accounts import RoleGrant as RoleGrantModel
from models.accounts import Session
from models.accounts import User as UserModel
from models.accounts.auth import RefreshRefused, TokenPair, rotate_refresh_token, start_session
from models.accounts.validation import check_name, check_password, check_phone
from models.audit import record
from models.errors import UserError, UserErrors
from models.policy import ROLE_KINDS, Action
from models.regions import Region as RegionModel
from models.regions import RegionKind


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
        await throttle(ctx, f"register:{ctx.ip}", 20, 3600)
        errors: list[UserError] = []
        phone = check_phone(data.phone, errors)
        check_password(data.password, errors, phone=phone)
        name = check_name(data.name, errors)
        village_id = decode_id(data.village_id, "Region", "villageId")
        village = await RegionModel.get_or_none(id=village_id)
        if village is None:
            errors.append(UserError("NOT_FOUND", "villageId"))
        elif village.kind != RegionKind.VILLAGE:
            errors.append(UserError("NOT_A_VILLAGE", "villageId"))
        if phone and await UserModel.exists(phone=phone):
            errors.append(UserError("PHONE_TAKEN", "phone"))
        if errors:
            raise UserErrors(*errors)

        password_hash = await ctx.services.passwords.hash(data.password)
        try:
            async with in_transaction():
                user = await UserModel.create(
                    phone=phone, name=name, password_hash=password_hash, village=village
                )
                pair = await start_session(ctx.settings, user, ctx.user_agent, ctx.ip)
                await record(
                    ctx.viewer,
                    "user.register",
                    user,
                    region_id=village_id,
                    actor_id=user.id,
                    after={"name": name, "village_id": village_id},
                )
        except IntegrityError:  # the same phone registered concurrently
            raise UserErrors(UserError("PHONE_TAKEN", "phone")) from None
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
        errors: list[UserError] = []
        phone = check_phone(data.phone, errors)
        if errors:
            raise UserErrors(*errors)
        await throttle(
            ctx, f"login:{phone}", settings.login_attempts, settings.login_window_seconds
        )
        await throttle(
            ctx, f"login-ip:{ctx.ip}", settings.login_attempts * 10, settings.login_window_seconds
        )
        user = await UserModel.get_or_none(phone=phone)
        ok = await ctx.services.passwords.verify(
            user.password_hash if user else None, data.password
        )
        if user is None or not ok:
            raise UserErrors(UserError("INVALID_CREDENTIALS", "password"))
        if not user.is_active:
            raise UserErrors(UserError("ACCOUNT_DISABLED", "phone"))
        new_hash = None
        if ctx.services.passwords.needs_rehash(user.password_hash):
            new_hash = await ctx.services.passwords.hash(data.password)
        async with in_transaction():
            user.last_login_at = datetime.now(UTC)
            fields = ["last_login_at"]
            if new_hash:
                user.password_hash = new_hash
                fields.append("password_hash")
            await user.save(update_fields=fields)
            pair = await start_session(settings, user, ctx.user_agent, ctx.ip)
            await record(
                ctx.viewer, "user.login", user, region_id=user.village_id, actor_id=user.id
            )
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
        await throttle(ctx, f"refresh-ip:{ctx.ip}", 120, 60)
        try:
            user, pair = await rotate_refresh_token(ctx.settings, data.refresh_token or "")
        except RefreshRefused as exc:
            raise UserErrors(UserError(exc.key, "refreshToken")) from None
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

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        viewer = ctx.viewer
        qs = Session.filter(user_id=viewer.user_id, revoked_at=None)
        if not (data and data.all_sessions):
            qs = qs.filter(id=viewer.session_id)
        await qs.update(revoked_at=datetime.now(UTC))
        return {"ok": True}

    @classmethod
    async def mutate(cls, root: Any, info: Any, input: Any = None) -> Any:  # noqa: A002
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
        passwords = ctx.services.passwords
        if not await passwords.verify(user.password_hash, data.old_password):
            raise UserErrors(UserError("WRONG_PASSWORD", "oldPassword"))
        errors: list[UserError] = []
        check_password(data.new_password, errors, field="newPassword", phone=user.phone)
        if not errors and data.new_password == data.old_password:
            errors.append(UserError("SAME_PASSWORD", "newPassword"))
        if errors:
            raise UserErrors(*errors)
        new_hash = await passwords.hash(data.new_password)
        async with in_transaction():
            user.password_hash = new_hash
            await user.save(update_fields=["password_hash"])
            await (
                Session.filter(user_id=user.id, revoked_at=None)
                .exclude(id=ctx.viewer.session_id)
                .update(revoked_at=datetime.now(UTC))
            )
            await record(ctx.viewer, "user.change_password", user, region_id=user.village_id)
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
        user = await fetch_input(UserModel, data.user_id, "User", "userId")
        if user.village_id is None:
            raise UserErrors(UserError("NO_VILLAGE", "userId"))
        cls.authorize(ctx, await ctx.region_path(user.village_id))
        if user.residency_verified_at is None:  # a retry changes nothing
            user.residency_verified_at = datetime.now(UTC)
            user.residency_verified_by_id = ctx.viewer.user_id
            await user.save(update_fields=["residency_verified_at", "residency_verified_by_id"])
            await record(
                ctx.viewer,
                "user.verify_residency",
                user,
                region_id=user.village_id,
                after={"residency_verified_at": user.residency_verified_at.isoformat()},
            )
        return {"user": user}


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
        errors: list[UserError] = []
        user = await UserModel.get_or_none(id=decode_id(data.user_id, "User", "userId"))
        region = await RegionModel.get_or_none(id=decode_id(data.region_id, "Region", "regionId"))
        if user is None:
            errors.append(UserError("NOT_FOUND", "userId"))
        if region is None:
            errors.append(UserError("NOT_FOUND", "regionId"))
        if errors:
            raise UserErrors(*errors)
        cls.authorize(ctx, region.path)
        role = enum_value(data.role)
        kinds = ROLE_KINDS[role]
        if region.kind not in kinds:
            raise UserErrors(
                UserError("ROLE_REGION_KIND", "regionId", {"role": role, "kinds": "/".join(kinds)})
            )
        existing = await RoleGrantModel.get_or_none(
            user_id=user.id, role=role, region_id=region.id, revoked_at=None
        )
        if existing:
            return {"role_grant": existing}
        grant = await RoleGrantModel.create(
            user=user, role=role, region=region, granted_by_id=ctx.viewer.user_id
        )
        await record(
            ctx.viewer,
            "role.grant",
            grant,
            region_id=region.id,
            after={"user_id": user.id, "role": role, "region_id": region.id},
        )
        return {"role_grant": grant}


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
        grant = await fetch_input(RoleGrantModel, data.grant_id, "RoleGrant", "grantId")
        cls.authorize(ctx, await ctx.region_path(grant.region_id))
        if grant.revoked_at is None:  # a retry changes nothing
            grant.revoked_at = datetime.now(UTC)
            grant.revoked_by_id = ctx.viewer.user_id
            await grant.save(update_fields=["revoked_at", "revoked_by_id"])
            await record(
                ctx.viewer,
                "role.revoke",
                grant,
                region_id=grant.region_id,
                before={"user_id": grant.user_id, "role": str(grant.role)},
            )
        return {"role_grant": grant}
