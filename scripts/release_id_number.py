"""Free an ID number another account entered for 我的补贴: `python -m scripts.release_id_number`.

For the owner whom `setMyIdNumber` answered ID_NUMBER_TAKEN, after the township office has
seen their ID card: the account holding the number loses it (audited, without the number),
and the owner can enter it. The number is read from the terminal without echo, never from
the command line (shell history, process lists).
"""

from __future__ import annotations

import asyncio
import getpass
import sys

from api.database import close_db, open_db
from api.settings import Settings
from models.errors import UserErrors
from models.messages import EN, translate
from models.policy import Viewer
from models.subsidies.operations import release_id_number


async def release(settings: Settings, number: str) -> bool:
    orm = await open_db(settings)
    try:
        return await release_id_number(Viewer.for_system("script:release_id_number"), number)
    finally:
        await close_db(orm)


def main() -> None:
    number = getpass.getpass("ID number (not shown): ")
    try:
        released = asyncio.run(release(Settings.from_env(), number))
    except UserErrors as exc:
        sys.exit("; ".join(translate(e.code, EN, **e.params) for e in exc.errors))
    print("released: the owner can enter it now" if released else "no account held it")


if __name__ == "__main__":
    main()
