"""Market prices (市场行情): commodities as data, markets of a township or county, and one
recorded price per commodity, market and day, in fen per the commodity's unit."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.regions import Region


class CommodityCategory(StrEnum):
    GRAIN = "GRAIN"  # 粮食
    OIL = "OIL"  # 油料
    VEGETABLE = "VEGETABLE"  # 蔬菜
    FRUIT = "FRUIT"  # 水果
    LIVESTOCK = "LIVESTOCK"  # 畜禽及其产品
    AQUATIC = "AQUATIC"  # 水产
    TEA = "TEA"  # 茶叶
    INPUT = "INPUT"  # 农资（化肥、种子）
    OTHER = "OTHER"


class Commodity(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=40)
    name_en = fields.CharField(max_length=60)
    unit = fields.CharField(max_length=8)  # 斤, 公斤, 个, 头 …: prices are per this unit
    category = fields.CharEnumField(CommodityCategory, max_length=16)
    sort_order = fields.IntField(default=0)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "commodity"


class Market(Model):
    id = fields.IntField(primary_key=True)
    region: fields.ForeignKeyRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", related_name=False, on_delete=fields.RESTRICT
    )
    region_path = fields.CharField(max_length=128)  # copied: boards select by path range
    name = fields.CharField(max_length=60)
    created_at = fields.DatetimeField(auto_now_add=True)

    region_id: int

    class Meta:
        table = "market"
        unique_together = (("region", "name"),)


class MarketPrice(Model):
    id = fields.IntField(primary_key=True)
    commodity: fields.ForeignKeyRelation[Commodity] = fields.ForeignKeyField(
        "cunwu.Commodity", related_name=False, on_delete=fields.RESTRICT
    )
    market: fields.ForeignKeyRelation[Market] = fields.ForeignKeyField(
        "cunwu.Market", related_name=False, on_delete=fields.RESTRICT
    )
    date = fields.DateField()  # the market day, Beijing time
    price_fen = fields.IntField()  # per the commodity's unit
    revision = fields.IntField(default=1)  # a corrected price counts up; the audit log keeps each
    recorded_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name=False, on_delete=fields.RESTRICT
    )
    recorded_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True, db_index=True)

    commodity_id: int
    market_id: int
    recorded_by_id: int

    class Meta:
        table = "market_price"
        unique_together = (("commodity", "market", "date"),)
        indexes = (("market_id", "date"), ("commodity_id", "date"))
