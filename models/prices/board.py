"""Reading prices: public, the same for every viewer (so answers can be cached).

A region is served by the markets of its own region, of the regions above it (a village
by its township's and county's markets) and of those below it (a county by all its
townships' markets). Aggregates are computed by the database over the individual prices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tortoise import Tortoise
from tortoise.expressions import Q

from models.errors import BadUserInput
from models.prices import Commodity, Market, MarketPrice
from models.prices.recording import beijing_today
from models.regions import SEGMENT, Region, subtree_range
from models.sql import Params, changed_after, is_postgres

MAX_RANGE_DAYS = 366  # one series: a year of days
BOARD_DAYS = 60  # the board shows a price recorded in the last 60 days, not an old one
WEEK = 7
WEEK_TOLERANCE = 3  # "a week ago": the latest price 7 to 10 days before


def ancestor_paths(region: Region) -> list[str]:
    return [region.path[:end] for end in range(SEGMENT, len(region.path), SEGMENT)]


def serving_filter(region: Region, via: str = "") -> Q:
    """The markets serving `region` (those above it and in its subtree); `via`: the relation
    to the market from the filtered model ("market__" for prices)."""
    low, high = subtree_range(region.path)
    above: dict[str, Any] = {f"{via}region_path__in": ancestor_paths(region)}
    below: dict[str, Any] = {f"{via}region_path__gte": low, f"{via}region_path__lt": high}
    return Q(**above) | Q(**below)


async def serving_markets(region: Region) -> list[Market]:
    """The markets serving `region`, the nearest regions' first, then by name."""
    markets = await Market.filter(serving_filter(region))
    return sorted(markets, key=lambda m: (abs(len(m.region_path) - len(region.path)), m.name, m.id))


def serving_sql(region: Region, p: Params, alias: str = "m") -> str:
    ancestors = ancestor_paths(region)
    low, high = subtree_range(region.path)
    within = f"({alias}.region_path >= {p(low)} AND {alias}.region_path < {p(high)})"
    if ancestors:
        return f"({within} OR {alias}.region_path IN ({p.many(ancestors)}))"
    return within


def day_value(postgres: bool, day: date) -> Any:
    return day if postgres else day.isoformat()


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def half_up(total: int, count: int) -> int:
    return (2 * total + count) // (2 * count)


@dataclass
class SeriesPoint:
    date: date
    min_fen: int
    max_fen: int
    avg_fen: int
    markets: int  # prices that day (one per market)


@dataclass
class Series:
    commodity: Commodity
    points: list[SeriesPoint]
    min_fen: int | None
    max_fen: int | None
    avg_fen: int | None  # over every price in the range, not an average of the daily ones
    count: int


async def find_commodity_by_code(text: str) -> Commodity | None:
    key = (text or "").strip()
    if not key or len(key) > 40:
        return None
    return await Commodity.filter(Q(code=key.upper()) | Q(name=key)).first()


def checked_range(start: date, end: date) -> None:
    if start > end or (end - start).days >= MAX_RANGE_DAYS:
        raise BadUserInput("DATE_RANGE_TOO_LONG", max=MAX_RANGE_DAYS)


async def price_series(commodity: Commodity, region: Region, start: date, end: date) -> Series:
    """Per day from `start` to `end` (inclusive) the lowest, highest and average price
    (half up to the fen) over the markets serving `region`, and the same over the range."""
    checked_range(start, end)
    conn = Tortoise.get_connection("default")
    postgres = is_postgres(conn)
    p = Params(postgres)
    sql = (
        "SELECT mp.date AS day, MIN(mp.price_fen) AS low, MAX(mp.price_fen) AS high, "
        "SUM(mp.price_fen) AS total, COUNT(*) AS n, "
        "(2 * SUM(mp.price_fen) + COUNT(*)) / (2 * COUNT(*)) AS average "
        "FROM market_price mp JOIN market m ON m.id = mp.market_id "
        f"WHERE mp.commodity_id = {p(commodity.id)} "
        f"AND mp.date >= {p(day_value(postgres, start))} "
        f"AND mp.date <= {p(day_value(postgres, end))} "
        f"AND {serving_sql(region, p)} "
        "GROUP BY mp.date ORDER BY mp.date"
    )
    rows = await conn.execute_query_dict(sql, p.values)
    points = [
        SeriesPoint(
            as_date(r["day"]), int(r["low"]), int(r["high"]), int(r["average"]), int(r["n"])
        )
        for r in rows
    ]
    total = sum(int(r["total"]) for r in rows)
    count = sum(int(r["n"]) for r in rows)
    return Series(
        commodity=commodity,
        points=points,
        min_fen=min((x.min_fen for x in points), default=None),
        max_fen=max((x.max_fen for x in points), default=None),
        avg_fen=half_up(total, count) if count else None,
        count=count,
    )


@dataclass
class BoardEntry:
    commodity: Commodity
    market: Market
    date: date
    price_fen: int
    revision: int
    updated_at: datetime
    week_ago_date: dt.date | None
    week_ago_fen: int | None

    @property
    def change_fen(self) -> int | None:
        return None if self.week_ago_fen is None else self.price_fen - self.week_ago_fen

    @property
    def change_permille(self) -> int | None:
        """The change against a week ago in ‰, rounded half away from zero."""
        if self.week_ago_fen is None or self.change_fen is None:
            return None
        change = abs(self.change_fen) * 1000
        value = (2 * change + self.week_ago_fen) // (2 * self.week_ago_fen)
        return value if self.change_fen >= 0 else -value


def days_before(postgres: bool, column: str, days: int) -> str:
    if postgres:
        return f"({column} - {days})"
    return f"date({column}, '-{days} days')"


async def latest_prices(region: Region, now: datetime | None = None) -> list[BoardEntry]:
    """Per commodity and market serving `region`, its latest price of the last BOARD_DAYS
    days, with the price a week before it (the latest 7 to 10 days before, else none); in
    the commodities' order, then the nearest markets first."""
    conn = Tortoise.get_connection("default")
    postgres = is_postgres(conn)
    since = beijing_today(now) - timedelta(days=BOARD_DAYS)
    p = Params(postgres)
    week, far = (
        days_before(postgres, "l.day", WEEK),
        days_before(postgres, "l.day", WEEK + WEEK_TOLERANCE),
    )
    sql = (
        "WITH latest AS ("
        " SELECT mp.commodity_id, mp.market_id, MAX(mp.date) AS day"
        " FROM market_price mp JOIN market m ON m.id = mp.market_id"
        f" WHERE mp.date >= {p(day_value(postgres, since))} AND {serving_sql(region, p)}"
        " GROUP BY mp.commodity_id, mp.market_id"
        "), earlier AS ("
        " SELECT l.commodity_id, l.market_id, MAX(o.date) AS day FROM latest l"
        " JOIN market_price o ON o.commodity_id = l.commodity_id AND o.market_id = l.market_id"
        f" AND o.date <= {week} AND o.date >= {far}"
        " GROUP BY l.commodity_id, l.market_id"
        ") "
        "SELECT l.commodity_id, l.market_id, l.day, c.price_fen, c.revision, c.updated_at,"
        " e.day AS week_day, w.price_fen AS week_fen FROM latest l"
        " JOIN market_price c ON c.commodity_id = l.commodity_id"
        " AND c.market_id = l.market_id AND c.date = l.day"
        " LEFT JOIN earlier e ON e.commodity_id = l.commodity_id AND e.market_id = l.market_id"
        " LEFT JOIN market_price w ON w.commodity_id = e.commodity_id"
        " AND w.market_id = e.market_id AND w.date = e.day"
    )
    rows = await conn.execute_query_dict(sql, p.values)
    if not rows:
        return []
    commodities = {
        c.id: c for c in await Commodity.filter(id__in={r["commodity_id"] for r in rows})
    }
    markets = {m.id: m for m in await Market.filter(id__in={r["market_id"] for r in rows})}
    entries = [
        BoardEntry(
            commodity=commodities[r["commodity_id"]],
            market=markets[r["market_id"]],
            date=as_date(r["day"]),
            price_fen=int(r["price_fen"]),
            revision=int(r["revision"]),
            updated_at=read_time(r["updated_at"]),
            week_ago_date=as_date(r["week_day"]) if r["week_day"] is not None else None,
            week_ago_fen=int(r["week_fen"]) if r["week_fen"] is not None else None,
        )
        for r in rows
    ]
    depth = len(region.path)
    entries.sort(
        key=lambda e: (
            e.commodity.sort_order,
            e.commodity.id,
            abs(len(e.market.region_path) - depth),
            e.market.name,
            e.market.id,
        )
    )
    return entries


def read_time(value: Any) -> datetime:
    """A timestamp as a raw query returns it: a datetime on PostgreSQL, text on SQLite."""
    return MarketPrice._meta.fields_map["updated_at"].to_python_value(value)


async def changed_prices(
    region: Region, since: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[MarketPrice]:
    """Delta sync of the prices of the markets serving `region` (as the board): every price
    recorded or corrected at or after `since`, ordered by (updated_at, id), after the keyset
    `after`. Prices are never deleted: a correction arrives as the price with its revision."""
    qs = MarketPrice.filter(serving_filter(region, "market__"), updated_at__gte=since)
    if after is not None:
        qs = qs.filter(changed_after(after))
    return await qs.order_by("updated_at", "id").limit(limit)
