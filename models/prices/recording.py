"""Setting up markets and recording their prices: township officials and admins only.

A batch of prices is stored whole or not at all. Each row names a commodity (its code or its
Chinese name), a market, the market day (Beijing time), a price in fen and optionally the
unit it is given in (converted to the commodity's, see `models.prices.units`). Recording a
price that is already there changes nothing; recording another price for the same
commodity, market and day corrects it: its revision counts up and the batch's audit entry
keeps the price before and after — a public figure never changes silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.audit import record
from models.errors import ErrorCode, UserError, UserErrors, fail
from models.policy import Action, Viewer
from models.prices import Commodity, Market, MarketPrice
from models.prices.units import converted
from models.regions import SEGMENT, Region, RegionKind, path_ids

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_ROWS = 5000  # one batch, typed or imported (an import's line limit is the same)
MAX_PRICE_FEN = 1_000_000_000  # ten million yuan per unit: anything above is a typing slip
MAX_AGE_DAYS = 5 * 365 + 1  # five years back: older figures are history, not a market board
MARKET_NAME_MAX = 60
MARKET_KINDS = (RegionKind.TOWNSHIP, RegionKind.COUNTY)

# The input field each check names: the API's by default; an import names its columns.
API_FIELDS = {
    "commodity": "commodity",
    "market": "market",
    "unit": "unit",
    "price": "priceFen",
    "date": "date",
}


def beijing_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(SHANGHAI).date()


@dataclass
class PriceRow:
    commodity: str  # code (RICE) or Chinese name (大米)
    market_id: int | None  # None: the market named in `market_label` is unknown
    date: date
    price_fen: float  # per `unit`; whole fen
    unit: str | None = None  # None or blank: the commodity's own unit
    line: int = 0  # the row as the user numbers it (1 = first input, or the sheet's line)
    market_label: str = ""  # how the user named the market, for error messages


@dataclass
class Recorded:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    prices: list[MarketPrice] = field(default_factory=list)  # in the order of the rows


@dataclass
class PriceBatch:
    """What a batch's audit entry is about: the region its markets share (its id)."""

    pk: int


async def create_market(viewer: Viewer, region_id: int, name: str) -> Market:
    """A market of a township or county, by its officials or admins; names are unique per
    region."""
    region = await Region.get_or_none(id=region_id)
    if region is None:
        raise fail(ErrorCode.NOT_FOUND, "regionId")
    viewer.require(Action.MARKET_CREATE, region.path)
    if region.kind not in MARKET_KINDS:
        raise fail(ErrorCode.MARKET_REGION_KIND, "regionId")
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= MARKET_NAME_MAX:
        raise fail(ErrorCode.INVALID_NAME, "name", max=MARKET_NAME_MAX, variant="MARKET")
    if await Market.filter(region_id=region.id, name=name).exists():
        raise fail(ErrorCode.NAME_TAKEN, "name", variant="MARKET")
    try:
        async with in_transaction():
            market = await Market.create(region_id=region.id, region_path=region.path, name=name)
            await record(
                viewer,
                "market.create",
                market,
                region_id=region.id,
                after={"name": name, "region_id": region.id},
            )
    except IntegrityError:  # a concurrent create won the race for the name
        raise fail(ErrorCode.NAME_TAKEN, "name", variant="MARKET") from None
    return market


async def commodity_index() -> dict[str, Commodity]:
    """Active commodities by code (upper case) and by Chinese name."""
    index: dict[str, Commodity] = {}
    for commodity in await Commodity.filter(active=True):
        index[commodity.code.upper()] = commodity
        index[commodity.name] = commodity
    return index


def find_commodity(index: dict[str, Commodity], text: str) -> Commodity | None:
    key = (text or "").strip()
    return index.get(key) or index.get(key.upper())


def whole_price(value: float) -> tuple[int | None, str | None]:
    """A price in fen as given: (fen, None), or (None, why not) as an error code's variant."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, ErrorCode.INVALID_AMOUNT
    if isinstance(value, float) and not math.isfinite(value):
        return None, ErrorCode.INVALID_AMOUNT
    if value <= 0:
        return None, ErrorCode.NON_POSITIVE_AMOUNT
    if value > MAX_PRICE_FEN:
        return None, ErrorCode.AMOUNT_TOO_LARGE
    if value != int(value):
        return None, ErrorCode.INVALID_AMOUNT
    return int(value), None


def shared_region_id(paths: set[str]) -> int:
    """The deepest region covering every one of `paths` (market regions)."""
    ordered = sorted(paths)
    first, last = ordered[0], ordered[-1]
    common = 0
    while common < min(len(first), len(last)) and first[common] == last[common]:
        common += 1
    common -= common % SEGMENT
    return path_ids(first[: max(common, SEGMENT)])[-1]


def price_entry(price: MarketPrice, codes: dict[int, str]) -> list[Any]:
    return [
        codes[price.commodity_id],
        price.market_id,
        price.date.isoformat(),
        price.price_fen,
        price.revision,
    ]


async def checked_rows(
    viewer: Viewer, rows: list[PriceRow], now: datetime, fields: dict[str, str] = API_FIELDS
) -> dict[tuple[int, int, date], tuple[Commodity, int]]:
    """Every row's checks (permission on each market first), nothing stored: the accepted
    rows by (commodity, market, day) with their price in the commodity's unit, or
    UserErrors naming each bad row."""
    if not rows:
        raise fail(ErrorCode.REQUIRED, "prices")
    if len(rows) > MAX_ROWS:
        raise fail(ErrorCode.TOO_MANY_ITEMS, "prices", max=MAX_ROWS)
    commodities = await commodity_index()
    market_ids = {r.market_id for r in rows if r.market_id is not None}
    markets = {m.id: m for m in await Market.filter(id__in=market_ids)} if market_ids else {}
    for path in sorted({m.region_path for m in markets.values()}):
        viewer.require(Action.PRICES_RECORD, path)

    today = beijing_today(now)
    oldest = today - timedelta(days=MAX_AGE_DAYS)
    errors: list[UserError] = []
    accepted: dict[tuple[int, int, date], tuple[Commodity, int]] = {}

    def problem(code: ErrorCode, key: str, row: PriceRow, **params: Any) -> None:
        errors.append(UserError(code, fields[key], params, line=row.line))

    for row in rows:
        before = len(errors)
        commodity = find_commodity(commodities, row.commodity)
        if commodity is None:
            problem(ErrorCode.UNKNOWN_COMMODITY, "commodity", row, commodity=row.commodity[:40])
        market = markets.get(row.market_id) if row.market_id is not None else None
        if market is None:
            label = row.market_label or str(row.market_id)
            problem(ErrorCode.UNKNOWN_MARKET, "market", row, market=label[:60])
        if row.date > today:
            problem(ErrorCode.DATE_IN_FUTURE, "date", row)
        elif row.date < oldest:
            problem(ErrorCode.DATE_TOO_OLD, "date", row, years=5)
        fen, wrong = whole_price(row.price_fen)
        if wrong is not None:
            unit = commodity.unit if commodity else "—"
            problem(
                ErrorCode(wrong),
                "price",
                row,
                variant="PRICE",
                unit=row.unit or unit,
                max_yuan=MAX_PRICE_FEN // 100,
            )
        elif commodity is not None and fen is not None:
            fen = converted(fen, row.unit, commodity.unit)
            if fen is None:
                problem(
                    ErrorCode.UNKNOWN_UNIT,
                    "unit",
                    row,
                    unit=(row.unit or "")[:8],
                    commodity=commodity.name,
                    expected=commodity.unit,
                )
            elif fen < 1:
                problem(
                    ErrorCode.NON_POSITIVE_AMOUNT,
                    "price",
                    row,
                    variant="CONVERTED",
                    unit=commodity.unit,
                )
            elif fen > MAX_PRICE_FEN:
                problem(
                    ErrorCode.AMOUNT_TOO_LARGE,
                    "price",
                    row,
                    variant="PRICE",
                    unit=commodity.unit,
                    max_yuan=MAX_PRICE_FEN // 100,
                )
        if len(errors) > before:
            continue
        assert commodity is not None and market is not None and fen is not None
        key = (commodity.id, market.id, row.date)
        if key in accepted:
            problem(ErrorCode.DUPLICATE_ENTRY, "commodity", row)
            continue
        accepted[key] = (commodity, fen)
    if errors:
        raise UserErrors(*errors)
    return accepted


async def record_prices(
    viewer: Viewer,
    rows: list[PriceRow],
    now: datetime | None = None,
    *,
    fields: dict[str, str] = API_FIELDS,
    source: str = "API",
) -> Recorded:
    """Record a batch of prices, all or nothing (see the module's text). `now` is when (the
    real time by default): no price may be for a later Beijing day, nor older than five
    years. Errors name the row (`line`) and the field (`fields` maps the checks to the
    caller's names)."""
    user = viewer.require_user()
    now = now or datetime.now(UTC)
    accepted = await checked_rows(viewer, rows, now, fields)
    try:
        async with in_transaction():
            return await store(viewer, user.id, accepted, now, source)
    except IntegrityError:  # a concurrent batch created one of these keys first
        raise fail(ErrorCode.PRICES_RECORDED_MEANWHILE, "prices") from None


async def store(
    viewer: Viewer,
    user_id: int,
    accepted: dict[tuple[int, int, date], tuple[Commodity, int]],
    now: datetime,
    source: str,
) -> Recorded:
    """Insert the new keys, correct the changed ones (a few statements whatever the batch's
    size) and write the batch's one audit entry."""
    keys = list(accepted)
    existing = await MarketPrice.filter(
        commodity_id__in={k[0] for k in keys},
        market_id__in={k[1] for k in keys},
        date__gte=min(k[2] for k in keys),
        date__lte=max(k[2] for k in keys),
    ).select_for_update()
    by_key = {(p.commodity_id, p.market_id, p.date): p for p in existing}
    codes = {commodity.id: commodity.code for commodity, _ in accepted.values()}
    result = Recorded()
    created: list[MarketPrice] = []
    corrected: list[MarketPrice] = []
    before: list[list[Any]] = []
    for key, (_, fen) in accepted.items():
        price = by_key.get(key)
        if price is None:
            price = MarketPrice(
                commodity_id=key[0],
                market_id=key[1],
                date=key[2],
                price_fen=fen,
                revision=1,
                recorded_by_id=user_id,
                recorded_at=now,
            )
            created.append(price)
        elif price.price_fen == fen:
            result.unchanged += 1
        else:
            before.append(price_entry(price, codes))
            price.price_fen = fen
            price.revision += 1
            price.recorded_by_id = user_id
            price.recorded_at = now
            corrected.append(price)
        result.prices.append(price)
    if created:
        await MarketPrice.bulk_create(created, batch_size=1000)
    if corrected:
        await MarketPrice.bulk_update(
            corrected,
            fields=["price_fen", "revision", "recorded_by_id", "recorded_at", "updated_at"],
            batch_size=500,
        )
    result.created, result.updated = len(created), len(corrected)
    if created or corrected:
        paths = set(
            await Market.filter(id__in={k[1] for k in keys}).values_list("region_path", flat=True)
        )
        region_id = shared_region_id(paths)  # type: ignore[arg-type]
        await record(
            viewer,
            "prices.record",
            PriceBatch(region_id),
            region_id=region_id,
            before={"prices": before} if before else None,
            after={
                "source": source,
                "created": len(created),
                "corrected": len(corrected),
                "unchanged": result.unchanged,
                "prices": [price_entry(p, codes) for p in created + corrected],
            },
        )
    return result
