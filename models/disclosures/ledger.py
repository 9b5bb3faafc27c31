"""The tamper-evident hash chain: one per region, one entry per publication or retraction.

hash = sha256(prev_hash ‖ canonical JSON of the entry's content). Verification recomputes
every entry from the rows it describes, so changing a published row in the database breaks
the chain at exactly that entry. The same check runs offline on an exported JSON file.

What readers are served comes from the working rows (`disclosure`, and a month's published
`account_version` and lines), not from the chain: the feed reads `disclosure` in one
hand-written statement. So verification also compares every served column of those rows
with the content of the latest entry that covers them (`served_breaks`), and names that
entry as broken; a public item without any entry (its entry deleted) breaks the chain at
the position after its end. `known_head` says whether today's chain still holds the head
(length and hash) a client saw before: a truncated or rewritten chain does not.

A redacted copy put in the place of a published file (`models.disclosures.redaction`)
changes the published rows in place and appends a REDACT entry naming which file hash
replaced which in which version, and why, with each changed version's attachments (and a
month's lines) as they now are. Earlier entries are recomputed with the later replacements
undone (`media_replacement` keeps them), so they still hash as they did.

Each entry keeps the content format it was written in (`LedgerEntry.format`), and is
recomputed in that format: a field added in a later format is left out of older entries,
so they verify exactly as they did when they were written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models.disclosures import (
    Disclosure,
    DisclosureVersion,
    LedgerEntry,
    MediaReplacement,
    Status,
)
from models.media import Media
from models.regions import Region

GENESIS = "0" * 64
# Content format of new entries: 2 adds a month's figures, the author, must-read and approval;
# 3 adds to each line of a month the problems the supervisors confirmed on it; 4 adds the
# version's farming tags, urgency, validity start and expiry (notices and farming only).
FORMAT = 4


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
    read from today's rows: a changed fen in `account_line` breaks the chain, as does a
    changed confirmed problem (`risk_hit`), which each line lists under "problems"."""
    from models.finance import AccountLine, MonthlyAccount, RiskHit, RiskStatus

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
    problems: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
    confirmed = RiskHit.filter(
        account_id__in=list(by_account),
        version__in=list({v for _, v in wanted}),
        status=RiskStatus.CONFIRMED,
    )
    for hit in await confirmed.order_by("id"):
        problems.setdefault((hit.account_id, hit.version, hit.line_no), []).append(
            {
                "rule": str(hit.rule),
                "detail": hit.detail,
                "note": hit.note,
                "decidedAt": iso(hit.decided_at) if hit.decided_at else None,
            }
        )
    out: dict[tuple[int, int | None], list[dict[str, Any]]] = {pair: [] for pair in wanted}
    for line in lines:
        account = by_account[line.account_id]
        key = (account.disclosure_id, line.version)
        if key not in out:
            continue
        row: dict[str, Any] = {
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
        found = problems.get((line.account_id, line.version, line.line_no))
        if found:
            row["problems"] = found
        # Only where there is one: entries chained before lines had vouchers stay valid,
        # and adding, changing or blanking a voucher number breaks the chain all the same.
        if line.voucher_no:
            row["voucher"] = line.voucher_no
        out[key].append(row)
    return out


async def account_figures(
    published: list[tuple[int, int | None]],
) -> dict[tuple[int, int | None], dict[str, Any]]:
    """The figures (balances, totals, chart, source) of the month versions these
    (disclosure, source version) pairs published, from today's `account_version` rows."""
    from models.finance import AccountVersion, MonthlyAccount

    wanted = {(d, v) for d, v in published if v is not None}
    if not wanted:
        return {}
    accounts = {
        a.id: a for a in await MonthlyAccount.filter(disclosure_id__in=[d for d, _ in wanted])
    }
    out: dict[tuple[int, int | None], dict[str, Any]] = {}
    for row in await AccountVersion.filter(
        account_id__in=list(accounts), version__in=list({v for _, v in wanted})
    ):
        account = accounts[row.account_id]
        key = (account.disclosure_id, row.version)
        if key in wanted:
            out[key] = figures_content(account, row)
    return out


def publish_content(
    region: Region,
    disclosure: Disclosure,
    version: DisclosureVersion,
    catalogue_code: str | None,
    lines: list[dict[str, Any]] | None = None,
    *,
    figures: dict[str, Any] | None = None,
    format: int = FORMAT,
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
        if format < 3:  # before confirmed problems were chained
            lines = [{k: v for k, v in line.items() if k != "problems"} for line in lines]
        content["lines"] = lines
    if format >= 2:
        content["format"] = format
        content["author"] = disclosure.author_id
        content["mustRead"] = disclosure.must_read
        content["approvedBy"] = version.approved_by_id
        content["approvedAt"] = iso(version.approved_at) if version.approved_at else None
        if version.source_version is not None:  # and its balances and totals
            content["figures"] = figures
    if format >= 4:
        content.update(timing_content(version))
    return content


def timing_content(row: Disclosure | DisclosureVersion) -> dict[str, Any]:
    """Tags, urgency, validity start and expiry as chained (format 4) and served."""
    return {
        "tags": [t for t in (row.tags or "").split(",") if t],
        "urgency": "URGENT" if row.urgent else "NORMAL",
        "validFrom": iso(row.valid_from) if row.valid_from else None,
        "expiresAt": iso(row.expires_at) if row.expires_at else None,
    }


@dataclass(frozen=True)
class Swap:
    """One replacement as the chain reads it: at entry `seq`, in a version, file hash
    `original` was replaced by `replacement`."""

    seq: int
    original: str | None
    replacement: str | None


def undone(shas: list[str | None], swaps: list[Swap], after: int) -> list[str | None]:
    """These file hashes as they were at entry `after`: the later replacements reversed."""
    for swap in sorted((w for w in swaps if w.seq > after), key=lambda w: -w.seq):
        shas = [swap.original if sha == swap.replacement else sha for sha in shas]
    return shas


def undone_lines(
    lines: list[dict[str, Any]] | None, swaps: list[Swap], after: int
) -> list[dict[str, Any]] | None:
    if lines is None:
        return None
    receipts = undone([line["receipt"] for line in lines], swaps, after)
    return [{**line, "receipt": r} for line, r in zip(lines, receipts, strict=True)]


def version_state(
    version: DisclosureVersion,
    lines: list[dict[str, Any]] | None,
    swaps: list[Swap],
    after: int,
) -> dict[str, Any]:
    """What a REDACT entry chains of one version it changed: its attachments (and a month's
    lines) as they were right after that entry."""
    state: dict[str, Any] = {
        "version": version.version,
        "attachments": undone([a["sha256"] for a in version.attachments], swaps, after),
    }
    if version.source_version is not None:
        state["lines"] = undone_lines(lines or [], swaps, after)
    return state


def redact_content(
    region: Region,
    disclosure_id: int,
    reason: str | None,
    at: datetime,
    replaced: list[dict[str, Any]],
    versions: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "kind": "REDACT",
        "region": region.code or str(region.id),
        "disclosure": disclosure_id,
        "replaced": sorted(replaced, key=lambda r: (r["version"], r["from"] or "", r["to"] or "")),
        "versions": sorted(versions, key=lambda v: v["version"]),
        "reason": reason,
        "redactedAt": iso(at),
    }


async def swaps_of(entries: list[LedgerEntry]) -> tuple[dict[int, list[Swap]], dict[int, list]]:
    """The replacements under these entries: by version (for undoing them), and by entry
    (version id, original hash, replacement hash) for their REDACT content."""
    seqs = {e.id: e.seq for e in entries}
    rows = await MediaReplacement.filter(entry_id__in=list(seqs)).order_by("id")
    media_ids = {r.original_id for r in rows} | {r.replacement_id for r in rows}
    shas = dict(await Media.filter(id__in=list(media_ids)).values_list("id", "sha256"))
    by_version: dict[int, list[Swap]] = {}
    by_entry: dict[int, list] = {}
    for row in rows:
        original, replacement = shas.get(row.original_id), shas.get(row.replacement_id)
        swap = Swap(seqs[row.entry_id], original, replacement)
        by_version.setdefault(row.version_id, []).append(swap)
        by_entry.setdefault(row.entry_id, []).append((row.version_id, original, replacement))
    return by_version, by_entry


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
                    format=FORMAT,
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
    # Whether the chain still holds a head the client saw before (None: none given).
    contains_known_head: bool | None = None


@dataclass
class KnownHead:
    length: int
    hash: str | None


def contains_head(entries: list[dict[str, Any]], known: KnownHead) -> bool:
    """Whether entry `known.length` is still there with the hash the client saw (an empty
    chain's head is the genesis hash, or none)."""
    if known.length == 0:
        return known.hash in (None, "", GENESIS)
    if not 0 < known.length <= len(entries):
        return False
    return entries[known.length - 1]["hash"] == (known.hash or "").strip().lower()


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
    swaps, replaced = await swaps_of(entries)
    version_ids = {e.version_id for e in entries if e.version_id} | set(swaps)
    versions = {v.id: v for v in await DisclosureVersion.filter(id__in=list(version_ids))}
    disclosures = {
        d.id: d
        for d in await Disclosure.filter(id__in={e.disclosure_id for e in entries}).select_related(
            "catalogue_item"
        )
    }
    published = [(v.disclosure_id, v.source_version) for v in versions.values()]
    lines = await account_lines(published)
    figures = await account_figures(published)
    out = []
    for entry in entries:
        if entry.kind == "PUBLISH":
            assert entry.version_id is not None  # every PUBLISH entry names its version
            disclosure = disclosures[entry.disclosure_id]
            item = disclosure.catalogue_item
            key = (disclosure.id, versions[entry.version_id].source_version)
            version = versions[entry.version_id]
            content = publish_content(
                region,
                disclosure,
                version,
                item.code if item else None,
                undone_lines(lines.get(key), swaps.get(version.id, []), entry.seq),
                figures=figures.get(key),
                format=entry.format,
            )
            content["attachments"] = undone(
                content["attachments"], swaps.get(version.id, []), entry.seq
            )
        elif entry.kind == "REDACT":
            rows = replaced.get(entry.id, [])
            changed = [versions[v] for v in dict.fromkeys(v for v, _, _ in rows)]
            content = redact_content(
                region,
                entry.disclosure_id,
                entry.reason,
                entry.at,
                [{"version": versions[v].version, "from": a, "to": b} for v, a, b in rows],
                [
                    version_state(
                        v,
                        lines.get((v.disclosure_id, v.source_version)),
                        swaps.get(v.id, []),
                        entry.seq,
                    )
                    for v in changed
                ],
            )
        else:
            content = retract_content(region, entry)
        out.append(
            {"seq": entry.seq, "prevHash": entry.prev_hash, "hash": entry.hash, "content": content}
        )
    return out


def public(disclosure: Disclosure) -> bool:
    """Whether anyone may read it: what the feeds and the detail serve."""
    return (
        disclosure.published_at is not None
        or disclosure.first_published_at is not None
        or disclosure.status in (Status.PUBLISHED, Status.RETRACTED)
    )


async def served_breaks(region: Region, entries: list[dict[str, Any]]) -> int | None:
    """The first entry whose content differs from what readers are served today: every
    served column of the region's disclosures (title, body, tables, period, category,
    catalogue item, region, attachments with their files' hashes — as the last redaction
    of the current version left them, if any — version, author,
    must-read, publication and retraction; from format 4 tags, urgency, validity and
    expiry) and of their months (the published version,
    its figures — and the working row's while no correction is staged). A public item
    with no entry at all breaks at the position after the chain's end."""
    from models.finance import FIGURES, AccountVersion, MonthlyAccount

    end = len(entries) + 1
    rows = {e.id: e for e in await LedgerEntry.filter(region_id=region.id).order_by("seq")}
    by_seq = {e.seq: e for e in rows.values()}
    disclosures = await Disclosure.filter(
        Q(region_id=region.id) | Q(id__in={e.disclosure_id for e in rows.values()})
    ).select_related("catalogue_item")
    latest: dict[int, dict[str, Any]] = {}  # disclosure → its last PUBLISH or RETRACT
    latest_publish: dict[int, dict[str, Any]] = {}
    first_publish: dict[int, dict[str, Any]] = {}
    # disclosure → the last entry chaining its current version's files: (seq, hashes)
    covering: dict[int, tuple[int, list[str | None]]] = {}
    for entry in entries:
        row = by_seq.get(entry["seq"])
        if row is None:
            continue
        if row.kind == "REDACT":
            current = latest_publish.get(row.disclosure_id)
            for state in entry["content"]["versions"]:
                if current is not None and state["version"] == current["content"]["version"]:
                    covering[row.disclosure_id] = (entry["seq"], state["attachments"])
            continue
        latest[row.disclosure_id] = entry
        if row.kind == "PUBLISH":
            latest_publish[row.disclosure_id] = entry
            first_publish.setdefault(row.disclosure_id, entry)
            covering[row.disclosure_id] = (entry["seq"], entry["content"]["attachments"])
    media_ids = {m for d in disclosures for m in d.attachment_ids}
    shas = dict(await Media.filter(id__in=list(media_ids)).values_list("id", "sha256"))
    accounts = {
        a.disclosure_id: a
        for a in await MonthlyAccount.filter(disclosure_id__in=[d.id for d in disclosures])
    }
    figures = {
        (f.account_id, f.version): f
        for f in await AccountVersion.filter(account_id__in=[a.id for a in accounts.values()])
    }
    versions = {
        v.id: v
        for v in await DisclosureVersion.filter(
            id__in=[r.version_id for r in rows.values() if r.version_id]
        )
    }
    broken: list[int] = []
    for d in disclosures:
        last, shown = latest.get(d.id), latest_publish.get(d.id)
        if last is None or shown is None:
            if public(d) or d.id in accounts and accounts[d.id].published_version is not None:
                broken.append(end if last is None else last["seq"])
            continue
        content = shown["content"]
        item = d.catalogue_item
        served = {
            "region": region.code or str(region.id),
            "category": str(d.category),
            "catalogueItem": item.code if item else None,
            "title": d.title,
            "body": d.body,
            "tables": d.tables,
            "period": d.period,
            "version": d.version,
            "publishedAt": iso(d.published_at) if d.published_at else None,
        }
        if content.get("format", 1) >= 2:
            served.update(
                author=d.author_id,
                mustRead=d.must_read,
                approvedBy=d.approved_by_id,
                approvedAt=iso(d.approved_at) if d.approved_at else None,
            )
        if content.get("format", 1) >= 4:
            served.update(timing_content(d))
        first = first_publish[d.id]["content"]["publishedAt"]
        differs = (
            d.region_id != region.id
            or d.region_path != region.path
            or d.first_published_at is None
            or iso(d.first_published_at) != first
            or any(content.get(key) != value for key, value in served.items())
        )
        account = accounts.get(d.id)
        if account is not None:
            version = versions[by_seq[shown["seq"]].version_id or 0]
            published = figures.get((account.id, account.published_version or 0))
            differs = differs or (
                account.published_version != version.source_version
                or account.village_id != region.id
                or f"{account.year}-{account.month:02d}" != d.period
                or published is None
                or content.get("format", 1) >= 2
                and content.get("figures") != figures_content(account, published)
                or account.version == account.published_version
                and any(getattr(account, name) != getattr(published, name) for name in FIGURES)
            )
        if differs:
            broken.append(shown["seq"])
            continue
        files_seq, files = covering[d.id]  # a redaction's entry, or the publication's
        if [shas.get(m) for m in d.attachment_ids] != files:
            broken.append(files_seq)
            continue
        row = by_seq[last["seq"]]
        if row.kind == "RETRACT":
            retraction_differs = (
                d.status != Status.RETRACTED
                or d.retraction_reason != last["content"]["reason"]
                or d.retracted_at is None
                or iso(d.retracted_at) != last["content"]["retractedAt"]
            )
        else:
            retraction_differs = (
                d.status != Status.PUBLISHED
                or d.retracted_at is not None
                or d.retraction_reason is not None
            )
        if retraction_differs:
            broken.append(last["seq"])
    return min(broken, default=None)


def figures_content(account: Any, row: Any) -> dict[str, Any]:
    return {
        "year": account.year,
        "month": account.month,
        "chart": row.chart_version,
        "openingFen": row.opening_balance_fen,
        "incomeFen": row.income_fen,
        "expenseFen": row.expense_fen,
        "closingFen": row.closing_balance_fen,
        "source": row.source,
    }


async def check_region(
    region: Region, known_head: KnownHead | None = None
) -> tuple[list[dict[str, Any]], Verification]:
    """The exported entries and the full verdict: the chain itself, what is served against
    it, and whether it still holds `known_head`."""
    entries = await export_entries(region)
    result = verify_entries(entries)
    served = await served_breaks(region, entries)
    if served is not None and (result.first_broken_at is None or served < result.first_broken_at):
        result = Verification(False, result.length, result.head_hash, served)
    if known_head is not None:
        result.contains_known_head = contains_head(entries, known_head)
    return entries, result


async def verify_region(region: Region, known_head: KnownHead | None = None) -> Verification:
    return (await check_region(region, known_head))[1]
