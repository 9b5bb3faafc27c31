"""Accounts without GraphQL: register, sign in and out, passwords, residency and role grants.

Passwords are hashed outside any transaction (tens of milliseconds of CPU in a thread).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.accounts import Role, RoleGrant, Session, User
from models.accounts.auth import (
    AuthConfig,
    Passwords,
    RefreshRefused,
    TokenPair,
    mask_phone,
    rotate_refresh_token,
    start_session,
)
from models.accounts.validation import check_name, check_password, check_phone
from models.accounts.viewer_cache import viewer_changed
from models.audit import record
from models.errors import ErrorCode, UserError, UserErrors, fail
from models.policy import (
    ROLE_KINDS,
    Action,
    Viewer,
    require_not_self,
    require_operator,
    require_residency_verifier,
)
from models.regions import Region, RegionKind
from models.regions.operations import region_path
from models.sql import Params, is_postgres


async def register(
    viewer: Viewer,
    passwords: Passwords,
    auth: AuthConfig,
    *,
    phone: str,
    password: str,
    name: str,
    village_id: int,
    user_agent: str | None = None,
) -> tuple[User, TokenPair]:
    """A villager signs up in their village (to be verified later) and is signed in."""
    errors: list[UserError] = []
    normalized = check_phone(phone, errors)
    check_password(password, errors, phone=normalized)
    name = check_name(name, errors)
    village = await Region.get_or_none(id=village_id)
    if village is None:
        errors.append(UserError(ErrorCode.NOT_FOUND, "villageId"))
    elif village.kind != RegionKind.VILLAGE:
        errors.append(UserError(ErrorCode.NOT_A_VILLAGE, "villageId"))
    if normalized and await User.exists(phone=normalized):
        errors.append(UserError(ErrorCode.PHONE_TAKEN, "phone"))
    if errors:
        raise UserErrors(*errors)

    password_hash = await passwords.hash(password)
    try:
        async with in_transaction():
            user = await User.create(
                phone=normalized, name=name, password_hash=password_hash, village=village
            )
            pair = await start_session(auth, user, user_agent, viewer.ip)
            await follow_home_village(user.id, village_id)
            await record(
                viewer,
                "user.register",
                user,
                region_id=village_id,
                actor_id=user.id,
                after={"name": name, "village_id": village_id},
            )
    except IntegrityError:  # the same phone registered concurrently
        raise fail(ErrorCode.PHONE_TAKEN, "phone") from None
    return user, pair


async def follow_home_village(user_id: int, village_id: int) -> None:
    """A new villager follows their village (DESIGN: Notifications). Plain SQL: the Follow
    model lives in models.disclosures, which imports this package."""
    conn = Tortoise.get_connection("default")
    p = Params(is_postgres(conn))
    await conn.execute_query(
        "INSERT INTO follow (user_id, region_id, created_at)"
        f" VALUES ({p(user_id)}, {p(village_id)}, {p(datetime.now(UTC))})",
        p.values,
    )


async def create_user(
    viewer: Viewer,
    passwords: Passwords,
    *,
    phone: str,
    password: str,
    name: str,
    village_id: int | None = None,
) -> User:
    """An account made by the operators (scripts): not signed in, residency not verified."""
    require_operator(viewer)
    errors: list[UserError] = []
    normalized = check_phone(phone, errors)
    check_password(password, errors, phone=normalized)
    name = check_name(name, errors)
    if village_id is not None:
        village = await Region.get_or_none(id=village_id)
        if village is None:
            errors.append(UserError(ErrorCode.NOT_FOUND, "villageId"))
        elif village.kind != RegionKind.VILLAGE:
            errors.append(UserError(ErrorCode.NOT_A_VILLAGE, "villageId"))
    if normalized and await User.exists(phone=normalized):
        errors.append(UserError(ErrorCode.PHONE_TAKEN, "phone"))
    if errors:
        raise UserErrors(*errors)
    password_hash = await passwords.hash(password)
    async with in_transaction():
        user = await User.create(
            phone=normalized, name=name, password_hash=password_hash, village_id=village_id
        )
        await record(
            viewer,
            "user.create",
            user,
            region_id=village_id,
            after={"name": name, "village_id": village_id},
        )
    return user


async def login(
    viewer: Viewer,
    passwords: Passwords,
    auth: AuthConfig,
    *,
    phone: str,
    password: str,
    user_agent: str | None = None,
) -> tuple[User, TokenPair]:
    """Sign in with phone and password; an outdated password hash is upgraded on the way."""
    errors: list[UserError] = []
    normalized = check_phone(phone, errors)
    if errors:
        raise UserErrors(*errors)
    user = await User.get_or_none(phone=normalized)
    ok = await passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok:
        raise fail(ErrorCode.INVALID_CREDENTIALS, "password")
    if not user.is_active:
        raise fail(ErrorCode.ACCOUNT_DISABLED, "phone")
    new_hash = None
    if passwords.needs_rehash(user.password_hash):
        new_hash = await passwords.hash(password)
    async with in_transaction():
        checked = user.password_hash
        user.last_login_at = datetime.now(UTC)
        updates: dict[str, object] = {"last_login_at": user.last_login_at}
        if new_hash:
            user.password_hash = updates["password_hash"] = new_hash
        # Only if the hash checked above is still the account's: a password reset committed
        # meanwhile ends every session, and this one must not start after it (the row's lock
        # also orders this session before a reset still running).
        if not await User.filter(id=user.id, password_hash=checked, is_active=True).update(
            **updates
        ):
            raise fail(ErrorCode.INVALID_CREDENTIALS, "password")
        pair = await start_session(auth, user, user_agent, viewer.ip)
        await record(viewer, "user.login", user, region_id=user.village_id, actor_id=user.id)
    await viewer_changed(user.id)  # the row changed (last sign-in, maybe the hash)
    return user, pair


async def refresh(auth: AuthConfig, refresh_token: str) -> tuple[User, TokenPair]:
    """Trade a refresh token for a new pair. Not inside a transaction: a reused token's
    revocation of its session must be committed, not rolled back."""
    try:
        return await rotate_refresh_token(auth, refresh_token)
    except RefreshRefused as exc:
        raise fail(exc.key, "refreshToken") from None


async def logout(viewer: Viewer, all_sessions: bool = False) -> None:
    """End the viewer's session now (its access tokens stop working), or all of them."""
    user = viewer.require_user()
    qs = Session.filter(user_id=user.id, revoked_at=None)
    if not all_sessions:
        qs = qs.filter(id=viewer.session_id)
    await qs.update(revoked_at=datetime.now(UTC))
    await viewer_changed(user.id)


async def change_password(
    viewer: Viewer, passwords: Passwords, old_password: str, new_password: str
) -> User:
    """A new password for the viewer; their sessions on other devices end."""
    user = viewer.require_user()
    if not await passwords.verify(user.password_hash, old_password):
        raise fail(ErrorCode.WRONG_PASSWORD, "oldPassword")
    errors: list[UserError] = []
    check_password(new_password, errors, field="newPassword", phone=user.phone)
    if not errors and new_password == old_password:
        errors.append(UserError(ErrorCode.SAME_PASSWORD, "newPassword"))
    if errors:
        raise UserErrors(*errors)
    new_hash = await passwords.hash(new_password)
    async with in_transaction():
        user.password_hash = new_hash
        await user.save(update_fields=["password_hash"])
        await (
            Session.filter(user_id=user.id, revoked_at=None)
            .exclude(id=viewer.session_id)
            .update(revoked_at=datetime.now(UTC))
        )
        await record(viewer, "user.change_password", user, region_id=user.village_id)
    await viewer_changed(user.id)
    return user


async def verify_residency(viewer: Viewer, user_id: int) -> User:
    """Confirm that a registered villager lives in their village; a retry changes nothing."""
    user = await _verify_residency(viewer, user_id)
    await viewer_changed(user.id)
    return user


async def _verify_residency(viewer: Viewer, user_id: int) -> User:
    async with in_transaction():
        user = await User.get_or_none(id=user_id)
        if user is None:
            raise fail(ErrorCode.NOT_FOUND, "userId")
        if user.village_id is None:
            raise fail(ErrorCode.NO_VILLAGE, "userId")
        require_residency_verifier(viewer, await region_path(user.village_id))
        if user.residency_verified_at is not None:
            return user
        user.residency_verified_at = datetime.now(UTC)
        user.residency_verified_by_id = viewer.user_id
        await user.save(update_fields=["residency_verified_at", "residency_verified_by_id"])
        await record(
            viewer,
            "user.verify_residency",
            user,
            region_id=user.village_id,
            after={"residency_verified_at": user.residency_verified_at.isoformat()},
        )
        return user


async def grant_role(viewer: Viewer, user_id: int, role: Role, region_id: int) -> RoleGrant:
    """Grant `role` on a region to a user; an identical active grant is returned as it is."""
    grant = await _grant_role(viewer, user_id, role, region_id)
    await viewer_changed(grant.user_id)
    return grant


async def _grant_role(viewer: Viewer, user_id: int, role: Role, region_id: int) -> RoleGrant:
    async with in_transaction():
        errors: list[UserError] = []
        user = await User.get_or_none(id=user_id)
        region = await Region.get_or_none(id=region_id)
        if user is None:
            errors.append(UserError(ErrorCode.NOT_FOUND, "userId"))
        if region is None:
            errors.append(UserError(ErrorCode.NOT_FOUND, "regionId"))
        if errors or user is None or region is None:
            raise UserErrors(*errors)
        viewer.require(Action.ROLE_GRANT, region.path)
        require_not_self(viewer, user.id)
        role = Role(role)
        kinds = ROLE_KINDS[role]
        if region.kind not in kinds:
            raise fail(ErrorCode.ROLE_REGION_KIND, "regionId", role=role, kinds="/".join(kinds))
        existing = await RoleGrant.get_or_none(
            user_id=user.id, role=role, region_id=region.id, revoked_at=None
        )
        if existing:
            return existing
        grant = await RoleGrant.create(
            user=user, role=role, region=region, granted_by_id=viewer.user_id
        )
        await record(
            viewer,
            "role.grant",
            grant,
            region_id=region.id,
            after={"user_id": user.id, "role": role, "region_id": region.id},
        )
        return grant


async def revoke_role(viewer: Viewer, grant_id: int) -> RoleGrant:
    """End a grant; a retry changes nothing."""
    grant = await _revoke_role(viewer, grant_id)
    await viewer_changed(grant.user_id)
    return grant


async def _revoke_role(viewer: Viewer, grant_id: int) -> RoleGrant:
    async with in_transaction():
        grant = await RoleGrant.get_or_none(id=grant_id)
        if grant is None:
            raise fail(ErrorCode.NOT_FOUND, "grantId")
        viewer.require(Action.ROLE_REVOKE, await region_path(grant.region_id))
        if grant.revoked_at is not None:
            return grant
        grant.revoked_at = datetime.now(UTC)
        grant.revoked_by_id = viewer.user_id
        await grant.save(update_fields=["revoked_at", "revoked_by_id"])
        await record(
            viewer,
            "role.revoke",
            grant,
            region_id=grant.region_id,
            before={"user_id": grant.user_id, "role": str(grant.role)},
        )
        return grant


async def ensure_system_admin(
    viewer: Viewer, passwords: Passwords, *, phone: str, password: str, name: str
) -> User:
    """Create, or reset and reactivate, a user with a system-wide ADMIN grant: the operators'
    way in. Idempotent: one user, one such grant, the password set."""
    require_operator(viewer)
    errors: list[UserError] = []
    normalized = check_phone(phone, errors)
    check_password(password, errors, phone=normalized)
    name = check_name(name, errors)
    if errors or normalized is None:
        raise UserErrors(*errors)
    password_hash = await passwords.hash(password)
    async with in_transaction():
        user = await User.get_or_none(phone=normalized)
        if user is None:
            user = await User.create(phone=normalized, name=name, password_hash=password_hash)
            action = "admin.create"
        else:
            user.password_hash = password_hash
            user.is_active = True
            await user.save(update_fields=["password_hash", "is_active"])
            action = "admin.reset"
        await record(viewer, action, user, region_id=None, after={"phone": mask_phone(normalized)})
        if not await RoleGrant.exists(
            user_id=user.id, role=Role.ADMIN, region_id=None, revoked_at=None
        ):
            grant = await RoleGrant.create(user=user, role=Role.ADMIN, region=None)
            await record(
                viewer,
                "role.grant",
                grant,
                region_id=None,
                after={"user_id": user.id, "role": Role.ADMIN, "region_id": None},
            )
    await viewer_changed(user.id)
    return user


async def set_account_active(viewer: Viewer, user_id: int, active: bool) -> User:
    """Disable an account (its sessions stop working at once; it cannot sign in) or enable it
    again: the operators' (scripts'). A retry changes nothing."""
    require_operator(viewer)
    async with in_transaction():
        user = await User.select_for_update().get_or_none(id=user_id)
        if user is None:
            raise fail(ErrorCode.NOT_FOUND, "userId")
        if user.is_active != active:
            user.is_active = active
            await user.save(update_fields=["is_active"])
            await record(
                viewer,
                "user.enable" if active else "user.disable",
                user,
                region_id=user.village_id,
                after={"is_active": active},
            )
    await viewer_changed(user.id)
    return user
