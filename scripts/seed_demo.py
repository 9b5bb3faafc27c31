"""Load demo data into an empty database: `python -m scripts.seed_demo`.

A fictional county (青禾县), 3 townships, 12 villages with 2 villager groups each,
and one user of every role; then (scripts/demo) a year of life in 东溪村, 柳塘村 and
南岭村. All demo users share the password printed below.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from api.database import close_db, open_db
from api.settings import Settings
from models.accounts import Role, User
from models.accounts.auth import Passwords
from models.accounts.operations import create_user, grant_role, verify_residency
from models.audit import record_many
from models.policy import Viewer
from models.regions import Region, RegionKind
from models.regions.operations import create_region
from scripts.demo.content import PEOPLE, seed_content

DEMO_PASSWORD = "cunwu-demo-2026"
COUNTY = ("青禾县", "990102000000")
TOWNSHIPS = {
    "东溪镇": ["东溪村", "柳塘村", "石桥村", "桃园村"],
    "南岭乡": ["南岭村", "竹坪村", "杨家湾村", "马山村"],
    "西坪镇": ["西坪村", "新田村", "枫树村", "白沙村"],
}
GROUPS = ["第一村民小组", "第二村民小组"]
# (phone, name, role or None for a villager, where)
USERS = [
    ("13800000001", "管理员 王强", Role.ADMIN, "county"),
    ("13800000002", "县纪委 李敏", Role.INSPECTOR, "county"),
    ("13800000003", "镇干部 张伟", Role.OFFICIAL, "township"),
    ("13800000004", "村文书 刘芳", Role.CLERK, "village"),
    ("13800000005", "监委会 陈刚", Role.SUPERVISOR, "village"),
    ("13800000006", "村民 赵大山", None, "village"),
]

SOURCE = "script:seed_demo"  # names the seed in the audit log


@dataclass
class Demo:
    county: Region
    townships: list[Region] = field(default_factory=list)
    villages: list[Region] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    people: dict[str, User] = field(default_factory=dict)  # by phone: the content's users


async def seed_demo(
    settings: Settings, content: bool = True, now: datetime | None = None
) -> Demo | None:
    """Seed into an empty database; return None (and change nothing) if regions exist.

    `content` adds a year of village life to try every screen with (scripts/demo): more
    villagers and staff, published months with receipts, quarterly items, comments and flags.
    Tests leave it out: it takes a few seconds. `now`: the demo's present (default the
    real time).
    """
    if await Region.exists():
        return None
    system = Viewer.for_system(SOURCE)
    passwords = Passwords(settings.auth)
    async with in_transaction():
        county = await create_region(system, None, RegionKind.COUNTY, COUNTY[0], COUNTY[1])
        demo = Demo(county=county)
        for t, (township_name, villages) in enumerate(TOWNSHIPS.items(), start=1):
            code = f"{COUNTY[1][:6]}{100 + t:03d}000"
            township = await create_region(
                system, county.id, RegionKind.TOWNSHIP, township_name, code
            )
            demo.townships.append(township)
            for v, village_name in enumerate(villages, start=1):
                village = await create_region(
                    system,
                    township.id,
                    RegionKind.VILLAGE,
                    village_name,
                    f"{code[:9]}{200 + v:03d}",
                )
                demo.villages.append(village)
                for group in GROUPS:
                    await create_region(system, village.id, RegionKind.GROUP, group, None)
        where = {"county": county, "township": demo.townships[0], "village": demo.villages[0]}
        for phone, name, role, place in USERS:
            home = demo.villages[0] if place == "village" else None
            user = await create_user(
                system,
                passwords,
                phone=phone,
                password=DEMO_PASSWORD,
                name=name,
                village_id=home.id if home else None,
            )
            if home:
                user = await verify_residency(system, user.id)
            if role is not None:
                await grant_role(system, user.id, role, where[place].id)
            demo.users[role.value if role else "VILLAGER"] = user
        await verify_demo_phones(system, now or datetime.now(UTC))
        if content:  # in the same transaction: a failure leaves the database empty
            await seed_content(demo, settings, SOURCE, DEMO_PASSWORD, now)
            await verify_demo_phones(system, now or datetime.now(UTC))  # the content's people
    return demo


async def verify_demo_phones(system: Viewer, now: datetime) -> None:
    """Every demo number counts as verified, so SMS (the log provider in development) can be
    tried at once; a newly registered account shows the verification flow."""
    users = await User.filter(phone_verified_at=None)
    await User.filter(id__in=[u.id for u in users]).update(phone_verified_at=now)
    await record_many(
        system,
        "user.verify_phone",
        [(u, u.village_id, None, {"phone_verified_at": now.isoformat()}) for u in users],
    )


async def run() -> None:
    settings = Settings.from_env()
    orm = await open_db(settings)
    try:
        demo = await seed_demo(settings)
    finally:
        await close_db(orm)
    if demo is None:
        print("database already has regions; demo data not loaded")
        return
    print(
        f"demo data loaded: {demo.county.name}, {len(demo.townships)} townships, "
        f"{len(demo.villages)} villages"
    )
    print(f"demo users (password {DEMO_PASSWORD}):")
    for phone, name, role, place in USERS:
        print(f"  {phone}  {name}  {role.value if role else 'VILLAGER'} ({place})")
    for phone, name, village, role in PEOPLE:
        print(f"  {phone}  {name}  {role.value if role else 'VILLAGER'} ({village})")


if __name__ == "__main__":
    asyncio.run(run())
