"""League tables (监督统计): per village or township, how well it discloses and answers.

Everything is computed from two aggregate reads (flags in the region and period; the
required catalogue items published in the period) and kept in a shared store (Redis, else
the `stats_snapshot` table) for every worker: numbers per region, no personal data.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.disclosures import PERIODIC
from models.disclosures.compliance import (
    ComplianceStatus,
    Publication,
    RequiredItems,
    due_days,
    earliest_answers,
    publication_status,
)
from models.disclosures.periods import SHANGHAI, due_at, local_start, periods_due_between
from models.flags import StatsSnapshot
from models.redis_guard import REDIS_DOWN, RedisGuard, as_text
from models.regions import Region, RegionKind, path_ids, subtree_range
from models.sql import Params, is_postgres

TTL = 600.0  # seconds a stored table is served: twice the refresh job's interval


@dataclass
class RegionStats:
    region: Region
    flags_received: int = 0
    flags_resolved: int = 0
    flags_rejected: int = 0
    flags_overdue: int = 0
    flags_reopened: int = 0
    disclosures_due: int = 0
    disclosures_on_time: int = 0
    response_hours: list[float] = field(default_factory=list)
    resolution_hours: list[float] = field(default_factory=list)
    # read back from the store, which keeps the medians rather than every flag's hours
    stored_medians: tuple[float | None, float | None] | None = None

    @property
    def on_time_rate(self) -> float | None:
        return self.disclosures_on_time / self.disclosures_due if self.disclosures_due else None

    @property
    def median_hours_to_first_response(self) -> float | None:
        if self.stored_medians is not None:
            return self.stored_medians[0]
        return round(statistics.median(self.response_hours), 1) if self.response_hours else None

    @property
    def median_hours_to_resolution(self) -> float | None:
        if self.stored_medians is not None:
            return self.stored_medians[1]
        return round(statistics.median(self.resolution_hours), 1) if self.resolution_hours else None

    def add(self, other: RegionStats) -> None:
        for name in (
            "flags_received",
            "flags_resolved",
            "flags_rejected",
            "flags_overdue",
            "flags_reopened",
            "disclosures_due",
            "disclosures_on_time",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.response_hours += other.response_hours
        self.resolution_hours += other.resolution_hours


def as_datetime(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# Reads a queryset's rows: model instances by default; the API passes its plain-row reader
# (api.rows.fetch_rows), as 1,500 region instances would cost more than the flag scans.
ReadRows = Callable[[QuerySet], Awaitable[list[Any]]]


async def read_instances(qs: QuerySet) -> list[Any]:
    return await qs


async def supervision_stats(
    scope: Region,
    start: date,
    end: date,
    level: RegionKind,
    now: datetime | None = None,
    read_rows: ReadRows = read_instances,
) -> list[RegionStats]:
    now = now or datetime.now(UTC)
    low, high = subtree_range(scope.path)
    villages = await read_rows(Region.filter(path__gte=low, path__lt=high, kind=RegionKind.VILLAGE))
    village_stats = {v.id: RegionStats(v) for v in villages}
    conn = Tortoise.get_connection("default")
    postgres = is_postgres(conn)
    range_start, range_end = local_start(start), local_start(end)

    # 1. Flags raised in the period: counts aggregated by the database, then the hours
    # to first response and to resolution as plain numbers for the medians. Both scans
    # read only the covering index (models/flags.py).
    def hours(later: str) -> str:
        if postgres:
            return f"EXTRACT(EPOCH FROM ({later} - created_at)) / 3600.0"
        return f"(julianday({later}) - julianday(created_at)) * 24.0"

    def window(param: Params) -> str:
        return (
            f"region_path >= {param(low)} AND region_path < {param(high)} "
            f"AND created_at >= {param(range_start)} AND created_at < {param(range_end)}"
        )

    done = "('RESOLVED', 'CONFIRMED')"
    counted = Params(postgres)
    counting = conn.execute_query_dict(
        "SELECT region_id, COUNT(*) AS received, "
        f"SUM(CASE WHEN status IN {done} THEN 1 ELSE 0 END) AS resolved, "
        "SUM(CASE WHEN status = 'REJECTED' THEN 1 ELSE 0 END) AS rejected, "
        "SUM(CASE WHEN reopened THEN 1 ELSE 0 END) AS reopened, "
        "SUM(CASE WHEN (first_response_at IS NULL AND due_at < "
        f"{counted(now)}) OR first_response_at > due_at THEN 1 ELSE 0 END) AS overdue "
        f"FROM flag WHERE {window(counted)} GROUP BY region_id",
        counted.values,
    )
    timed = Params(postgres)
    timing = conn.execute_query(
        f"SELECT region_id, {hours('first_response_at')}, "
        f"CASE WHEN status IN {done} THEN {hours('closed_at')} END "
        f"FROM flag WHERE {window(timed)} AND first_response_at IS NOT NULL",
        timed.values,
    )
    # PostgreSQL runs both scans at once on two pooled connections; SQLite one after another.
    counts, durations = await asyncio.gather(counting, timing)
    for row in counts:
        stats = village_stats.get(row["region_id"])
        if stats is not None:
            stats.flags_received = int(row["received"])
            stats.flags_resolved = int(row["resolved"] or 0)
            stats.flags_rejected = int(row["rejected"] or 0)
            stats.flags_reopened = int(row["reopened"] or 0)
            stats.flags_overdue = int(row["overdue"] or 0)
    for region_id, response, resolution in durations[1]:
        stats = village_stats.get(region_id)
        if stats is not None:
            stats.response_hours.append(float(response))
            if resolution is not None:
                stats.resolution_hours.append(float(resolution))

    # 2. Required catalogue items due in the period, and which were published on time.
    required = await RequiredItems.load(frequency__in=PERIODIC)
    items = required.items
    periods = [
        p for p in periods_due_between(start, end) if any(i.frequency == p.frequency for i in items)
    ]
    if periods and villages:
        params = Params(postgres)
        # The first publication under each item and period, and the first that is a
        # monthly account (it answers more items: see RequiredItems).
        rows = await conn.execute_query_dict(
            "SELECT d.region_id, d.catalogue_item_id, d.period, "
            "MIN(d.first_published_at) AS first, "
            "MIN(CASE WHEN a.id IS NOT NULL THEN d.first_published_at END) AS account "
            "FROM disclosure d LEFT JOIN monthly_account a ON a.disclosure_id = d.id "
            f"WHERE d.region_path >= {params(low)} AND d.region_path < {params(high)} "
            "AND d.first_published_at IS NOT NULL "
            f"AND d.catalogue_item_id IN ({params.many(list(required.group_of))}) "
            "GROUP BY d.region_id, d.catalogue_item_id, d.period",
            params.values,
        )
        published = earliest_answers(required, publications(rows))
        for frequency in PERIODIC:
            due_periods = [p for p in periods if p.frequency == frequency]
            freq_items = [i for i in items if i.frequency == frequency]
            if not due_periods or not freq_items:
                continue
            days = await due_days(villages, frequency)
            deadlines: dict[tuple[str, int], datetime | None] = {}
            for village in villages:
                stats = village_stats[village.id]
                for period in due_periods:
                    key = (period.text, days[village.id])
                    if key not in deadlines:  # a few distinct (period, due day) pairs
                        when = due_at(period, key[1])
                        inside = range_start <= when < range_end and when <= now
                        deadlines[key] = when if inside else None
                    deadline = deadlines[key]
                    if deadline is None:
                        continue
                    for item in freq_items:
                        stats.disclosures_due += 1
                        first = published.get((village.id, item.id, period.text))
                        status = publication_status(first.at if first else None, deadline, now)
                        if status == ComplianceStatus.ON_TIME:
                            stats.disclosures_on_time += 1

    if level == RegionKind.VILLAGE:
        return list(village_stats.values())
    # Townships (or counties): sum the villages below each.
    targets = await read_rows(Region.filter(path__gte=low, path__lt=high, kind=level))
    by_id = {t.id: RegionStats(t) for t in targets}
    for village in villages:
        for ancestor in path_ids(village.path):
            if ancestor in by_id:
                by_id[ancestor].add(village_stats[village.id])
    return list(by_id.values())


def publications(rows: list[dict[str, Any]]) -> Iterator[Publication]:
    """The aggregate's rows as publications: the first of each kind."""
    for row in rows:
        region, item, period = row["region_id"], row["catalogue_item_id"], row["period"]
        first, account = as_datetime(row["first"]), as_datetime(row["account"])
        assert first is not None  # MIN over at least one publication
        yield Publication(region, item, period, first, False)
        if account is not None:
            yield Publication(region, item, period, account, True)


def stats_key(scope: Region, start: date, end: date, level: RegionKind) -> str:
    return stats_key_for(scope.id, start, end, level)


def stats_key_for(scope_id: int, start: date, end: date, level: RegionKind) -> str:
    return f"{scope_id}:{start.isoformat()}:{end.isoformat()}:{level}"


COUNTS = (
    "flags_received",
    "flags_resolved",
    "flags_rejected",
    "flags_overdue",
    "flags_reopened",
    "disclosures_due",
    "disclosures_on_time",
)


def dump_stats(rows: list[RegionStats]) -> str:
    """The numbers and medians per region (the hours themselves stay behind)."""
    return json.dumps(
        [
            [r.region.id, *(getattr(r, n) for n in COUNTS)]
            + [r.median_hours_to_first_response, r.median_hours_to_resolution]
            for r in rows
        ]
    )


async def load_stats(data: str, read_rows: ReadRows) -> list[RegionStats] | None:
    """Stored tables with their regions read again (None if a region is gone)."""
    stored = json.loads(data)
    regions = {r.id: r for r in await read_rows(Region.filter(id__in=[s[0] for s in stored]))}
    out = []
    for region_id, *values in stored:
        region = regions.get(region_id)
        if region is None:
            return None
        stats = RegionStats(region, **dict(zip(COUNTS, values, strict=False)))
        stats.stored_medians = (values[-2], values[-1])
        out.append(stats)
    return out


class StatsStore(Protocol):
    async def load(self, key: str) -> str | None: ...
    async def save(self, key: str, data: str) -> None: ...


class DatabaseStatsStore:
    """League tables in the `stats_snapshot` table: what every worker reads without Redis."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = timedelta(seconds=ttl_seconds)

    async def load(self, key: str) -> str | None:
        row = await StatsSnapshot.get_or_none(key=key)
        if row is None or datetime.now(UTC) - row.computed_at >= self.ttl:
            return None
        return row.data

    async def save(self, key: str, data: str) -> None:
        at = datetime.now(UTC)
        if await StatsSnapshot.filter(key=key).update(data=data, computed_at=at):
            return
        try:
            async with in_transaction():  # a savepoint when called inside a transaction
                await StatsSnapshot.create(key=key, data=data, computed_at=at)
        except IntegrityError:  # another worker stored it first: ours is as new
            await StatsSnapshot.filter(key=key).update(data=data, computed_at=at)


class RedisStatsStore:
    """League tables in Redis (expiring after the TTL); while Redis is down, the database."""

    def __init__(
        self, guard: RedisGuard, prefix: str, ttl_seconds: float, fallback: StatsStore
    ) -> None:
        self.guard = guard
        self.prefix = prefix + "stats:"
        self.ttl = ttl_seconds
        self.fallback = fallback

    async def load(self, key: str) -> str | None:
        redis = self.guard.client()
        if redis is not None:
            try:
                value = await redis.get(self.prefix + key)
            except REDIS_DOWN as exc:
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                return as_text(value) if value is not None else None
        return await self.fallback.load(key)

    async def save(self, key: str, data: str) -> None:
        redis = self.guard.client()
        if redis is not None:
            try:
                await redis.set(self.prefix + key, data, px=int(self.ttl * 1000))
            except REDIS_DOWN as exc:
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                return
        await self.fallback.save(key, data)


def stats_store(
    redis: Redis | None, prefix: str, guard: RedisGuard | None = None, ttl_seconds: float = TTL
) -> StatsStore:
    database = DatabaseStatsStore(ttl_seconds)
    if redis is None:
        return database
    return RedisStatsStore(guard or RedisGuard(redis), prefix, ttl_seconds, database)


class StatsCache:
    """League tables change slowly and cost one scan of a county's flags: computed results
    are kept in a store every API worker reads (Redis, else the database) for a few minutes,
    and the scheduler's refresh job rewrites them before they expire."""

    def __init__(
        self,
        read_rows: ReadRows = read_instances,
        ttl_seconds: float = TTL,
        store: StatsStore | None = None,
    ) -> None:
        self.read_rows = read_rows
        self.store = store or DatabaseStatsStore(ttl_seconds)

    async def get(
        self, scope: Region, start: date, end: date, level: RegionKind
    ) -> list[RegionStats]:
        key = stats_key(scope, start, end, level)
        data = await self.store.load(key)
        if data is not None:
            stored = await load_stats(data, self.read_rows)
            if stored is not None:
                return stored
        return await self.compute(scope, start, end, level)

    async def compute(
        self,
        scope: Region,
        start: date,
        end: date,
        level: RegionKind,
        now: datetime | None = None,
    ) -> list[RegionStats]:
        rows = await supervision_stats(scope, start, end, level, now, read_rows=self.read_rows)
        await self.store.save(stats_key(scope, start, end, level), dump_stats(rows))
        return rows

    async def refresh(self, today: date | None = None, *, now: datetime | None = None) -> int:
        """Recompute this year's tables for every county into the store (run by the
        scheduler); returns the number of counties."""
        now = now or datetime.now(UTC)
        today = today or now.astimezone(SHANGHAI).date()
        start, end = date(today.year, 1, 1), date(today.year + 1, 1, 1)
        counties = await Region.filter(kind=RegionKind.COUNTY)
        for county in counties:
            for level in (RegionKind.VILLAGE, RegionKind.TOWNSHIP):
                await self.compute(county, start, end, level, now)
        return len(counties)
