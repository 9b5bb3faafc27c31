"""Which villages published each required catalogue item for a period, on time or late.

The rule lives here once, for `disclosureCompliance` and the league table
(models.flags.stats): which publications answer a required item (`RequiredItems`,
`earliest_answers`) and whether the first of them came by the due day
(`publication_status`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from models.disclosures import CatalogueItem, Disclosure, DueDay, Frequency
from models.disclosures.periods import DEFAULT_DUE_DAY, Period, due_at
from models.finance import MonthlyAccount
from models.regions import Region, path_ids

# A monthly account lists the month's income and its expenses: filed under 各项收入
# (FIN-2), it answers 各项支出 (FIN-3) as well.
ALSO_ANSWERED_BY_A_MONTHLY_ACCOUNT = ("FIN-3",)


class ComplianceStatus(StrEnum):
    ON_TIME = "ON_TIME"
    LATE = "LATE"
    MISSING = "MISSING"
    PENDING = "PENDING"  # not published yet, and not due yet


def publication_status(
    first_published_at: datetime | None, deadline: datetime, now: datetime
) -> ComplianceStatus:
    """A required item is on time when first published by the end of its due day."""
    if first_published_at is not None:
        if first_published_at <= deadline:
            return ComplianceStatus.ON_TIME
        return ComplianceStatus.LATE
    return ComplianceStatus.MISSING if now > deadline else ComplianceStatus.PENDING


@dataclass
class RequiredItems:
    """The required top-level catalogue items, and which publications answer each."""

    items: list[CatalogueItem]
    group_of: dict[int, int]  # an item or one of its sub-items → the required item
    also: list[int]  # required items a monthly account answers as well

    @classmethod
    async def load(cls, **filters: Any) -> RequiredItems:
        """The active required items (`filters` narrow them, e.g. by frequency)."""
        items = await CatalogueItem.filter(
            required=True, active=True, parent_id=None, **filters
        ).order_by("sort_order")
        children = await CatalogueItem.filter(parent_id__in=[i.id for i in items]).values(
            "id", "parent_id"
        )
        group_of = {i.id: i.id for i in items} | {c["id"]: c["parent_id"] for c in children}
        also = [i.id for i in items if i.code in ALSO_ANSWERED_BY_A_MONTHLY_ACCOUNT]
        return cls(items, group_of, also)

    def answered_by(self, catalogue_item_id: int, monthly_account: bool) -> set[int]:
        """The required items a publication filed under `catalogue_item_id` answers."""
        answered = {self.group_of[catalogue_item_id]}
        if monthly_account:
            answered.update(self.also)
        return answered


@dataclass(frozen=True)
class Publication:
    region_id: int
    catalogue_item_id: int
    period: str
    at: datetime  # first published
    monthly_account: bool
    disclosure_id: int | None = None


def earliest_answers(
    required: RequiredItems, publications: Iterable[Publication]
) -> dict[tuple[int, int, str], Publication]:
    """The first publication answering each (region, required item, period)."""
    earliest: dict[tuple[int, int, str], Publication] = {}
    for publication in publications:
        for item in required.answered_by(
            publication.catalogue_item_id, publication.monthly_account
        ):
            key = (publication.region_id, item, publication.period)
            first = earliest.get(key)
            if first is None or publication.at < first.at:
                earliest[key] = publication
    return earliest


@dataclass
class ItemStatus:
    item: CatalogueItem
    status: ComplianceStatus
    due_at: datetime
    disclosure_id: int | None = None
    published_at: datetime | None = None


@dataclass
class VillageCompliance:
    village: Region
    items: list[ItemStatus] = field(default_factory=list)

    def count(self, status: ComplianceStatus) -> int:
        return sum(1 for i in self.items if i.status == status)


async def due_days(regions: list[Region], frequency: Frequency) -> dict[int, int]:
    """Each region's due day: its own setting or its nearest ancestor's, else the default."""
    # Due days are set on a handful of regions: read them all rather than list thousands.
    settings = dict(await DueDay.filter(frequency=frequency).values_list("region_id", "day"))
    out = {}
    for region in regions:
        day = DEFAULT_DUE_DAY[frequency]
        for rid in path_ids(region.path):  # root first: the nearest setting wins last
            day = settings.get(rid, day)
        out[region.id] = day
    return out


async def compliance(
    villages: list[Region], period: Period, now: datetime | None = None
) -> list[VillageCompliance]:
    now = now or datetime.now(UTC)
    required = await RequiredItems.load(frequency=period.frequency)
    rows = await Disclosure.filter(
        region_id__in=[v.id for v in villages],
        period=period.text,
        catalogue_item_id__in=list(required.group_of),
        first_published_at__isnull=False,
    ).values("id", "region_id", "catalogue_item_id", "first_published_at")
    accounts = set(
        await MonthlyAccount.filter(disclosure_id__in=[r["id"] for r in rows]).values_list(
            "disclosure_id", flat=True
        )
    )
    earliest = earliest_answers(
        required,
        (
            Publication(
                row["region_id"],
                row["catalogue_item_id"],
                period.text,
                row["first_published_at"],
                row["id"] in accounts,
                row["id"],
            )
            for row in rows
        ),
    )
    days = await due_days(villages, period.frequency)
    report = []
    for village in villages:
        deadline = due_at(period, days[village.id])
        entry = VillageCompliance(village)
        for item in required.items:
            first = earliest.get((village.id, item.id, period.text))
            status = publication_status(first.at if first else None, deadline, now)
            if first is not None:
                entry.items.append(
                    ItemStatus(item, status, deadline, first.disclosure_id, first.at)
                )
            else:
                entry.items.append(ItemStatus(item, status, deadline))
        report.append(entry)
    return report
