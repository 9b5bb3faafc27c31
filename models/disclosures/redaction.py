"""A redacted copy takes the place of a published file everywhere it is published: each
published version of a disclosure that holds it (a month's published lines too), the
disclosure's served attachments, and flags' evidence. Each changed disclosure gets a REDACT
entry in its region's chain naming which file hash replaced which in which version, and why;
`media_replacement` keeps the pairs so the chain recomputes the earlier entries as they were.
Drafts and staged corrections take the copy too, unchained. A month's unpublished lines keep
the original: its approval refuses a restricted receipt, and the clerk attaches the copy.
"""

from __future__ import annotations

from typing import cast

from tortoise.expressions import Q

from media.operations import redact_media
from media.processing import Rect
from media.service import MediaStore, mark_attached
from models.audit import record
from models.disclosures import (
    Disclosure,
    DisclosureVersion,
    MediaReplacement,
    StagedCorrection,
    ledger,
)
from models.disclosures.publishing import now_utc
from models.flags import Flag
from models.media import Media
from models.policy import Action, Viewer
from models.regions import Region, path_ids, subtree_range


async def candidate_disclosures(originals: list[Media]) -> list[Disclosure]:
    """Public disclosures that may hold these files: attachments come from the disclosure's
    region or one above or below it, a month's receipts from its lines."""
    from models.finance import AccountLine, MonthlyAccount

    paths = dict(
        await Region.filter(id__in={m.region_id for m in originals}).values_list("id", "path")
    )
    near = Q()
    for path in paths.values():
        low, high = subtree_range(path)
        near |= Q(region_id__in=path_ids(path)) | Q(region_path__gte=low, region_path__lt=high)
    accounts = await AccountLine.filter(receipt_id__in=[m.id for m in originals]).values_list(
        "account_id", flat=True
    )
    months = await MonthlyAccount.filter(
        id__in=list(set(accounts)), disclosure_id__not_isnull=True
    ).values_list("disclosure_id", flat=True)
    return await Disclosure.filter(near | Q(id__in=list(months))).order_by("id")


async def replace_in_drafts(
    viewer: Viewer, disclosures: list[Disclosure], originals: dict[int, Media], copy: Media
) -> int:
    """A draft or a staged correction holding an original would publish a file nobody may
    see: it takes the copy too (nothing published changes, so no chain entry)."""
    changed = 0
    staged = {
        s.disclosure_id: s
        for s in await StagedCorrection.filter(disclosure_id__in=[d.id for d in disclosures])
    }
    for disclosure in disclosures:
        rows: list[Disclosure | StagedCorrection] = []
        if disclosure.first_published_at is None:
            rows.append(disclosure)
        if disclosure.id in staged:
            rows.append(staged[disclosure.id])
        held = [r for r in rows if any(m in originals for m in r.attachment_ids)]
        for row in held:
            row.attachment_ids = [copy.id if m in originals else m for m in row.attachment_ids]
            await row.save(update_fields=["attachment_ids"])
        if held:
            await record(
                viewer,
                "disclosure.redact_attachment",
                disclosure,
                region_id=disclosure.region_id,
                after={"media_id": copy.id, "unpublished": True},
            )
            changed += 1
    return changed


async def replace_in_disclosure(
    viewer: Viewer,
    disclosure: Disclosure,
    versions: list[DisclosureVersion],
    originals: dict[int, Media],
    copy: Media,
    reason: str | None,
) -> bool:
    """Put `copy` in the place of `originals` in this disclosure's published versions and
    chain the change; False when none of them holds one."""
    from models.finance import AccountLine, MonthlyAccount

    account = await MonthlyAccount.get_or_none(disclosure_id=disclosure.id)
    hit_lines: set[int] = set()  # account versions whose lines hold an original
    if account is not None:
        found = await AccountLine.filter(
            account_id=account.id, receipt_id__in=list(originals)
        ).values_list("version", flat=True)
        hit_lines = set(cast(list[int], found))
    changed: list[tuple[DisclosureVersion, list[int]]] = []
    for version in versions:
        held = [a["id"] for a in version.attachments if a["id"] in originals]
        if account is not None and version.source_version in hit_lines:
            held += await AccountLine.filter(
                account_id=account.id,
                version=version.source_version,
                receipt_id__in=list(originals),
            ).values_list("receipt_id", flat=True)
        if held:
            changed.append((version, list(dict.fromkeys(held))))
    if not changed:
        return False
    # A file attached from a region above or below: whoever redacts covers this item too.
    viewer.require(Action.MEDIA_REDACT, disclosure.region_path)
    fresh = {"id": copy.id, "sha256": copy.sha256}
    for version, _ in changed:
        version.attachments = [fresh if a["id"] in originals else a for a in version.attachments]
        await version.save(update_fields=["attachments"])
        if account is not None and version.source_version is not None:
            await AccountLine.filter(
                account_id=account.id,
                version=version.source_version,
                receipt_id__in=list(originals),
            ).update(receipt_id=copy.id)
    disclosure.attachment_ids = [
        copy.id if m in originals else m for m in disclosure.attachment_ids
    ]
    await disclosure.save(update_fields=["attachment_ids", "updated_at"])  # feeds resync

    region = await Region.get(id=disclosure.region_id)
    keys = [(disclosure.id, v.source_version) for v, _ in changed]
    lines = await ledger.account_lines(keys)
    replaced = [
        {"version": v.version, "from": originals[m].sha256, "to": copy.sha256}
        for v, held in changed
        for m in held
    ]
    states = [
        ledger.version_state(v, lines.get((disclosure.id, v.source_version)), [], 0)
        for v, _ in changed
    ]
    at = now_utc()
    content = ledger.redact_content(region, disclosure.id, reason, at, replaced, states)
    current = await DisclosureVersion.get(disclosure_id=disclosure.id, version=disclosure.version)
    entry = await ledger.append(
        region, "REDACT", content, disclosure=disclosure, version=current, reason=reason, at=at
    )
    await MediaReplacement.bulk_create(
        [
            MediaReplacement(
                entry_id=entry.id, version_id=v.id, original_id=m, replacement_id=copy.id
            )
            for v, held in changed
            for m in held
        ]
    )
    await record(
        viewer,
        "disclosure.redact_attachment",
        disclosure,
        region_id=disclosure.region_id,
        after={
            "versions": [v.version for v, _ in changed],
            "replaced": sorted({(r["from"], r["to"]) for r in replaced}),
            "media_id": copy.id,
            "reason": reason,
            "entry": entry.seq,
        },
    )
    return True


async def replace_published(
    viewer: Viewer, originals: list[Media], copy: Media, reason: str | None
) -> int:
    """Put the redacted `copy` in the place of `originals` (every row holding the unredacted
    file) wherever they are published (how many published items changed), and in drafts
    about to be. Call inside the redaction's transaction."""
    by_id = {m.id: m for m in originals}
    changed = 0
    disclosures = await candidate_disclosures(originals)
    versions: dict[int, list[DisclosureVersion]] = {}
    for version in await DisclosureVersion.filter(
        disclosure_id__in=[d.id for d in disclosures]
    ).order_by("version"):
        versions.setdefault(version.disclosure_id, []).append(version)
    await replace_in_drafts(viewer, disclosures, by_id, copy)
    for disclosure in disclosures:
        if disclosure.first_published_at is None:
            continue
        if await replace_in_disclosure(
            viewer, disclosure, versions.get(disclosure.id, []), by_id, copy, reason
        ):
            changed += 1
    # A flag's evidence takes the flag's region on submission.
    for flag in await Flag.filter(region_id__in={m.region_id for m in originals}).order_by("id"):
        if not any(m in by_id for m in flag.media_ids):
            continue
        # Evidence of a complaint: only those who handle flags there may change it, never
        # the village's clerk or supervisors, whom a flag is about.
        viewer.require(Action.FLAG_HANDLE, flag.region_path)
        flag.media_ids = [copy.id if m in by_id else m for m in flag.media_ids]
        await flag.save(update_fields=["media_ids"])
        await record(
            viewer,
            "flag.redact_evidence",
            flag,
            region_id=flag.region_id,
            after={"media_id": copy.id, "reason": reason},
        )
        changed += 1
    if changed:
        await mark_attached([copy.id])  # published now: public like the file it replaces
    return changed


async def redact_everywhere(
    viewer: Viewer, store: MediaStore, media_id: int, rectangles: list[Rect], reason: str | None
) -> Media:
    """`redactMedia`: black out rectangles into a new media, which takes the original's place
    wherever it is published or about to be."""
    return await redact_media(
        viewer, store, media_id, rectangles, reason, replace=replace_published
    )
