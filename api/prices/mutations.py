"""Setting up markets and recording prices: thin wrappers over models.prices."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.mutations import BaseMutation
from api.prices.types import Market, MarketPrice
from api.relay import decode_id
from api.uploads import Upload, UploadedFile
from models.errors import ErrorCode, UserError, UserErrors, fail
from models.policy import Action
from models.prices.importing import import_prices
from models.prices.recording import MAX_ROWS, PriceRow, Recorded, create_market, record_prices


class CreateMarketInput(graphene.InputObjectType):
    region_id = graphene.ID(required=True, description="乡镇（街道）或县（区）")
    name = graphene.String(required=True)


class CreateMarket(BaseMutation):
    class Meta:
        name = "CreateMarketPayload"
        description = "乡镇干部或管理员设立一个市场（集市、农贸市场），同一地区内名称不重复"

    class Arguments:
        input = CreateMarketInput(required=True)

    market = graphene.Field(Market)
    permission = Action.MARKET_CREATE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        region_id = decode_id(data.region_id, "Region", "regionId")
        return {"market": await create_market(ctx.viewer, region_id, data.name)}


class PriceInput(graphene.InputObjectType):
    commodity = graphene.String(required=True, description="品种代码（如 RICE）或中文名")
    market = graphene.ID(required=True)
    unit = graphene.String(description="价格的单位；不填即品种的计量单位，斤、公斤、吨等可换算")
    price_fen = graphene.Float(required=True, description="每单位的价格（分，整数）")
    date = graphene.Date(required=True, description="集市日（北京时间），不能晚于今天")


class RecordMarketPricesInput(graphene.InputObjectType):
    prices = graphene.List(graphene.NonNull(PriceInput), required=True)


class PricesPayload(BaseMutation):
    class Meta:
        abstract = True

    created = graphene.Int(required=True, description="新录入的价格数")
    updated = graphene.Int(required=True, description="更正的价格数（revision 加 1，记入审计日志）")
    unchanged = graphene.Int(required=True, description="与已录入相同、未改动的价格数")
    prices = graphene.List(graphene.NonNull(MarketPrice), required=True)
    permission = Action.PRICES_RECORD
    error_defaults = {"created": 0, "updated": 0, "unchanged": 0, "prices": []}

    @staticmethod
    def shaped(result: Recorded) -> dict[str, Any]:
        return {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "prices": result.prices,
        }


class RecordMarketPrices(PricesPayload):
    class Meta:
        name = "RecordMarketPricesPayload"
        description = (
            f"录入一批市场价格（最多{MAX_ROWS}条），全部成功或全部不录入；错误的 line 为"
            "第几条（从1起）。已有的价格相同则不变，不同则更正并记入审计日志。"
        )

    class Arguments:
        input = RecordMarketPricesInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        if len(data.prices) > MAX_ROWS:
            raise fail(ErrorCode.TOO_MANY_ITEMS, "prices", max=MAX_ROWS)
        rows, errors = [], []
        for line, item in enumerate(data.prices, start=1):
            try:
                market_id: int | None = decode_id(item.market, "Market", "market")
            except UserErrors as exc:
                errors += [UserError(e.code, e.field, e.params, line=line) for e in exc.errors]
                continue
            rows.append(
                PriceRow(
                    commodity=item.commodity,
                    market_id=market_id,
                    date=item.date,
                    price_fen=item.price_fen,
                    unit=item.unit,
                    line=line,
                    market_label=item.market,
                )
            )
        if errors:
            raise UserErrors(*errors)
        return cls.shaped(await record_prices(ctx.viewer, rows, ctx.settings.clock()))


class ImportMarketPricesInput(graphene.InputObjectType):
    region_id = graphene.ID(required=True, description="表中市场名称在此地区（及其上下级）中查找")
    file = Upload(required=True)


class ImportMarketPrices(PricesPayload):
    class Meta:
        name = "ImportMarketPricesPayload"
        description = (
            "上传价格表：CSV（UTF-8 或 GBK）或 XLSX，列为 日期、品名、市场、单位（可选）、"
            "价格（元）。任何一行有错则整体不导入，每个错误注明行号、列和原因。"
        )

    class Arguments:
        input = ImportMarketPricesInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        region_id = decode_id(data.region_id, "Region", "regionId")
        upload: UploadedFile = data.file
        result = await import_prices(
            ctx.viewer,
            region_id,
            upload.data or b"",
            too_large=upload.too_large,
            now=ctx.settings.clock(),
        )
        return cls.shaped(result)
