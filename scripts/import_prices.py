"""Import a sheet of market prices as a township official or admin:
`python -m scripts.import_prices FILE --region CODE --as PHONE`.

The file (CSV in UTF-8 or GBK, or XLSX; columns 日期, 品名, 市场, 单位, 价格) goes through the
same operation as an upload in the app, acting as that person (permission and audit
included): every row is recorded or none, and the errors are printed in English with their
line and column.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from api.database import close_db, open_db
from api.settings import Settings
from models.accounts import User
from models.errors import AppError, UserErrors
from models.messages import translate
from models.policy import viewer_for_user
from models.prices.importing import import_prices
from models.regions import Region

SOURCE = "script:import_prices"


async def import_file(name: str, data: bytes, region_code: str, phone: str) -> list[str]:
    """Import one file's bytes; the report's lines (the first says ok or FAILED)."""
    region = await Region.get_or_none(code=region_code)
    user = await User.get_or_none(phone=phone)
    if region is None or user is None:
        return [f"unknown region {region_code} or user {phone}"]
    viewer = await viewer_for_user(user, SOURCE)
    try:
        result = await import_prices(viewer, region.id, data)
    except UserErrors as exc:
        return [f"{name} FAILED: {len(exc.errors)} errors, nothing recorded"] + [
            f"  line {e.line or '-'} {e.field or ''}: {translate(e.code, 'en', **e.params)}"
            for e in exc.errors
        ]
    except AppError as exc:  # e.g. FORBIDDEN: the person's grant does not cover the region
        return [f"{name} FAILED: {exc.code} {translate(exc.key, 'en', **exc.params)}"]
    return [
        f"{name} ok: {result.created} new, {result.updated} corrected, {result.unchanged} unchanged"
    ]


async def run(args: argparse.Namespace, data: bytes) -> list[str]:
    ctx = await open_db(Settings.from_env())
    try:
        return await import_file(args.file.name, data, args.region, args.phone)
    finally:
        await close_db(ctx)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--region", required=True, help="12-digit division code")
    parser.add_argument("--as", dest="phone", required=True, help="the recording person's phone")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args, args.file.read_bytes()))
    print("\n".join(report))
    return 0 if report[0].split(" ", 2)[1:2] == ["ok:"] else 1


if __name__ == "__main__":
    sys.exit(main())
