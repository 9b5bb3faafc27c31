"""The tamper-evident hash chain: one per region, one entry per publication or retraction.

hash = sha256(prev_hash ‖ canonical JSON of the entry's content). Verification recomputes
every entry from the rows it describes, so changing a published row in the database breaks
the chain at exactly that entry. The same check runs offline on an exported JSON file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.disclosures import Disclosure, DisclosureVersion, LedgerEntry
from models.media import Media
from models.regions import Region

GENESIS = "0" * 64


def canonical(content: dict[str, Any]) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(content)).hexdigest()


def iso(at: datetime) -> str:
    return at.astimezone().isoformat() if at.tzinfo is None else at.isoformat()


async def account_lines(
    published: list[tuple[int, int | None]],
) -> dict[tuple[int, int | None], list[dict[str, Any]]]:
    """The lines of monthly accounts that these (disclosure, source version) pairs published,
    read from today's rows: a changed fen in `account_line` breaks the chain."""
    from models.finance import AccountLine, MonthlyAccount

    wanted = {(d, v) for d, v in published if v is not None}
    if not wanted:
        return {}
    accounts = await MonthlyAccount.filter(disclosure_id__in=[d for d, _ in wanted])
    by_account = {a.id: a for a in accounts}
    lines = await AccountLine.filter(
        account_id__in=list(by_account), version__in=list({v for _, v in wanted})
    ).order_by("line_no")
    media_ids = {line.receipt_id for line in lines if line.receipt_id}
    shas = dict(await Media.filter(id__in=list(media_ids)).values_list("id", "sha256"))
    out: dict[tuple[int, int | None], list[dict[str, Any]]] = {pair: [] for pair in wanted}
    for line in lines:
        account = by_account[line.account_id]
        key = (account.disclosure_id, line.version)
        if key not in out:
            continue
        out[key].append(
            {
                "line": line.line_no,
                "date": line.date.isoformat(),
                "direction": str(line.direction),
                "chart": account.chart_version,
                "subject": line.subject_code,
                "amountFen": line.amount_fen,
                "counterparty": line.counterparty,
                "summary": line.summary,
                "receipt": shas.get(line.receipt_id),
            }
        )
    return out


def publish_content(
    region: Region,
    disclosure: Disclosure,
    version: DisclosureVersion,
    catalogue_code: str | None,
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    content = {
        "kind": "PUBLISH",
        "region": region.code or str(region.id),
        "disclosure": disclosure.id,
        "category": str(disclosure.category),
        "catalogueItem": catalogue_code,
        "title": version.title,
        "body": version.body,
        "tables": version.tables,
        "period": version.period,
        "attachments": [a["sha256"] for a in version.attachments],
        "version": version.version,
        "reason": version.reason,
        "publishedAt": iso(version.published_at),
    }
    if lines is not None:  # a monthly account: every line and receipt hash is chained
        content["lines"] = lines
    return content


def retract_content(region: Region, entry: LedgerEntry) -> dict[str, Any]:
    return {
        "kind": "RETRACT",
        "region": region.code or str(region.id),
        "disclosure": entry.disclosure_id,
        "reason": entry.reason,
        "retractedAt": iso(entry.at),
    }


async def append(region: Region, kind: str, content: dict[str, Any], **fields: Any) -> LedgerEntry:
    """Add an entry after the region's head; a concurrent append makes us retry."""
    for _ in range(5):
        head = await LedgerEntry.filter(region_id=region.id).order_by("-seq").first()
        seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
        try:
            async with in_transaction():
                return await LedgerEntry.create(
                    region=region,
                    seq=seq,
                    kind=kind,
                    prev_hash=prev,
                    hash=chain_hash(prev, content),
                    **fields,
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"could not append to the ledger of region {region.id}")


@dataclass
class Verification:
    ok: bool
    length: int
    head_hash: str | None
    first_broken_at: int | None


def verify_entries(entries: list[dict[str, Any]]) -> Verification:
    """entries: [{seq, prevHash, hash, content}] in order; the offline check."""
    prev = GENESIS
    for position, entry in enumerate(entries, start=1):
        if (
            entry["seq"] != position
            or entry["prevHash"] != prev
            or chain_hash(prev, entry["content"]) != entry["hash"]
        ):
            return Verification(False, len(entries), entries[-1]["hash"], entry["seq"])
        prev = entry["hash"]
    return Verification(True, len(entries), entries[-1]["hash"] if entries else None, None)


async def export_entries(region: Region) -> list[dict[str, Any]]:
    """Every entry with the content recomputed from today's rows."""
    entries = await LedgerEntry.filter(region_id=region.id).order_by("seq")
    version_ids = [e.version_id for e in entries if e.version_id]
    versions = {v.id: v for v in await DisclosureVersion.filter(id__in=version_ids)}
    disclosures = {
        d.id: d
        for d in await Disclosure.filter(id__in={e.disclosure_id for e in entries}).select_related(
            "catalogue_item"
        )
    }
    lines = await account_lines(
        [(e.disclosure_id, versions[e.version_id].source_version) for e in entries if e.version_id]
    )
    out = []
    for entry in entries:
        if entry.kind == "PUBLISH":
            assert entry.version_id is not None  # every PUBLISH entry names its version
            disclosure = disclosures[entry.disclosure_id]
            item = disclosure.catalogue_item
            content = publish_content(
                region,
                disclosure,
                versions[entry.version_id],
                item.code if item else None,
                lines.get((disclosure.id, versions[entry.version_id].source_version)),
            )
        else:
            content = retract_content(region, entry)
        out.append(
            {"seq": entry.seq, "prevHash": entry.prev_hash, "hash": entry.hash, "content": content}
        )
    return out


async def verify_region(region: Region) -> Verification:
    return verify_entries(await export_entries(region))
