"""The fan-out of one published disclosure to 5,000 recipients: `python -m scripts.bench_fanout`.

SQLite (a temporary file) by default; with DATABASE_URL=postgres://… a database is made on
that server for the run and dropped after. The village has 4,000 verified residents and
1,000 people elsewhere follow its township (half of everyone already has notifications,
so the sequence counters both insert and update). Measured, median of 3 rounds, each a
new version: `notifications.fanout.fan_out` (who hears, sequence numbers, the events, the
dispatch job, the claim) against a plain bulk insert (tortoise's `bulk_create`, one
transaction) of the same 5,000 event rows in the same run. Goals: < 1 s, ratio >= 0.5.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise.transactions import in_transaction

from api.database import close_db, migrate, open_db
from api.settings import Settings, sqlite_url
from models.accounts import User
from models.disclosures import Disclosure, Follow, Status
from models.jobs import Job
from models.notifications import NotificationCounter, NotificationEvent
from models.policy import Viewer
from models.regions import RegionKind
from models.regions.operations import create_region
from notifications.fanout import fan_out

RESIDENTS, FOLLOWERS, ROUNDS = 4000, 1000, 3


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        env="bench",
        data_dir=data_dir,
        database_url=url,
        media_root=data_dir / "media",
        secret_key="bench-secret-key-" + "x" * 32,
        demo=False,
        jobs=False,
    )


async def seed() -> int:
    system = Viewer.for_system("bench")
    now = datetime.now(UTC)
    async with in_transaction():
        county = await create_region(system, None, RegionKind.COUNTY, "青禾县", "330100000000")
        town = await create_region(system, county.id, RegionKind.TOWNSHIP, "东镇", "330100100000")
        village = await create_region(system, town.id, RegionKind.VILLAGE, "一村", "330100100201")
        other = await create_region(system, town.id, RegionKind.VILLAGE, "二村", "330100100202")
        people = [
            User(
                phone=f"139{n:08d}",
                name="村民",
                password_hash="x",
                village_id=village.id if n < RESIDENTS else other.id,
                residency_verified_at=now if n < RESIDENTS else None,
            )
            for n in range(RESIDENTS + FOLLOWERS)
        ]
        await User.bulk_create(people, batch_size=1000)
        ids = sorted(await User.all().values_list("id", flat=True))
        await Follow.bulk_create(
            [Follow(user_id=u, region_id=town.id) for u in ids[RESIDENTS:]], batch_size=1000
        )
        await NotificationCounter.bulk_create(
            [NotificationCounter(user_id=u, last_seq=3) for u in ids[::2]], batch_size=1000
        )
        d = await Disclosure.create(
            region_id=village.id,
            region_path=village.path,
            category="VILLAGE_AFFAIRS",
            title="修路决算",
            body="……",
            status=Status.PUBLISHED,
            version=0,
            author_id=ids[0],
        )
    return d.id


async def ours(disclosure_id: int, version: int) -> float:
    await Disclosure.filter(id=disclosure_id).update(version=version)
    start = time.perf_counter()
    count = await fan_out(disclosure_id, version, datetime.now(UTC))
    took = time.perf_counter() - start
    assert count == RESIDENTS + FOLLOWERS, count
    return took


async def plain(disclosure_id: int, base_seq: int) -> float:
    users = sorted(await User.all().values_list("id", flat=True))
    rows = [
        NotificationEvent(
            user_id=u,
            seq=base_seq,
            kind="NEW_DISCLOSURE",
            subject_type="Disclosure",
            subject_id=disclosure_id,
            payload={"category": "VILLAGE_AFFAIRS", "version": 1, "correction": False},
        )
        for u in users
    ]
    start = time.perf_counter()
    async with in_transaction():
        await NotificationEvent.bulk_create(rows, batch_size=1000)
    return time.perf_counter() - start


async def run(name: str, settings: Settings) -> None:
    await migrate(settings)
    ctx = await open_db(settings)
    try:
        disclosure_id = await seed()
        mine, base = [], []
        for n in range(1, ROUNDS + 1):
            mine.append(await ours(disclosure_id, n))
            base.append(await plain(disclosure_id, 1000 + n))
        recipients = RESIDENTS + FOLLOWERS
        m, b = statistics.median(mine), statistics.median(base)
        assert await Job.filter(kind="notify_dispatch").count() == ROUNDS
        print(
            f"{name}: fan-out to {recipients:,} recipients (median of {ROUNDS}): "
            f"{m:.3f} s, {recipients / m:,.0f} rows/s (goal < 1 s); plain bulk insert "
            f"{b:.3f} s, {recipients / b:,.0f} rows/s; ratio {b / m:.2f} of the plain "
            "insert's rate (goal >= 0.5)"
        )
    finally:
        await close_db(ctx)


async def main_async() -> None:
    url = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory() as tmp:
        if not url.startswith(("postgres://", "postgresql://")):
            await run("sqlite", settings_for(sqlite_url(Path(tmp) / "bench.sqlite3"), Path(tmp)))
            return
        name = f"cunwu_bench_fanout_{uuid.uuid4().hex[:8]}"
        server = url.replace("postgresql://", "postgres://", 1)
        admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        try:
            target = urlunsplit(urlsplit(server)._replace(path="/" + name))
            await run("postgres", settings_for(target, Path(tmp)))
        finally:
            admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    asyncio.run(main_async())


if __name__ == "__main__":
    main()
