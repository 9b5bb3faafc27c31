"""Import a directory of months for one village, oldest first:
`python -m scripts.import_accounts DIR --village CODE --clerk PHONE [--opening FEN]`.

Files are named by month (`2026-03.csv`, `2026-04.xlsx`, …). Each month goes through the
same import operation as an upload, acting as the clerk (permission and audit included), and
is stored whole or not at all; the first month that fails stops the run, with its errors, so
continuity is never broken.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from api.database import close_db, open_db
from api.settings import Settings
from models.accounts import User
from models.errors import AppError, UserErrors
from models.finance import AccountLine, RiskHit
from models.finance.workflow import import_month
from models.messages import translate
from models.policy import viewer_for_user
from models.regions import Region

NAME = re.compile(r"^(\d{4})-(\d{2})\.(csv|xlsx)$", re.IGNORECASE)


def month_files(folder: Path) -> list[tuple[int, int, Path]]:
    found = []
    for path in folder.iterdir():
        match = NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return sorted(found)


async def import_folder(
    folder: Path, village_code: str, clerk_phone: str, opening: int | None
) -> list[str]:
    """Import every month; return one line per month (the last one says why it stopped)."""
    village = await Region.get_or_none(code=village_code)
    clerk = await User.get_or_none(phone=clerk_phone)
    if village is None or clerk is None:
        return [f"unknown village {village_code} or clerk {clerk_phone}"]
    clerk_viewer = await viewer_for_user(clerk, "script:import_accounts")
    report = []
    for year, month, path in month_files(folder):
        try:
            account = await import_month(
                clerk_viewer, village.id, year, month, path.read_bytes(), opening_fen=opening
            )
        except UserErrors as exc:
            detail = "; ".join(
                f"line {e.line or '-'} {e.field or ''} {translate(e.code, 'en', **e.params)}"
                for e in exc.errors
            )
            report.append(f"{year}-{month:02d} FAILED: {detail}")
            break
        except AppError as exc:  # e.g. FORBIDDEN: the clerk's grant does not cover the village
            report.append(f"{year}-{month:02d} FAILED: {exc.code}")
            break
        opening = None  # later months follow on from the one before
        lines = await AccountLine.filter(account_id=account.id, version=account.version).count()
        hits = await RiskHit.filter(account_id=account.id).count()
        report.append(
            f"{year}-{month:02d} ok: {lines} lines, closing "
            f"{account.closing_balance_fen} fen, {hits} risk notes"
        )
    return report


async def run(args: argparse.Namespace) -> list[str]:
    ctx = await open_db(Settings.from_env())
    try:
        return await import_folder(args.folder, args.village, args.clerk, args.opening)
    finally:
        await close_db(ctx)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--village", required=True, help="12-digit division code")
    parser.add_argument("--clerk", required=True, help="the uploading clerk's phone")
    parser.add_argument("--opening", type=int, help="opening balance (fen) of the first month")
    report = asyncio.run(run(parser.parse_args(argv)))
    print("\n".join(report))
    return 1 if any("FAILED" in line or "unknown" in line for line in report) else 0


if __name__ == "__main__":
    sys.exit(main())
