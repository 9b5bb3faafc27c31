"""Publishing: snapshot the working copy as an immutable version, chain it, index it."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from media.service import mark_attached
from models.audience import residents_below
from models.audit import record
from models.disclosures import (
    CatalogueItem,
    Category,
    Disclosure,
    DisclosureVersion,
    LedgerEntry,
    Status,
    SubsidyEntry,
    ledger,
    search,
)
from models.media import Media
from models.policy import Viewer
from models.regions import Region
from notifications.events import notify
from notifications.fanout import enqueue_fanout, enqueue_retraction


def now_utc() -> datetime:
    # Whole seconds: the chain's canonical text must read back identically from any database.
    return datetime.now(UTC).replace(microsecond=0)


async def publish(
    disclosure: Disclosure,
    actor_id: int,
    *,
    reason: str | None = None,
    at: datetime | None = None,
    source_version: int | None = None,
) -> DisclosureVersion:
    """Publish the working copy as the next version. Call inside a transaction."""
    at = (at or now_utc()).replace(microsecond=0)
    media = {m.id: m for m in await Media.filter(id__in=disclosure.attachment_ids)}
    attachments = [
        {"id": mid, "sha256": media[mid].sha256}
        for mid in disclosure.attachment_ids
        if mid in media
    ]
    version = await DisclosureVersion.create(
        disclosure=disclosure,
        version=disclosure.version + 1,
        title=disclosure.title,
        body=disclosure.body,
        tables=disclosure.tables,
        period=disclosure.period,
        attachments=attachments,
        reason=reason,
        source_version=source_version,
        tags=disclosure.tags,
        urgent=disclosure.urgent,
        valid_from=disclosure.valid_from,
        expires_at=disclosure.expires_at,
        published_at=at,
        published_by_id=actor_id,
        approved_by_id=disclosure.approved_by_id,
        approved_at=disclosure.approved_at,
    )
    first = disclosure.first_published_at is None
    disclosure.version = version.version
    disclosure.status = Status.PUBLISHED
    disclosure.published_at = at
    disclosure.first_published_at = disclosure.first_published_at or at
    disclosure.publish_at = None
    await disclosure.save()
    region = await Region.get(id=disclosure.region_id)
    item = (
        await CatalogueItem.get(id=disclosure.catalogue_item_id)
        if disclosure.catalogue_item_id
        else None
    )
    key = (disclosure.id, source_version)
    lines = (await ledger.account_lines([key])).get(key)
    figures = (await ledger.account_figures([key])).get(key)
    content = ledger.publish_content(
        region, disclosure, version, item.code if item else None, lines, figures=figures
    )
    await ledger.append(region, "PUBLISH", content, disclosure=disclosure, version=version, at=at)
    await record_subsidy_entries(disclosure, version.version)
    await search.index(disclosure.id, disclosure.title, disclosure.body, disclosure.tables, at)
    await mark_attached(disclosure.attachment_ids)
    # every way to publish comes here (at once, approved, scheduled, corrected, a month's
    # accounts): readers hear of each version, a correction of a published figure included
    await enqueue_fanout(disclosure.id, version.version)
    if first and disclosure.must_read and disclosure.category == Category.NOTICE:
        # the residents of every village it covers, at once: a must-read overrides digests
        readers = await residents_below(region.path) - {actor_id}
        await notify(readers, "MUST_READ_NOTICE", "Disclosure", disclosure.id, urgent=True)
    return version


async def record_subsidy_entries(disclosure: Disclosure, version: int) -> None:
    """The rows of this version that name someone by ID number, by its keyed hash (我的补贴).
    Not chained: nobody outside could recompute a keyed hash of a masked number."""
    entries = [
        SubsidyEntry(
            id_hash=key,
            disclosure_id=disclosure.id,
            version=version,
            table_index=t,
            row_index=r,
        )
        for t, keys in enumerate(disclosure.row_keys or [])
        for r, key in enumerate(keys)
        if key
    ]
    if entries:
        await SubsidyEntry.bulk_create(entries, batch_size=1000)


async def retract(disclosure: Disclosure, reason: str) -> LedgerEntry:
    at = now_utc()
    disclosure.status = Status.RETRACTED
    disclosure.retracted_at = at
    disclosure.retraction_reason = reason
    await disclosure.save()
    region = await Region.get(id=disclosure.region_id)
    draft = LedgerEntry(disclosure_id=disclosure.id, reason=reason, at=at)
    entry = await ledger.append(
        region,
        "RETRACT",
        ledger.retract_content(region, draft),
        disclosure=disclosure,
        reason=reason,
        at=at,
    )
    await search.unindex(disclosure.id)
    await enqueue_retraction(disclosure.id)  # those told of it hear it was withdrawn
    return entry


async def publish_due(now: datetime | None = None) -> int:
    """Publish every scheduled disclosure whose time has come (run by the scheduler)."""
    now = now or now_utc()
    published = 0
    for candidate in await Disclosure.filter(status=Status.SCHEDULED, publish_at__lte=now):
        async with in_transaction():
            disclosure = await Disclosure.select_for_update().get(id=candidate.id)
            if disclosure.status != Status.SCHEDULED:  # another worker got there first
                continue
            version = await publish(disclosure, disclosure.approved_by_id or disclosure.author_id)
            await record(
                Viewer.for_system("job:publish_due"),
                "disclosure.publish",
                disclosure,
                region_id=disclosure.region_id,
                after={"version": version.version},
            )
            published += 1
    return published
