"""Apply pending migrations to DATABASE_URL: `python -m scripts.migrate`."""

from __future__ import annotations

import asyncio

from api.database import migrate
from api.settings import Settings


def main() -> None:
    asyncio.run(migrate(Settings.from_env()))


if __name__ == "__main__":
    main()
