"""Open, close and migrate the database with tortoise-orm's own migration engine."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate as tortoise_migrate

from api.settings import Settings
from api.sqlite_reads import close_reader, open_reader
from models.catalogue_data import ensure_catalogue
from models.chart_data import ensure_charts


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
    finally:
        await close_db(ctx)


async def open_db(settings: Settings) -> TortoiseContext:
    """Connections for the whole process: requests run in other tasks than the lifespan."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    ctx = await Tortoise.init(config=settings.tortoise_config(), _enable_global_fallback=True)
    if settings.is_sqlite:
        open_reader(Tortoise.get_connection("default").filename)
    return ctx


async def close_db(ctx: TortoiseContext) -> None:
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect == "sqlite":
        close_reader(conn.filename)
    await ctx.close_connections()


async def ping_db() -> None:
    conn = Tortoise.get_connection("default")
    await conn.execute_query("SELECT 1")
