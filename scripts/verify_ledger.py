"""Check a region's hash chain without the API: `python -m scripts.verify_ledger`.

    python -m scripts.verify_ledger --region 990102101201              # from DATABASE_URL
    python -m scripts.verify_ledger --region 990102101201 --export l.json
    python -m scripts.verify_ledger --file l.json                      # offline, no database
    python -m scripts.verify_ledger --region 990102101201 --known-head 12:3f9a…  # truncated?

The exported file holds every entry's content, previous hash and hash, and the head
(length and hash) it was made from, so an outside auditor can recompute the chain with
nothing but this script (or sha256 and a JSON library: hash = sha256(prev_hash ‖ JSON with
sorted keys, no spaces, UTF-8)). From the database, what readers are served is compared
with the chain too (as `verifyLedger` does). `--known-head LENGTH:HASH` checks that the
chain still holds a head seen before. Exit status 0 when the chain holds (and holds the
known head), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import orjson

from api.database import close_db, open_db
from api.settings import Settings
from models.disclosures.ledger import (
    KnownHead,
    Verification,
    check_region,
    contains_head,
    export_entries,
    verify_entries,
)
from models.regions import Region


async def from_database(
    region_ref: str, known: KnownHead | None = None
) -> tuple[Region, list[dict], Verification]:
    ctx = await open_db(Settings.from_env())
    try:
        return await load_checked(region_ref, known)
    finally:
        await close_db(ctx)


async def find_region(region_ref: str) -> Region:
    region = await Region.get_or_none(code=region_ref)
    if region is None and region_ref.isdigit():
        region = await Region.get_or_none(id=int(region_ref))
    if region is None:
        sys.exit(f"no region with code or id {region_ref}")
    return region


async def load_entries(region_ref: str) -> tuple[Region, list[dict]]:
    """The region's entries from an open database (the command and the tests share it)."""
    region = await find_region(region_ref)
    return region, await export_entries(region)


async def load_checked(
    region_ref: str, known: KnownHead | None = None
) -> tuple[Region, list[dict], Verification]:
    """The entries and the full check (chain, served content, known head), as verifyLedger."""
    region = await find_region(region_ref)
    entries, result = await check_region(region, known)
    return region, entries, result


def head_of(entries: list[dict]) -> dict:
    return {"length": len(entries), "hash": entries[-1]["hash"] if entries else None}


def short(head: dict) -> str:
    return f"{head['length']}:{(head['hash'] or '')[:12]}"


def write_export(path: Path, region: Region, entries: list[dict]) -> None:
    head = head_of(entries)
    document = {
        "region": region.code or region.id,
        "name": region.name,
        "head": head,
        "entries": entries,
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    print(f"exported {len(entries)} entries to {path}, made from head {short(head)}")


def parse_head(text: str) -> KnownHead:
    length, _, digest = text.partition(":")
    if not length.isascii() or not length.isdigit():
        raise argparse.ArgumentTypeError("LENGTH:HASH, e.g. 12:3f9a…")
    return KnownHead(int(length), digest or None)


def report(result: Verification) -> int:
    status = 0
    if result.ok:
        print(f"OK: {result.length} entries, head {result.head_hash}")
    else:
        print(f"BROKEN at entry {result.first_broken_at} of {result.length}")
        status = 1
    if result.contains_known_head is False:
        print("KNOWN HEAD MISSING: the chain no longer holds the head seen before")
        status = 1
    elif result.contains_known_head:
        print("known head still held")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--region", help="12-digit division code or id of the region")
    source.add_argument("--file", type=Path, help="an exported ledger JSON file")
    parser.add_argument("--export", type=Path, help="with --region: also write the JSON file")
    parser.add_argument(
        "--known-head", type=parse_head, help="LENGTH:HASH of a head seen before: still held?"
    )
    args = parser.parse_args(argv)
    if args.file:
        document = orjson.loads(args.file.read_bytes())
        entries = document["entries"]
        result = verify_entries(entries)
        if "head" in document and document["head"] != head_of(entries):
            result = Verification(False, result.length, result.head_hash, len(entries) + 1)
        if args.known_head is not None:
            result.contains_known_head = contains_head(entries, args.known_head)
        if "head" in document:
            print(f"file made from head {short(document['head'])}")
        return report(result)
    region, entries, result = asyncio.run(from_database(args.region, args.known_head))
    if args.export:
        write_export(args.export, region, entries)
    return report(result)


if __name__ == "__main__":
    sys.exit(main())
