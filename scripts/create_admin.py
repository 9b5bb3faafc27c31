"""Create (or reset) a system-wide admin: `python -m scripts.create_admin --phone P --password W`.

Idempotent: run twice, one user with one system-wide ADMIN grant; the password is set.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tortoise.transactions import in_transaction

from api.database import close_db, open_db
from api.settings import Settings
from models.accounts import Role, RoleGrant, User
from models.accounts.auth import Passwords, normalize_phone
from models.audit import AuditEntry


async def create_admin(settings: Settings, phone: str, password: str, name: str) -> User:
    normalized = normalize_phone(phone)
    if normalized is None:
        raise ValueError(f"not a mainland mobile number: {phone}")
    password_hash = await Passwords(settings).hash(password)
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
        if not await RoleGrant.exists(
            user_id=user.id, role=Role.ADMIN, region_id=None, revoked_at=None
        ):
            await RoleGrant.create(user=user, role=Role.ADMIN, region=None)
        await AuditEntry.create(
            actor=None,
            action=action,
            object_type="User",
            object_id=str(user.id),
            after={"phone": normalized[:3] + "****" + normalized[-4:]},
        )
    return user


async def run(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    orm = await open_db(settings)
    try:
        user = await create_admin(settings, args.phone, args.password, args.name)
    finally:
        await close_db(orm)
    print(f"admin {user.phone} (id {user.id}) ready")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phone", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--name", default="系统管理员")
    args = parser.parse_args(argv)
    if len(args.password) < 8:
        sys.exit("password must have at least 8 characters")
    try:
        asyncio.run(run(args))
    except ValueError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
