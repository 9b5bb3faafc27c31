"""Disable an account, or enable it again: `python -m scripts.disable_account --phone P
[--enable]`. A disabled account's sessions stop working at once (every worker's cached
viewer is dropped), and it cannot sign in. Audited as `user.disable` / `user.enable`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from api.database import close_db, open_db
from api.settings import Settings
from models.accounts import User
from models.accounts.auth import normalize_phone
from models.accounts.operations import set_account_active
from models.policy import Viewer


async def run(phone: str, active: bool) -> str:
    settings = Settings.from_env()
    orm = await open_db(settings)
    try:
        user = await User.get_or_none(phone=normalize_phone(phone) or phone)
        if user is None:
            return f"no account with phone {phone}"
        await set_account_active(Viewer.for_system("script:disable_account"), user.id, active)
        return f"account {user.id} {'enabled' if active else 'disabled'}"
    finally:
        await close_db(orm)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phone", required=True)
    parser.add_argument("--enable", action="store_true", help="enable it again")
    args = parser.parse_args(argv)
    message = asyncio.run(run(args.phone, args.enable))
    print(message)
    if message.startswith("no account"):
        sys.exit(1)


if __name__ == "__main__":
    main()
