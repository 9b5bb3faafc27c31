"""Monthly nudges from the compliance view: clerks on the 5th, townships on the 11th.

Which items a village still owes is `compliance` (models.disclosures.compliance), for every
period whose due day falls in the current month (Asia/Shanghai). Each notice is sent once per
region and month: a `ScheduledNotice` row is claimed in the transaction that records it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.accounts import Role, RoleGrant
from models.audit import record_many
from models.disclosures.compliance import ComplianceStatus, ItemStatus, compliance
from models.disclosures.periods import SHANGHAI, local_start, periods_due_between
from models.notifications import ScheduledNotice
from models.policy import Viewer
from models.regions import Region, RegionKind
from notifications.events import notify_many

CLERK_REMINDER = "CLERK_REMINDER"
MISSING_ITEMS_REPORT = "MISSING_ITEMS_REPORT"
CHUNK = 1000  # villages per compliance read: bounded IN lists on both databases


@dataclass
class Owed:
    village: Region
    items: list[tuple[str, ItemStatus]]  # (period, item status)


def this_month(now: datetime) -> tuple[str, date, date]:
    local = now.astimezone(SHANGHAI).date()
    start = date(local.year, local.month, 1)
    end = date(local.year + (local.month == 12), local.month % 12 + 1, 1)
    return f"{local.year}-{local.month:02d}", start, end


async def owed_this_month(
    now: datetime, wanted: Callable[[ItemStatus], bool]
) -> tuple[str, list[Owed]]:
    """Villages with required items due this month that `wanted` picks (not yet published)."""
    month, start, end = this_month(now)
    periods = periods_due_between(start, end)  # a superset: each deadline is checked below
    # a deadline is the end of its due day: midnight on the 1st closes last month's day
    after, until = local_start(start), local_start(end)
    villages = await Region.filter(kind=RegionKind.VILLAGE).order_by("id")
    owed: dict[int, Owed] = {}
    for i in range(0, len(villages), CHUNK):
        chunk = villages[i : i + CHUNK]
        for period in periods:
            for entry in await compliance(chunk, period, now):
                items = [
                    (period.text, s) for s in entry.items if after < s.due_at <= until and wanted(s)
                ]
                if items:
                    owed.setdefault(entry.village.id, Owed(entry.village, [])).items += items
    return month, list(owed.values())


def item_names(owed: Owed) -> list[dict[str, Any]]:
    return [
        {
            "code": s.item.code,
            "name": s.item.name,
            "period": period,
            "due_at": s.due_at.isoformat(),
            "status": str(s.status),
        }
        for period, s in owed.items
    ]


async def grants_on(role: Role, region_ids: list[int]) -> dict[int, set[int]]:
    rows = await RoleGrant.filter(role=role, revoked_at=None, region_id__in=region_ids).values_list(
        "region_id", "user_id"
    )
    found: dict[int, set[int]] = defaultdict(set)
    for region_id, user_id in rows:
        found[region_id].add(user_id)
    return found


async def send_once(
    kind: str,
    month: str,
    now: datetime,
    notices: dict[int, tuple[Region, set[int], dict[str, Any]]],
    source: str,
) -> int:
    """Claim (kind, region, month) for each notice not sent yet and record its notifications
    and audit entry in the same transaction. A concurrent run that claims the same rows
    fails on the unique key and rolls back; the retry finds them sent."""
    for attempt in range(2):
        try:
            async with in_transaction():
                sent = set(
                    await ScheduledNotice.filter(
                        kind=kind, period=month, region_id__in=list(notices)
                    ).values_list("region_id", flat=True)
                )
                todo = [rid for rid in notices if rid not in sent]
                if not todo:
                    return 0
                await ScheduledNotice.bulk_create(
                    [
                        ScheduledNotice(kind=kind, region_id=rid, period=month, sent_at=now)
                        for rid in todo
                    ]
                )
                await notify_many(kind, "Region", [(notices[r][1], r, notices[r][2]) for r in todo])
                await record_many(
                    Viewer.for_system(source),
                    f"notice.{kind.lower()}",
                    [
                        (notices[r][0], r, None, {"period": month, **summary(notices[r][2])})
                        for r in todo
                    ],
                )
            return len(todo)
        except IntegrityError:
            if attempt:
                raise
    return 0


def summary(payload: dict[str, Any]) -> dict[str, Any]:
    """What the audit entry keeps of a notice: the counts, not the whole list."""
    return {k: v for k, v in payload.items() if isinstance(v, int)}


def unpublished(status: ItemStatus) -> bool:
    return status.status in (ComplianceStatus.PENDING, ComplianceStatus.MISSING)


def missing(status: ItemStatus) -> bool:
    return status.status == ComplianceStatus.MISSING


async def remind_clerks(*, now: datetime | None = None) -> int:
    """(Run on the 5th.) Each village's clerks get one reminder per month naming the required
    items due this month that the village has not published yet."""
    now = now or datetime.now(UTC)
    month, owed = await owed_this_month(now, unpublished)
    sent = 0
    for start in range(0, len(owed), CHUNK):  # each batch claimed and sent on its own
        batch = owed[start : start + CHUNK]
        clerks = await grants_on(Role.CLERK, [o.village.id for o in batch])
        notices = {
            o.village.id: (
                o.village,
                clerks[o.village.id],
                {"month": month, "items": item_names(o), "count": len(o.items)},
            )
            for o in batch
            if clerks.get(o.village.id)
        }
        sent += await send_once(CLERK_REMINDER, month, now, notices, "job:remind_clerks")
    return sent


async def report_missing_items(*, now: datetime | None = None) -> int:
    """(Run on the 11th.) Each township's officials get one report per month of the villages
    below it that missed a due day this month: per village the count and the items."""
    now = now or datetime.now(UTC)
    month, owed = await owed_this_month(now, missing)
    by_township: dict[int, list[Owed]] = defaultdict(list)
    for o in owed:
        if o.village.parent_id is not None:
            by_township[o.village.parent_id].append(o)
    townships = {t.id: t for t in await Region.filter(id__in=list(by_township))}
    officials = await grants_on(Role.OFFICIAL, list(by_township))
    notices = {}
    for tid, villages in by_township.items():
        if not officials.get(tid) or tid not in townships:
            continue
        report = [
            {
                "id": o.village.id,
                "name": o.village.name,
                "missing": len(o.items),
                "items": item_names(o),
            }
            for o in sorted(villages, key=lambda o: o.village.id)
        ]
        payload = {
            "month": month,
            "villages": report,
            "villages_missing": len(report),
            "items_missing": sum(len(o.items) for o in villages),
        }
        notices[tid] = (townships[tid], officials[tid], payload)
    return await send_once(MISSING_ITEMS_REPORT, month, now, notices, "job:report_missing_items")
