"""A disclosure's content fields: checked, cleaned and set on its working copy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models.disclosures import (
    PERIODIC,
    CatalogueItem,
    Category,
    Disclosure,
    FarmingTag,
    Frequency,
)
from models.disclosures.periods import parse_period
from models.disclosures.tables import clean_tables, mask_id_numbers
from models.errors import ErrorCode, UserError, UserErrors
from models.media import Media
from models.regions import Region, covers

TITLE_MAX, BODY_MAX, MAX_ATTACHMENTS = 200, 20_000, 20
# The three village affairs (三务): published on a village only.
VILLAGE_ONLY = {Category.FINANCE, Category.PARTY, Category.VILLAGE_AFFAIRS}
# What may expire (leave the feed, stay readable); what is urgent when it is a warning.
EXPIRING = {Category.NOTICE, Category.FARMING}
WARNING_TAGS = {FarmingTag.PEST, FarmingTag.WEATHER}
PERIOD_EXAMPLES = {
    Frequency.MONTHLY: "2026-03",
    Frequency.QUARTERLY: "2026-Q1",
    Frequency.HALF_YEARLY: "2026-H1",
    Frequency.YEARLY: "2026",
}


async def apply_content(
    disclosure: Disclosure, region: Region, content: dict[str, Any], errors: list[UserError]
) -> None:
    """Check the given fields (`title`, `body`, `tables`, `must_read`, `catalogue_item_id`,
    `period`, `attachment_ids`, `tags`, `urgent`, `valid_from`, `expires_at`; None or
    absent = unchanged) and set them on the working copy.
    A missing catalogue item raises at once; the other problems are added to `errors`."""
    if content.get("title") is not None:
        title = " ".join(content["title"].split())
        if not 1 <= len(title) <= TITLE_MAX:
            errors.append(UserError(ErrorCode.INVALID_TITLE, "title", {"max": TITLE_MAX}))
        disclosure.title = mask_id_numbers(title)
    if content.get("body") is not None:
        if len(content["body"]) > BODY_MAX:
            errors.append(UserError(ErrorCode.BODY_TOO_LONG, "body", {"max": BODY_MAX}))
        disclosure.body = mask_id_numbers(content["body"].strip())
    if content.get("tables") is not None:
        # the row keys go with the tables: never served, copied to subsidy_entry on publication
        disclosure.tables, disclosure.row_keys = clean_tables(content["tables"], errors)
    if content.get("must_read") is not None:
        disclosure.must_read = bool(content["must_read"]) and disclosure.category == Category.NOTICE
    if content.get("catalogue_item_id") is not None:
        item = await CatalogueItem.get_or_none(id=content["catalogue_item_id"])
        if item is None:
            raise UserErrors(UserError(ErrorCode.NOT_FOUND, "catalogueItemId"))
        if item.category != disclosure.category or not item.active:
            errors.append(UserError(ErrorCode.CATALOGUE_MISMATCH, "catalogueItemId"))
        disclosure.catalogue_item_id = item.id
    if content.get("period") is not None:
        disclosure.period = content["period"].strip() or None
    apply_timing(disclosure, content, errors)
    if content.get("attachment_ids") is not None:
        disclosure.attachment_ids = await attachment_ids(region, content["attachment_ids"], errors)
    await check_period(disclosure, errors)


def utc(at: datetime) -> datetime:
    """Naive = UTC; whole seconds, as the chain reads them back from any database."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.replace(microsecond=0)


def apply_timing(disclosure: Disclosure, content: dict[str, Any], errors: list[UserError]) -> None:
    """Farming information's `tags`, `urgent` and `valid_from`; a notice's or farming
    information's `expires_at`. An urgent item is a pest or weather warning."""
    farming = disclosure.category == Category.FARMING
    for name, field in (("tags", "tags"), ("urgent", "urgency"), ("valid_from", "validFrom")):
        if content.get(name) is not None and not farming:
            errors.append(UserError(ErrorCode.FARMING_ONLY, field))
    if content.get("tags") is not None and farming:
        disclosure.tags = ",".join(sorted({str(FarmingTag(t)) for t in content["tags"]}))
    if content.get("urgent") is not None and farming:
        disclosure.urgent = bool(content["urgent"])
    if content.get("valid_from") is not None and farming:
        disclosure.valid_from = utc(content["valid_from"])
    if content.get("expires_at") is not None:
        if disclosure.category not in EXPIRING:
            errors.append(UserError(ErrorCode.EXPIRY_INVALID, "expiresAt"))
        else:
            disclosure.expires_at = utc(content["expires_at"])
    if disclosure.urgent and not WARNING_TAGS & set(tags_of(disclosure.tags)):
        errors.append(UserError(ErrorCode.URGENT_NEEDS_WARNING, "urgency"))
    start = disclosure.valid_from
    if disclosure.expires_at is not None and start is not None and disclosure.expires_at <= start:
        errors.append(UserError(ErrorCode.EXPIRY_INVALID, "expiresAt"))


def tags_of(stored: str) -> list[FarmingTag]:
    return [FarmingTag(t) for t in stored.split(",") if t]


def check_not_expired(disclosure: Disclosure, now: datetime, errors: list[UserError]) -> None:
    """Nothing is published already expired."""
    if disclosure.expires_at is not None and disclosure.expires_at <= now:
        errors.append(UserError(ErrorCode.EXPIRY_INVALID, "expiresAt"))


async def edit_content(disclosure: Disclosure, content: dict[str, Any]) -> Region:
    """Apply content fields to a disclosure's working copy, or refuse them all."""
    region = await Region.get(id=disclosure.region_id)
    errors: list[UserError] = []
    await apply_content(disclosure, region, content, errors)
    if errors:
        raise UserErrors(*errors)
    return region


async def check_period(disclosure: Disclosure, errors: list[UserError]) -> None:
    """A valid period, and for a periodic catalogue item a period of its frequency."""
    period = parse_period(disclosure.period) if disclosure.period else None
    if disclosure.period and period is None:
        errors.append(UserError(ErrorCode.INVALID_PERIOD, "period"))
        return
    if disclosure.catalogue_item_id:
        item = await CatalogueItem.get(id=disclosure.catalogue_item_id)
        if item.frequency in PERIODIC and (period is None or period.frequency != item.frequency):
            example = PERIOD_EXAMPLES.get(item.frequency, "2026")
            errors.append(UserError(ErrorCode.PERIOD_REQUIRED, "period", {"example": example}))


async def attachment_ids(region: Region, ids: list[int], errors: list[UserError]) -> list[int]:
    """The media to attach, in order and once each: existing, redacted copies only, and of
    this region, one above it or one below it."""
    if len(ids) > MAX_ATTACHMENTS:
        errors.append(
            UserError(ErrorCode.TOO_MANY_ATTACHMENTS, "attachmentIds", {"max": MAX_ATTACHMENTS})
        )
        return []
    # Locked (PostgreSQL): the orphan sweep cannot delete what a draft is taking in.
    found = Media.filter(id__in=ids).select_related("region")
    media = {m.id: m for m in await found.select_for_update(of=("media",), no_key=True)}
    for mid in ids:
        m = media.get(mid)
        if m is None:
            errors.append(UserError(ErrorCode.NOT_FOUND, "attachmentIds"))
        elif m.restricted:  # the unredacted receipt: attach its redacted copy instead
            errors.append(UserError(ErrorCode.ATTACHMENT_RESTRICTED, "attachmentIds"))
        elif not (covers(region.path, m.region.path) or covers(m.region.path, region.path)):
            errors.append(UserError(ErrorCode.ATTACHMENT_ELSEWHERE, "attachmentIds"))
    return list(dict.fromkeys(ids))
