"""Check a region's hash chain without the API: `python -m scripts.verify_ledger`.

    python -m scripts.verify_ledger --region 990102101201              # from DATABASE_URL
    python -m scripts.verify_ledger --region 990102101201 --export l.json
    python -m scripts.verify_ledger --file l.json                      # offline, no database

The exported file holds every entry's content, previous hash and hash, so an outside
auditor can recompute the chain with nothing but this script (or sha256 and a JSON
library: hash = sha256(prev_hash ‖ JSON with sorted keys, no spaces, UTF-8)).
Exit status 0 when the chain holds, 1 when it is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

from api.database import close_db, open_db
from api.settings import Settings
from models.disclosures.ledger import Verification, export_entries, verify_entries
from models.regions import Region


async def from_database(region_ref: str) -> tuple[Region, list[dict]]:
    ctx = await open_db(Settings.from_env())
    try:
        return await load_entries(region_ref)
    finally:
        await close_db(ctx)


async def load_entries(region_ref: str) -> tuple[Region, list[dict]]:
    """The region's entries from an open database (the command and the tests share it)."""
    region = await Region.get_or_none(code=region_ref)
    if region is None and region_ref.isdigit():
        region = await Region.get_or_none(id=int(region_ref))
    if region is None:
        sys.exit(f"no region with code or id {region_ref}")
    return region, await export_entries(region)


def write_export(path: Path, region: Region, entries: list[dict]) -> None:
    document = {"region": region.code or region.id, "name": region.name, "entries": entries}
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    print(f"exported {len(entries)} entries to {path}")


def report(result: Verification) -> int:
    if result.ok:
        print(f"OK: {result.length} entries, head {result.head_hash}")
        return 0
    print(f"BROKEN at entry {result.first_broken_at} of {result.length}")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--region", help="12-digit division code or id of the region")
    source.add_argument("--file", type=Path, help="an exported ledger JSON file")
    parser.add_argument("--export", type=Path, help="with --region: also write the JSON file")
    args = parser.parse_args(argv)
    if args.file:
        document = orjson.loads(args.file.read_bytes())
        return report(verify_entries(document["entries"]))
    region, entries = asyncio.run(from_database(args.region))
    if args.export:
        write_export(args.export, region, entries)
    return report(verify_entries(entries))


if __name__ == "__main__":
    sys.exit(main())
