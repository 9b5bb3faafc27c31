"""Market price queries (public) and mutations (township officials and admins); merged into
the root types by api.schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import graphene

from api.context import Info
from api.inputs import date_arg, datetime_arg, enum_value
from api.prices.mutations import CreateMarket, ImportMarketPrices, RecordMarketPrices
from api.prices.types import (
    Commodity,
    CommodityCategory,
    LatestPrice,
    Market,
    PriceSeries,
    PriceUpdateConnection,
)
from api.regions.schema import load_region_by_global_id
from api.relay import connection_args, page_size
from api.sync import change_page, parse_change_cursor, server_time, with_server_time
from models.errors import NotFound
from models.prices import Commodity as CommodityModel
from models.prices.board import (
    changed_prices,
    find_commodity_by_code,
    latest_prices,
    price_series,
    serving_markets,
)


class PriceQueries(graphene.ObjectType):
    commodities = graphene.List(
        graphene.NonNull(Commodity),
        required=True,
        category=graphene.Argument(CommodityCategory),
        description="可录入价格的品种，按常用顺序",
    )
    markets = graphene.List(
        graphene.NonNull(Market),
        required=True,
        region_id=graphene.ID(required=True),
        description="服务该地区的市场：本级、上级（乡镇、县）和下级的市场，近的在前",
    )
    market_prices = graphene.Field(
        PriceSeries,
        required=True,
        commodity=graphene.String(required=True, description="品种代码（如 RICE）或中文名"),
        region_id=graphene.ID(required=True),
        from_=graphene.Date(required=True, name="from"),
        to=graphene.Date(required=True),
        description="逐日价格走势（最多366天）：服务该地区的各市场当天的最低、最高、平均价",
    )
    latest_prices = graphene.List(
        graphene.NonNull(LatestPrice),
        required=True,
        region_id=graphene.ID(required=True),
        description="行情板：每个品种在每个市场近60天内的最新价格，与一周前比较；按品种顺序",
    )
    price_updates = graphene.Field(
        PriceUpdateConnection,
        required=True,
        region_id=graphene.ID(required=True),
        updated_since=graphene.DateTime(
            description="此时刻及以后录入或更正的价格；不填为全部（首次同步）"
        ),
        **connection_args(),
        description="价格增量同步：服务该地区的市场的价格，按 (updatedAt, id) 从早到晚",
    )

    @staticmethod
    async def resolve_commodities(root: Any, info: Info, category: Any = None) -> Any:
        query = CommodityModel.filter(active=True)
        if category is not None:
            query = query.filter(category=enum_value(category))
        return await query.order_by("sort_order", "id")

    @staticmethod
    async def resolve_markets(root: Any, info: Info, region_id: str) -> Any:
        region = await load_region_by_global_id(info, region_id)
        return await serving_markets(region)

    @staticmethod
    async def resolve_market_prices(
        root: Any, info: Info, commodity: str, region_id: str, from_: date, to: date
    ) -> Any:
        region = await load_region_by_global_id(info, region_id)
        found = await find_commodity_by_code(commodity)
        if found is None:
            raise NotFound()
        return await price_series(found, region, date_arg(from_), date_arg(to))

    @staticmethod
    async def resolve_latest_prices(root: Any, info: Info, region_id: str) -> Any:
        region = await load_region_by_global_id(info, region_id)
        return await latest_prices(region, info.context.settings.clock())

    @staticmethod
    async def resolve_price_updates(
        root: Any,
        info: Info,
        region_id: str,
        updated_since: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        region = await load_region_by_global_id(info, region_id)
        at = server_time()  # before the read (api.sync)
        size = page_size(first)
        since = datetime_arg(updated_since) or datetime(1970, 1, 1, tzinfo=UTC)
        rows = await changed_prices(region, since, parse_change_cursor(after), size + 1)
        return with_server_time(change_page(rows, size), at)


class PriceMutations(graphene.ObjectType):
    create_market = CreateMarket.Field()
    record_market_prices = RecordMarketPrices.Field()
    import_market_prices = ImportMarketPrices.Field()
