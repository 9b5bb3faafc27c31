"""Import a directory of months for one village, oldest first:
`python -m scripts.import_accounts DIR --village CODE --clerk PHONE [--opening FEN]`.

Files are named by month (`2026-03.csv`, `2026-04.xlsx`, …). Each month goes through the
same checks as an upload and is stored whole or not at all; the first month that fails
stops the run, with its errors, so continuity is never broken.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from tortoise.transactions import in_transaction

from api.database import close_db, open_db
from api.settings import Settings
from models.accounts import User
from models.errors import UserErrors
from models.finance.months import problem_errors, store_month
from models.finance.parsing import ParseFailed, parse_lines, rows_from_file
from models.finance.risk import run_rules
from models.messages import translate
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
    report = []
    for year, month, path in month_files(folder):
        try:
            source, rows = rows_from_file(path.read_bytes())
            lines, problems = parse_lines(rows)
            async with in_transaction():
                account = await store_month(
                    village=village,
                    year=year,
                    month=month,
                    lines=lines,
                    opening_fen=opening,
                    closing_fen=None,
                    receipts={},
                    source=source,
                    user_id=clerk.id,
                    problems=problems,
                )
                hits = await run_rules(account, village)
        except (ParseFailed, UserErrors) as exc:
            errors = (
                problem_errors(exc.problems).errors if isinstance(exc, ParseFailed) else exc.errors
            )
            detail = "; ".join(
                f"line {e.line or '-'} {e.field or ''} {translate(e.code, 'en', **e.params)}"
                for e in errors
            )
            report.append(f"{year}-{month:02d} FAILED: {detail}")
            break
        opening = None  # later months follow on from the one before
        report.append(
            f"{year}-{month:02d} ok: {len(lines)} lines, closing "
            f"{account.closing_balance_fen} fen, {len(hits)} risk notes"
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
