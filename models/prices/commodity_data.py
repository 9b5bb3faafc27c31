"""The commodities seeded into every database: what township markets commonly quote.

Units are those a farmer hears at the market: retail and farm-gate produce per 斤 (500 g),
live hogs per 公斤 (as the national hog price is quoted), fertiliser per 吨. A price given
in another weight unit is converted (see `models.prices.units`); a bag (袋) or a head (头)
is not a weight and is never converted.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models.prices import Commodity, CommodityCategory

G = CommodityCategory

# (code, name, English name, unit, category)
COMMODITIES: list[tuple[str, str, str, str, CommodityCategory]] = [
    ("RICE", "大米", "Rice", "斤", G.GRAIN),
    ("PADDY", "稻谷", "Paddy rice", "斤", G.GRAIN),
    ("CORN", "玉米", "Corn", "斤", G.GRAIN),
    ("WHEAT", "小麦", "Wheat", "斤", G.GRAIN),
    ("SOYBEAN", "大豆", "Soybeans", "斤", G.GRAIN),
    ("POTATO", "土豆", "Potatoes", "斤", G.VEGETABLE),
    ("SWEET_POTATO", "红薯", "Sweet potatoes", "斤", G.VEGETABLE),
    ("PEANUT", "花生", "Peanuts", "斤", G.OIL),
    ("RAPESEED", "油菜籽", "Rapeseed", "斤", G.OIL),
    ("CABBAGE", "白菜", "Chinese cabbage", "斤", G.VEGETABLE),
    ("RADISH", "萝卜", "Radish", "斤", G.VEGETABLE),
    ("TOMATO", "西红柿", "Tomatoes", "斤", G.VEGETABLE),
    ("CHILI", "辣椒", "Chili peppers", "斤", G.VEGETABLE),
    ("APPLE", "苹果", "Apples", "斤", G.FRUIT),
    ("CITRUS", "柑橘", "Citrus", "斤", G.FRUIT),
    ("HOG", "生猪", "Live hogs", "公斤", G.LIVESTOCK),
    ("PORK", "猪肉", "Pork", "斤", G.LIVESTOCK),
    ("BEEF", "牛肉", "Beef", "斤", G.LIVESTOCK),
    ("MUTTON", "羊肉", "Mutton", "斤", G.LIVESTOCK),
    ("CHICKEN", "活鸡", "Live chickens", "斤", G.LIVESTOCK),
    ("EGG", "鸡蛋", "Eggs", "斤", G.LIVESTOCK),
    ("GRASS_CARP", "草鱼", "Grass carp", "斤", G.AQUATIC),
    ("TEA", "茶叶", "Tea (dried)", "斤", G.TEA),
    ("FRESH_TEA", "茶青", "Fresh tea leaves", "斤", G.TEA),
    ("UREA", "尿素", "Urea", "吨", G.INPUT),
    ("COMPOUND_FERTILIZER", "复合肥", "Compound fertiliser", "吨", G.INPUT),
]


async def ensure_commodities() -> int:
    """Insert the commodities that are missing (by code); never change existing ones."""
    async with in_transaction():
        existing = set(await Commodity.all().values_list("code", flat=True))
        missing = [
            Commodity(
                code=code,
                name=name,
                name_en=name_en,
                unit=unit,
                category=category,
                sort_order=order * 10,
            )
            for order, (code, name, name_en, unit, category) in enumerate(COMMODITIES, start=1)
            if code not in existing
        ]
        if missing:
            await Commodity.bulk_create(missing)
    return len(missing)
