"""Open, close and migrate the database with tortoise-orm's own migration engine."""

from __future__ import annotations

from redis.asyncio import Redis
from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

from api.compat import init_tortoise, sqlite_filename
from api.rows import use_shortcuts
from api.settings import Settings
from api.sqlite_reads import close_reader, open_reader
from models import data_versions, subsidies
from models.accounts import viewer_cache
from models.accounts.viewer_cache import FileStamps, RedisStamps, Stamps
from models.catalogue_data import ensure_catalogue
from models.chart_data import ensure_charts
from models.prices.commodity_data import ensure_commodities
from models.redis_guard import RedisGuard


async def migrate(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        await tortoise_migrate(config=settings.tortoise_config())
    finally:
        await Tortoise.close_connections()
    ctx = await open_db(settings)
    try:
        await ensure_catalogue()  # reference data every database needs
        await ensure_charts()
        await ensure_commodities()
    finally:
        await close_db(ctx)


async def open_db(settings: Settings) -> TortoiseContext:
    """Connections for the whole process: requests run in other tasks than the lifespan."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    ctx = await init_tortoise(settings.tortoise_config())
    use_shortcuts(settings.fast_paths)
    subsidies.configure(settings.id_key)  # tables hash ID numbers wherever content is saved
    # a script's account changes reach the API processes' viewer caches (an API process
    # installs its own cache's stamps, which take precedence)
    previous = viewer_cache.configure(_change_stamps(settings))
    if previous is not None:
        await previous.aclose()
    if settings.is_sqlite and settings.fast_paths:
        open_reader(sqlite_filename(Tortoise.get_connection("default")))
    # every process that writes bumps the data versions the response cache reads
    redis = version_redis(settings)
    store: data_versions.VersionStore = (
        data_versions.RedisVersions(redis, settings.redis_prefix)
        if redis is not None
        else data_versions.MemoryVersions()
    )
    data_versions.install(store)
    _version_stores[id(ctx)] = (store, redis)
    return ctx


def _change_stamps(settings: Settings) -> Stamps:
    if settings.redis_url:
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)
        return RedisStamps(redis, settings.redis_prefix, RedisGuard(redis), own=True)
    return FileStamps(settings.data_dir / "viewer-stamp")


# The data version store of each open database context, and its Redis client if any.
_version_stores: dict[int, tuple[data_versions.VersionStore, Redis | None]] = {}


def version_redis(settings: Settings) -> Redis | None:
    from api.services import connect_redis  # api.services imports the media and models

    return connect_redis(settings)


async def close_db(ctx: TortoiseContext) -> None:
    stamps = viewer_cache.configure(None)
    if stamps is not None:
        await stamps.aclose()
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "sqlite":
        close_reader(sqlite_filename(conn))
    await ctx.close_connections()
    store, redis = _version_stores.pop(id(ctx), (None, None))
    if store is not None:
        data_versions.uninstall(store)
    if redis is not None:
        await redis.aclose()


async def ping_db() -> None:
    conn = Tortoise.get_connection("default")
    await conn.execute_query("SELECT 1")
