"""Which villages published each required catalogue item for a period, on time or late."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from models.disclosures import CatalogueItem, Disclosure, DueDay, Frequency
from models.disclosures.periods import DEFAULT_DUE_DAY, Period, due_at
from models.finance import MonthlyAccount
from models.regions import Region, path_ids

ALSO_ANSWERED_BY_A_MONTHLY_ACCOUNT = ("FIN-3",)


@dataclass
class ItemStatus:
    item: CatalogueItem
    status: str  # ON_TIME, LATE, MISSING, PENDING
    due_at: datetime
    disclosure_id: int | None = None
    published_at: datetime | None = None


@dataclass
class VillageCompliance:
    village: Region
    items: list[ItemStatus] = field(default_factory=list)

    def count(self, status: str) -> int:
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
    items = await CatalogueItem.filter(
        required=True, active=True, parent_id=None, frequency=period.frequency
    ).order_by("sort_order")
    item_ids = [i.id for i in items]
    children = await CatalogueItem.filter(parent_id__in=item_ids).values("id", "parent_id")
    group_of = {i: i for i in item_ids} | {c["id"]: c["parent_id"] for c in children}
    rows = await Disclosure.filter(
        region_id__in=[v.id for v in villages],
        period=period.text,
        catalogue_item_id__in=list(group_of),
        first_published_at__isnull=False,
    ).values("id", "region_id", "catalogue_item_id", "first_published_at")
    # A monthly account lists the month's income and its expenses: filed under 各项收入
    # (FIN-2), it answers 各项支出 (FIN-3) as well.
    accounts = set(
        await MonthlyAccount.filter(disclosure_id__in=[r["id"] for r in rows]).values_list(
            "disclosure_id", flat=True
        )
    )
    also = [i.id for i in items if i.code in ALSO_ANSWERED_BY_A_MONTHLY_ACCOUNT]
    earliest: dict[tuple[int, int], dict] = {}
    for row in rows:
        groups = {group_of[row["catalogue_item_id"]]}
        if row["id"] in accounts:
            groups.update(also)
        for group in groups:
            key = (row["region_id"], group)
            first = earliest.get(key)
            if first is None or row["first_published_at"] < first["first_published_at"]:
                earliest[key] = row
    days = await due_days(villages, period.frequency)
    report = []
    for village in villages:
        deadline = due_at(period, days[village.id])
        entry = VillageCompliance(village)
        for item in items:
            row = earliest.get((village.id, item.id))
            if row is not None:
                status = "ON_TIME" if row["first_published_at"] <= deadline else "LATE"
                entry.items.append(
                    ItemStatus(item, status, deadline, row["id"], row["first_published_at"])
                )
            else:
                entry.items.append(
                    ItemStatus(item, "MISSING" if now > deadline else "PENDING", deadline)
                )
        report.append(entry)
    return report
