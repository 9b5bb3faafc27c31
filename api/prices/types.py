"""Commodities, markets and prices as the public reads them: nothing here depends on who asks."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.compiled import by_class
from api.context import Info
from api.loaders import ModelByIdLoader, RegionLoader
from api.regions.types import Region
from api.relay import Node, register_node
from api.rows import is_row_of
from api.sync import resolve_server_time, server_time_field
from models.prices import Commodity as CommodityModel
from models.prices import CommodityCategory as CategoryEnum
from models.prices import Market as MarketModel
from models.prices import MarketPrice as PriceModel

CommodityCategory = graphene.Enum.from_enum(CategoryEnum)


class CommodityLoader(ModelByIdLoader):
    model = CommodityModel


class MarketLoader(ModelByIdLoader):
    model = MarketModel


class Commodity(graphene.ObjectType):
    class Meta:
        description = "农产品或农资品种；价格都按其 unit（计量单位）计"

    code = graphene.String(required=True, description="品种代码，如 RICE；查询和录入时也可用中文名")
    name = graphene.String(required=True)
    name_en = graphene.String(required=True)
    unit = graphene.String(required=True, description="计量单位：斤、公斤、吨……")
    category = graphene.Field(CommodityCategory, required=True)
    sort_order = graphene.Int(required=True)


@register_node
class Market(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "乡镇或县里的集市、农贸市场；价格按市场和日期录入"

    name = graphene.String(required=True)
    region = graphene.Field(Region, required=True)

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, MarketModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> MarketModel | None:
        # Markets are public.
        return await info.context.loaders[MarketLoader].load(int(pk)) if pk.isdigit() else None

    @staticmethod
    def resolve_region(root: MarketModel, info: Info) -> Any:
        return info.context.loaders[RegionLoader].load(root.region_id)


class MarketPrice(graphene.ObjectType):
    class Meta:
        description = "某市场某天某品种的价格（分/计量单位）；更正过的价格 revision 大于 1"

    commodity = graphene.Field(Commodity, required=True)
    market = graphene.Field(Market, required=True)
    date = graphene.Date(required=True, description="集市日（北京时间）")
    price_fen = graphene.Int(required=True, description="每计量单位的价格（分）")
    unit = graphene.String(required=True)
    revision = graphene.Int(required=True, description="1 为首次录入，每次更正加 1")
    recorded_at = graphene.DateTime(required=True, description="录入（或最近一次更正）的时间")
    revised_at = graphene.DateTime(description="最近一次更正的时间；从未更正为空")
    updated_at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_commodity(root: PriceModel, info: Info) -> Any:
        return info.context.loaders[CommodityLoader].load(root.commodity_id)

    @staticmethod
    def resolve_market(root: PriceModel, info: Info) -> Any:
        return info.context.loaders[MarketLoader].load(root.market_id)

    @staticmethod
    async def resolve_unit(root: PriceModel, info: Info) -> str:
        commodity = await info.context.loaders[CommodityLoader].load(root.commodity_id)
        return commodity.unit

    @staticmethod
    def resolve_revised_at(root: PriceModel, info: Info) -> Any:
        return root.recorded_at if root.revision > 1 else None


class PriceUpdateConnection(relay.Connection):
    class Meta:
        node = MarketPrice

    server_time = server_time_field()
    resolve_server_time = staticmethod(resolve_server_time)


class PricePoint(graphene.ObjectType):
    class Meta:
        description = "一天的价格：所含市场中的最低、最高和平均价（分，四舍五入）"

    date = graphene.Date(required=True)
    min_fen = graphene.Int(required=True)
    max_fen = graphene.Int(required=True)
    avg_fen = graphene.Int(required=True)
    markets = graphene.Int(required=True, description="当天有价格的市场数")


class PriceSeries(graphene.ObjectType):
    class Meta:
        description = "一个品种在一段日期内的逐日价格，以及整段的最低、最高和平均价"

    commodity = graphene.Field(Commodity, required=True)
    unit = graphene.String(required=True)
    points = graphene.List(graphene.NonNull(PricePoint), required=True)
    min_fen = graphene.Int()
    max_fen = graphene.Int()
    avg_fen = graphene.Int(description="整段内所有价格的平均（不是逐日平均的平均），四舍五入到分")
    count = graphene.Int(required=True, description="整段内的价格条数")

    @staticmethod
    def resolve_unit(root: Any, info: Info) -> str:
        return root.commodity.unit


class LatestPrice(graphene.ObjectType):
    class Meta:
        description = "行情板的一行：某品种在某市场的最新价格，与一周前相比"

    commodity = graphene.Field(Commodity, required=True)
    market = graphene.Field(Market, required=True)
    date = graphene.Date(required=True)
    price_fen = graphene.Int(required=True)
    unit = graphene.String(required=True)
    revision = graphene.Int(required=True)
    updated_at = graphene.DateTime(required=True)
    week_ago_date = graphene.Date(description="比较的日期：最新日期前7到10天内最近的一天")
    week_ago_fen = graphene.Int(description="一周前的价格；没有则为空")
    change_fen = graphene.Int(description="比一周前涨（正）跌（负）多少分")
    change_permille = graphene.Int(description="比一周前涨跌的千分比（‰，四舍五入；35 即上涨3.5%）")

    @staticmethod
    def resolve_unit(root: Any, info: Info) -> str:
        return root.commodity.unit
