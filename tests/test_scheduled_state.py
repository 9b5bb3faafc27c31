"""What the scheduled jobs keep between processes: league tables in a shared store, view
counts that survive a restart and are flushed once, orphan media deleted without racing an
upload of the same files, idempotency keys forgotten on time."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis
from tortoise.transactions import in_transaction

import models.disclosures.views as views_module
import models.flags.stats as stats_module
from api.app import create_app
from api.idempotency import purge_expired
from api.relay import to_global_id
from media.operations import UploadLimits, upload_media
from media.service import delete_orphans
from media.storage import media_key
from models.disclosures import Category, Disclosure, ViewFlush
from models.disclosures.views import ViewCounter
from models.disclosures.workflow import create_disclosure
from models.finance import Direction
from models.finance.workflow import EnteredLine, save_month
from models.flags import StatsSnapshot
from models.flags.stats import StatsCache, stats_store, supervision_stats
from models.flags.workflow import accept_flag
from models.idempotency import IdempotentRequest
from models.media import Media, MediaPurpose
from models.policy import viewer_for_user
from models.redis_guard import RedisGuard
from models.regions import RegionKind
from tests import media_files
from tests.test_scheduled_work import SOURCE, flag_due, published_item

LIMITS = UploadLimits(max_bytes=15 * 1024 * 1024, daily_quota_bytes=500 * 1024 * 1024)
COUNTY_STATS = """query($r: ID!) { supervisionStats(regionId: $r, from: "%s", to: "%s",
  level: TOWNSHIP, first: 50) { edges { node { region { name } flagsReceived flagsOverdue
  disclosuresDue medianHoursToFirstResponse } } } }"""


# --- league tables ---


def this_year() -> tuple[date, date]:
    year = datetime.now(UTC).year
    return date(year, 1, 1), date(year + 1, 1, 1)


async def some_flags(demo) -> None:
    item = await published_item(demo)
    answered = await flag_due(demo, item, date.today() + timedelta(days=7), "13900000031")
    await flag_due(demo, item, date.today() + timedelta(days=7), "13900000032")
    await accept_flag(await viewer_for_user(demo.users["OFFICIAL"], SOURCE), answered.id, "受理")


def figures(rows) -> dict[str, tuple]:
    return {
        r.region.name: (
            r.flags_received,
            r.flags_overdue,
            r.disclosures_due,
            r.median_hours_to_first_response,
        )
        for r in rows
    }


async def test_a_refresh_in_the_worker_warms_every_api_worker(app, gql, demo, monkeypatch):
    await some_flags(demo)
    start, end = this_year()
    expected = figures(await supervision_stats(demo.county, start, end, RegionKind.TOWNSHIP))
    services = app.state.services
    # the scheduler's process: its own cache object, the same store
    worker = StatsCache(store=stats_store(services.redis, services.settings.redis_prefix))
    assert await worker.refresh() == 1

    async def not_computed(*args, **kwargs):
        raise AssertionError("the API computed instead of reading the store")

    monkeypatch.setattr(stats_module, "supervision_stats", not_computed)
    query = COUNTY_STATS % (start.isoformat(), end.isoformat())
    data = await gql.data(query, {"r": to_global_id("Region", demo.county.id)})
    served = {
        e["node"]["region"]["name"]: (
            e["node"]["flagsReceived"],
            e["node"]["flagsOverdue"],
            e["node"]["disclosuresDue"],
            e["node"]["medianHoursToFirstResponse"],
        )
        for e in data["supervisionStats"]["edges"]
    }
    assert served == expected
    assert sum(v[0] for v in served.values()) == 2
    if services.redis is not None:
        assert await services.redis.exists(
            services.settings.redis_prefix
            + "stats:"
            + (f"{demo.county.id}:{start.isoformat()}:{end.isoformat()}:TOWNSHIP")
        )
    else:
        assert await StatsSnapshot.all().count() == 2  # villages and townships


async def test_a_stale_table_is_computed_again(app, demo):
    store = stats_store(None, "")
    cache = StatsCache(store=store)
    start, end = this_year()
    assert await cache.refresh() == 1
    await some_flags(demo)
    fresh = await cache.get(demo.county, start, end, RegionKind.TOWNSHIP)
    assert sum(r.flags_received for r in fresh) == 0, "served from the store"
    await StatsSnapshot.all().update(computed_at=datetime.now(UTC) - timedelta(hours=1))
    again = await cache.get(demo.county, start, end, RegionKind.TOWNSHIP)
    assert sum(r.flags_received for r in again) == 2


async def test_league_tables_fall_back_to_the_database_while_redis_is_down(app, demo, caplog):
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        cache = StatsCache(store=stats_store(dead, "dead:", RedisGuard(dead)))
        with caplog.at_level("WARNING", logger="cunwu.redis"):
            assert await cache.refresh() == 1
        assert any("unreachable" in r.getMessage() for r in caplog.records)
        assert await StatsSnapshot.all().count() == 2
        start, end = this_year()
        rows = await cache.get(demo.county, start, end, RegionKind.TOWNSHIP)
        assert sorted(r.region.name for r in rows) == sorted(t.name for t in demo.townships)
    finally:
        await dead.aclose()


# --- view counts ---

VIEW = "query($id: ID!) { disclosure(id: $id) { id } }"


async def test_view_counts_survive_a_restart(settings):
    from scripts.seed_demo import seed_demo

    first = create_app(settings)
    async with first.router.lifespan_context(first):
        demo = await seed_demo(settings, content=False)
        item = await published_item(demo)
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for _ in range(3):
                body = {"query": VIEW, "variables": {"id": to_global_id("Disclosure", item.id)}}
                assert (await client.post("/graphql", json=body)).status_code == 200
        assert (await Disclosure.get(id=item.id)).view_count == 0, "still buffered"
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        assert (await Disclosure.get(id=item.id)).view_count == 3
        assert await second.state.services.views.flush() == 0, "nothing counted twice"


async def test_in_process_views_survive_a_failed_flush(app, demo, monkeypatch):
    item = await published_item(demo)
    counter = ViewCounter(None, "local:")
    for _ in range(2):
        await counter.hit(item.id)

    async def down(counts):
        raise ConnectionError("database gone")

    monkeypatch.setattr(views_module, "add_views", down)
    with pytest.raises(ConnectionError):
        await counter.flush()
    monkeypatch.undo()
    assert await counter.flush() == 2
    assert (await Disclosure.get(id=item.id)).view_count == 2


def redis_only(settings) -> None:
    if settings.redis_url is None:
        pytest.skip("the Redis buffer: PostgreSQL + Redis half")


async def test_concurrent_flushes_in_two_processes_count_each_view_once(app, settings, demo):
    redis_only(settings)
    item = await published_item(demo)
    here = app.state.services.views
    there = ViewCounter(app.state.services.redis, settings.redis_prefix)  # another process
    for _ in range(5):
        await here.hit(item.id)
    for _ in range(2):
        await there.hit(item.id)
    for _ in range(3):
        flushed = await asyncio.gather(here.flush(), there.flush(), here.flush())
        if sum(flushed):
            assert sum(flushed) == 7
    assert (await Disclosure.get(id=item.id)).view_count == 7
    assert await here.flush() == 0


async def test_a_flush_killed_before_or_after_its_commit_counts_once(
    app, settings, demo, monkeypatch
):
    redis_only(settings)
    redis = app.state.services.redis
    item = await published_item(demo)
    counter = app.state.services.views
    real = views_module.add_views

    async def killed(counts):
        if counts:
            raise RuntimeError("worker killed")

    # killed before the commit: the batch stays in Redis for the next flush, anyone's
    for _ in range(3):
        await counter.hit(item.id)
    monkeypatch.setattr(views_module, "add_views", killed)
    with pytest.raises(RuntimeError):
        await counter.flush()
    monkeypatch.setattr(views_module, "add_views", real)
    assert (await Disclosure.get(id=item.id)).view_count == 0
    other = ViewCounter(redis, settings.redis_prefix)
    assert await other.flush() == 3
    assert (await Disclosure.get(id=item.id)).view_count == 3

    # killed after the commit, before Redis forgot the batch: not counted again
    for _ in range(4):
        await counter.hit(item.id)
    batch = await counter.take(redis)
    async with in_transaction():
        await ViewFlush.create(id=batch, applied_at=datetime.now(UTC))
        await real({item.id: 4})
    assert await other.flush() == 0
    assert (await Disclosure.get(id=item.id)).view_count == 7
    assert await redis.smembers(settings.redis_prefix + "views:batches") == set()


# --- orphan media ---


def files_of(settings, media: Media) -> list[bool]:
    return [
        (settings.media_root / media_key(media.sha256, name)).is_file()
        for name in media.variant_bytes
    ]


async def clerk_upload(demo, store, data: bytes, purpose=MediaPurpose.RECEIPT) -> Media:
    clerk = await viewer_for_user(demo.users["CLERK"], SOURCE)
    return await upload_media(
        clerk, store, data=data, purpose=purpose, region_id=None, limits=LIMITS
    )


def a_day_later() -> datetime:
    return datetime.now(UTC) + timedelta(hours=25)


async def test_media_that_drafts_link_to_are_not_orphans(app, demo, settings):
    store = app.state.services.media
    photo = await clerk_upload(demo, store, media_files.phone_jpeg(orientation=1))
    receipt = await clerk_upload(demo, store, media_files.phone_jpeg(orientation=3))
    loose = await clerk_upload(demo, store, media_files.phone_jpeg(orientation=8))
    clerk = await viewer_for_user(demo.users["CLERK"], SOURCE)
    village = demo.villages[0]
    await create_disclosure(
        clerk,
        village.id,
        Category.VILLAGE_AFFAIRS,
        {"title": "村民会议纪要", "body": "会议照片见附件。", "attachment_ids": [photo.id]},
    )
    line = EnteredLine(
        date(2026, 5, 3), Direction.EXPENSE, "513", 1250, "东溪文具店", "文具", receipt.id
    )
    await save_month(clerk, village.id, 2026, 5, [line], opening_fen=100_000)

    assert await delete_orphans(store, a_day_later()) == 1
    assert sorted(m.id for m in await Media.all()) == sorted([photo.id, receipt.id])
    assert all(files_of(settings, photo)) and all(files_of(settings, receipt))
    assert not any(files_of(settings, loose))
    assert await delete_orphans(store, a_day_later()) == 0, "a repeat is a no-op"


async def test_an_upload_waiting_on_the_sweep_writes_the_files_again(
    app, demo, settings, monkeypatch
):
    store = app.state.services.media
    data = media_files.phone_jpeg(orientation=1)
    orphan = await clerk_upload(demo, store, data)
    await Media.filter(id=orphan.id).update(created_at=datetime.now(UTC) - timedelta(hours=30))
    inside, go_on = asyncio.Event(), asyncio.Event()
    delete_files = store.delete_files

    async def paused(media):  # the sweep: rows deleted, not committed, files about to go
        inside.set()
        await go_on.wait()
        await delete_files(media)

    monkeypatch.setattr(store, "delete_files", paused)
    sweep = asyncio.create_task(delete_orphans(store))
    await inside.wait()
    # the same bytes for another use: the orphan's files would be reused
    upload = asyncio.create_task(clerk_upload(demo, store, data, MediaPurpose.MEETING))
    await asyncio.sleep(0.3)
    assert not upload.done(), "the upload waits for the sweep"
    go_on.set()
    assert await sweep == 1
    media = await upload
    assert media.sha256 == orphan.sha256
    assert all(files_of(settings, media)), "the files were written again"
    assert [m.id for m in await Media.all()] == [media.id]


async def test_a_sweep_waiting_on_an_upload_keeps_its_files(app, demo, settings, monkeypatch):
    store = app.state.services.media
    data = media_files.phone_jpeg(orientation=1)
    orphan = await clerk_upload(demo, store, data)
    await Media.filter(id=orphan.id).update(created_at=datetime.now(UTC) - timedelta(hours=30))
    inside, go_on = asyncio.Event(), asyncio.Event()
    has_files = store.has_files

    async def paused(sha, names):  # the upload: rows sharing the files locked, row not yet in
        inside.set()
        await go_on.wait()
        return await has_files(sha, names)

    monkeypatch.setattr(store, "has_files", paused)
    upload = asyncio.create_task(clerk_upload(demo, store, data, MediaPurpose.MEETING))
    await inside.wait()
    sweep = asyncio.create_task(delete_orphans(store))
    await asyncio.sleep(0.3)
    assert not sweep.done(), "the sweep waits for the upload"
    go_on.set()
    media = await upload
    assert await sweep == 1
    assert not await Media.exists(id=orphan.id)
    assert all(files_of(settings, media)), "the files a new row names are kept"


async def test_uploading_an_orphan_again_gives_it_another_day(app, demo, settings):
    store = app.state.services.media
    data = media_files.phone_jpeg(orientation=1)
    orphan = await clerk_upload(demo, store, data)
    await Media.filter(id=orphan.id).update(created_at=datetime.now(UTC) - timedelta(hours=30))
    again = await clerk_upload(demo, store, data)
    assert again.id == orphan.id
    assert await delete_orphans(store, datetime.now(UTC) + timedelta(hours=1)) == 0
    assert all(files_of(settings, again))


# --- idempotency keys ---


async def test_idempotency_keys_are_purged_by_the_clock_given(app):
    await IdempotentRequest.create(scope="u:1", key="a", request_hash="h")
    assert await purge_expired(now=datetime.now(UTC)) == 0
    assert await purge_expired(now=datetime.now(UTC) + timedelta(days=2)) == 1
    assert await IdempotentRequest.all().count() == 0
