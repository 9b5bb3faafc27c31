"""League tables and the officials' queue at county scale: `python -m scripts.bench_supervision`.

Seeds a county of 1,500 villages with 50,000 flags over a year (SQLite, or the PostgreSQL
database DATABASE_URL points at), then times, through the GraphQL endpoint in process,
`supervisionStats` for the whole county (by village and by township) and a page of an
official's queue — and, as the baseline in the same run, the bare SQL they start from.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
from tortoise import Tortoise

from api.app import create_app
from api.database import close_db, migrate, open_db
from api.relay import to_global_id
from api.settings import Settings, sqlite_url
from models.accounts import Role, RoleGrant, User
from models.accounts.auth import start_session
from models.flags import Flag
from models.regions import Region, RegionKind, add_region
from scripts.bench_feed import ROOT, placeholders, stamp

STATS = """query($r: ID!, $level: RegionKind) { supervisionStats(regionId: $r, from: "2026-01-01",
  to: "2027-01-01", level: $level, sortBy: ON_TIME_RATE, first: 50) { edges { node {
  region { name } onTimeDisclosureRate flagsReceived flagsOverdue medianHoursToFirstResponse
} } } }"""
QUEUE = """query($r: ID!) { flags(regionId: $r, status: SUBMITTED, first: 20) { edges { node {
  id reasonCode body dueAt overdue supportCount flagger { name } region { name } } } } }"""


async def seed(settings: Settings, villages: int, flags: int) -> tuple[int, int, int]:
    await migrate(settings)
    ctx = await open_db(settings)
    try:
        county = await Region.filter(kind=RegionKind.COUNTY, name="监督压测县").first()
        if county is None:
            county = await add_region(None, RegionKind.COUNTY, "监督压测县", "990188000000")
            made: list[Region] = []
            for t in range((villages + 16) // 17):
                township = await add_region(county, RegionKind.TOWNSHIP, f"监督{t + 1}镇")
                for v in range(min(17, villages - len(made))):
                    made.append(
                        await add_region(township, RegionKind.VILLAGE, f"监{t + 1}镇{v + 1}村")
                    )
            user = await User.create(phone="13600000001", name="压测村民", password_hash="x")
            official = await User.create(phone="13600000002", name="压测干部", password_hash="x")
            await RoleGrant.create(user=official, role=Role.INSPECTOR, region=county)
            conn = Tortoise.get_connection("default")
            dialect = "sqlite" if settings.is_sqlite else "postgres"
            rng = random.Random(3)
            start = datetime(2026, 1, 1, tzinfo=UTC)
            rows = []
            for _ in range(flags):
                village = rng.choice(made)
                created = start + timedelta(minutes=rng.randrange(365 * 24 * 60))
                responded = (
                    created + timedelta(hours=rng.uniform(1, 200)) if rng.random() < 0.8 else None
                )
                status = rng.choice(["SUBMITTED", "ACCEPTED", "RESOLVED", "REJECTED", "CONFIRMED"])
                closed = (
                    responded + timedelta(hours=rng.uniform(1, 300))
                    if responded and status in ("RESOLVED", "REJECTED", "CONFIRMED")
                    else None
                )
                rows.append(
                    [
                        "Disclosure",
                        rng.randrange(1, 10_000),
                        village.id,
                        village.path,
                        user.id,
                        True,
                        rng.choice(["AMOUNT_QUESTIONED", "RECEIPT_MISSING", "OTHER"]),
                        "决算有疑问",
                        "[]",
                        status,
                        stamp(dialect, created + timedelta(days=7)),
                        stamp(dialect, responded) if responded else None,
                        stamp(dialect, closed) if closed else None,
                        rng.random() < 0.05,
                        0,
                        stamp(dialect, created),
                        stamp(dialect, created),
                    ]
                )
            columns = (
                "target_type, target_id, region_id, region_path, flagger_id, anonymous, "
                "reason_code, body, media_ids, status, due_at, first_response_at, closed_at, "
                "reopened, support_count, created_at, updated_at"
            )
            await conn.execute_many(
                f"INSERT INTO flag ({columns}) VALUES ({placeholders(dialect, 17)})", rows
            )
            await conn.execute_script("ANALYZE")
        official = await User.get(phone="13600000002")
        township = await Region.filter(kind=RegionKind.TOWNSHIP, parent_id=county.id).first()
        return county.id, township.id, official.id
    finally:
        await close_db(ctx)


class NoStore:
    """A league-table store that never has the answer."""

    async def load(self, key: str) -> str | None:
        return None

    async def save(self, key: str, data: str) -> None:
        return None


async def timed(
    client: httpx.AsyncClient, body: dict, token: str, runs: int, before=None
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    first = await client.post("/graphql", json=body, headers=headers)
    assert "errors" not in first.json(), first.text[:500]
    samples = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        response = await client.post("/graphql", json=body, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return samples


async def bare_sql(settings: Settings, county_id: int, runs: int) -> list[float]:
    ctx = await open_db(settings)
    try:
        county = await Region.get(id=county_id)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            await Flag.filter(region_path__startswith=county.path).count()
            samples.append((time.perf_counter() - started) * 1000)
        return samples
    finally:
        await close_db(ctx)


def show(label: str, samples: list[float], goal: str) -> None:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"  {label:44s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({goal})")


async def run(args: argparse.Namespace) -> None:
    base = Settings.from_env().with_overrides(jobs=False)  # requests only, no scheduler
    if base.database_url.startswith("postgres"):
        settings, label = base.with_overrides(redis_url=None), "PostgreSQL"
    else:
        path = ROOT / "data" / "bench" / f"supervision-{args.villages}-{args.flags}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        settings, label = (
            base.with_overrides(database_url=sqlite_url(path), redis_url=None),
            "SQLite",
        )
    county_id, township_id, official_id = await seed(settings, args.villages, args.flags)
    print(f"{args.villages} villages, {args.flags} flags, {label}")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        official = await User.get(id=official_id)
        pair = await start_session(settings.auth, official, "bench", "127.0.0.1")
        token = pair.access_token
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            county = to_global_id("Region", county_id)
            stats = app.state.services.stats
            shared, stats.store = stats.store, NoStore()  # every run computes afresh
            village_q = {"query": STATS, "variables": {"r": county}}
            township_q = {"query": STATS, "variables": {"r": county, "level": "TOWNSHIP"}}
            by_village = await timed(client, village_q, token, args.runs)
            by_township = await timed(client, township_q, token, args.runs)
            stats.store = shared
            warm = await timed(client, village_q, token, args.runs)
            queue = await timed(
                client,
                {"query": QUEUE, "variables": {"r": to_global_id("Region", township_id)}},
                token,
                args.runs * 3,
            )
    baseline = await bare_sql(settings, county_id, args.runs)
    show("supervisionStats, county, by village, computed", by_village, "goal < 200 ms")
    show("supervisionStats, county, by township, computed", by_township, "goal < 200 ms")
    show("supervisionStats, county, from the shared store", warm, "refreshed by the scheduler")
    show("official's queue page (20 flags)", queue, "goal < 30 ms")
    show("baseline: COUNT(*) of the county's flags", baseline, "bare SQL, same run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--villages", type=int, default=1500)
    parser.add_argument("--flags", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
