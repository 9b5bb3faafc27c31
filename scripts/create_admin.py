"""Create (or reset) a system-wide admin: `python -m scripts.create_admin --phone P --password W`.

Idempotent: run twice, one user with one system-wide ADMIN grant; the password is set.
Acts for the system, so the audit log shows it like any other change.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from api.database import close_db, open_db
from api.settings import Settings
from models.accounts import User
from models.accounts.auth import Passwords
from models.accounts.operations import ensure_system_admin
from models.errors import UserErrors
from models.messages import EN, translate
from models.policy import Viewer


async def create_admin(settings: Settings, phone: str, password: str, name: str) -> User:
    return await ensure_system_admin(
        Viewer.for_system("script:create_admin"),
        Passwords(settings.auth),
        phone=phone,
        password=password,
        name=name,
    )


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
    try:
        asyncio.run(run(args))
    except UserErrors as exc:
        sys.exit("; ".join(f"{e.field}: {translate(e.code, EN, **e.params)}" for e in exc.errors))


if __name__ == "__main__":
    main()
