"""What a farmer opens the app for, in the demo: market prices for four weeks at a township
and a county market, residents acknowledging the township's must-read notice, and a
published subsidy list that one demo villager finds under 我的补贴 (their ID number set).

The ID numbers are made up (a region code that no real county uses, valid check digits)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from models.disclosures import Category, Disclosure
from models.disclosures.notices import acknowledge_notice
from models.disclosures.periods import SHANGHAI
from models.disclosures.tables import id_check_digit
from models.disclosures.workflow import create_disclosure, publish_disclosure
from models.policy import Viewer
from models.prices.recording import PriceRow, create_market, record_prices
from models.regions import Region
from models.subsidies.operations import set_my_id_number

if TYPE_CHECKING:
    from scripts.demo.content import Context

# (code, yuan per unit around which the price wanders)
PRICES = [
    ("RICE", 2.9),
    ("CORN", 1.35),
    ("PEANUT", 4.6),
    ("CABBAGE", 1.2),
    ("CHILI", 4.5),
    ("PORK", 14.5),
    ("EGG", 5.2),
    ("CHICKEN", 11.0),
    ("TEA", 160.0),
    ("CITRUS", 2.6),
]
PRICE_DAYS = 28


def plan_prices(context: Context, admin: Viewer, township: Region, county: Region) -> None:
    """Two markets (the township's fair, the county's wholesale market) and a price per
    commodity and market for every day of the last four weeks, recorded as one batch."""

    async def run(at: datetime) -> None:
        fair = await create_market(context.official, township.id, f"{township.name}集贸市场")
        wholesale = await create_market(admin, county.id, f"{county.name}农产品批发市场")
        today = at.astimezone(SHANGHAI).date()
        rng = random.Random(15)
        for market, viewer, markup in ((fair, context.official, 1.06), (wholesale, admin, 1.0)):
            rows = []
            for code, yuan in PRICES:
                level = yuan
                for back in range(PRICE_DAYS, 0, -1):
                    level = max(yuan * 0.7, min(yuan * 1.3, level * rng.uniform(0.97, 1.035)))
                    rows.append(
                        PriceRow(
                            commodity=code,
                            market_id=market.id,
                            date=today - timedelta(days=back - 1),
                            price_fen=round(level * markup * 100),
                        )
                    )
            await record_prices(viewer, rows, now=at)

    context.timeline.add(context.now - timedelta(hours=3), run)


def plan_acknowledgements(context: Context) -> None:
    """Two of 东溪村's villagers (not the demo VILLAGER) read the township's must-read
    notice; the rest have not."""

    async def run(at: datetime) -> None:
        notice = await Disclosure.filter(category=Category.NOTICE, must_read=True).first()
        if notice is None:
            return
        for villager in context.villages["东溪村"].villagers[1:3]:
            await acknowledge_notice(villager, notice.id, now=at)

    context.timeline.add(context.now - timedelta(days=7, hours=5), run)


def demo_id_number(birthday: date, serial: int) -> str:
    first17 = f"990102{birthday:%Y%m%d}{serial:03d}"
    return first17 + id_check_digit(first17)


def plan_subsidy_list(context: Context) -> None:
    """东溪村 publishes its 耕地地力保护补贴 list naming its villagers by masked ID number;
    the first villager (the demo's VILLAGER) has entered their number, so 我的补贴 shows
    their row."""
    village = context.villages["东溪村"]
    year = (context.now - timedelta(days=40)).year
    rng = random.Random(16)
    people = [
        ("赵大山", demo_id_number(date(1968, 3, 12), 31)),
        ("钱秀兰", demo_id_number(date(1975, 8, 2), 42)),
        ("孙志强", demo_id_number(date(1981, 11, 23), 15)),
        ("周桂芳", demo_id_number(date(1959, 6, 30), 28)),
        ("李春来", demo_id_number(date(1990, 1, 9), 77)),
    ]
    rows = []
    for name, number in people:
        mu = rng.choice([3.2, 4.5, 5.8, 6.1, 7.4, 8.0])
        rows.append([name, number, f"{mu:.1f}", str(round(mu * 105 * 100))])
    content = {
        "title": f"{year}年耕地地力保护补贴发放名单",
        "body": "按承包耕地面积每亩105元发放，已通过“一卡通”打入各户账户。如有疑问请向村委会反映。",
        "tables": [
            {
                "title": "耕地地力保护补贴",
                "columns": [
                    {"key": "name", "label": "姓名", "kind": "NAME"},
                    {"key": "id", "label": "身份证号", "kind": "ID_NUMBER"},
                    {"key": "area", "label": "面积（亩）", "kind": "NUMBER"},
                    {"key": "amount", "label": "金额（分）", "kind": "MONEY_FEN"},
                ],
                "rows": rows,
            }
        ],
        "period": str(year),
    }

    async def publish(at: datetime) -> None:
        disclosure = await create_disclosure(
            village.clerk, village.region.id, Category.VILLAGE_AFFAIRS, content
        )
        await publish_disclosure(village.clerk, disclosure.id, now=at)

    async def enter_number(at: datetime) -> None:
        await set_my_id_number(village.villagers[0], people[0][1], now=at)

    context.timeline.add(context.now - timedelta(days=20, hours=4), publish)
    context.timeline.add(context.now - timedelta(days=6, hours=2), enter_number)
