"""A village's compliance badge for the home screen: this year's on-time rate and its place
in the county's league table, read from the league tables' store (models.flags.stats) —
one read when the scheduler's refresh has run, the full computation only when it has not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from models.flags.stats import COUNTS, StatsCache, dump_stats, stats_key_for
from models.regions import Region, RegionKind, path_ids

DUE, ON_TIME = COUNTS.index("disclosures_due"), COUNTS.index("disclosures_on_time")
# Grades by on-time rate in ‰: at least 950 is A, 800 B, 600 C, below D.
GRADES = ((950, "A"), (800, "B"), (600, "C"), (0, "D"))


@dataclass
class Badge:
    year: int
    due: int
    on_time: int
    on_time_permille: int | None  # None while nothing was due
    rank: int | None  # 1 = best rate among the county's villages with something due
    ranked: int
    grade: str | None


def grade(permille: int | None) -> str | None:
    if permille is None:
        return None
    return next(letter for floor, letter in GRADES if permille >= floor)


def permille(on_time: int, due: int) -> int:
    return (2 * on_time * 1000 + due) // (2 * due)


def badge_from(data: str, village_id: int, year: int) -> Badge:
    rows = {row[0]: row[1:] for row in json.loads(data)}
    rates = [permille(v[ON_TIME], v[DUE]) for v in rows.values() if v[DUE]]
    mine = rows.get(village_id)
    if mine is None or not mine[DUE]:
        due, on_time = (mine[DUE], mine[ON_TIME]) if mine else (0, 0)
        return Badge(year, due, on_time, None, None, len(rates), None)
    rate = permille(mine[ON_TIME], mine[DUE])
    rank = 1 + sum(1 for r in rates if r > rate)
    return Badge(year, mine[DUE], mine[ON_TIME], rate, rank, len(rates), grade(rate))


async def compliance_badge(stats: StatsCache, village: Region, today: date) -> Badge:
    """`today` in Beijing time picks the year (the table the refresh job keeps)."""
    if village.kind != RegionKind.VILLAGE:
        raise ValueError(village.kind)
    county_id = path_ids(village.path)[-3]  # village → township → county
    start, end = date(today.year, 1, 1), date(today.year + 1, 1, 1)
    data = await stats.store.load(stats_key_for(county_id, start, end, RegionKind.VILLAGE))
    if data is None:
        county = await Region.get(id=county_id)
        data = dump_stats(await stats.compute(county, start, end, RegionKind.VILLAGE))
    return badge_from(data, village.id, today.year)
