"""A job worker with the scheduler's clock: `python -m scripts.worker` (or `make worker`).

Production runs it as many times as wanted next to the API processes (those with
CUNWU_JOBS=0). Each claims jobs from the database and ticks the scheduler; a tick's
`(job, slot)` row decides which process enqueues a run. SIGTERM or SIGINT: the worker
stops claiming, finishes what it runs (JOB_STOP_GRACE_SECONDS) and hands back the rest.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from api.database import close_db, open_db
from api.jobs.periodic import JobRunner
from api.services import Services, connect_redis, live_hub
from api.settings import Settings
from notifications import live

log = logging.getLogger("cunwu.jobs")


async def run(settings: Settings) -> None:
    orm = await open_db(settings)
    redis = connect_redis(settings)
    services = Services.build(settings, redis)
    # publishes what its dispatch jobs hand over; the API processes' hubs deliver it
    hub = services.live = live_hub(settings, listen=False)
    if not settings.redis_url:
        log.warning("no REDIS_URL: live notifications from this worker reach no subscriber")
    live.install(hub)
    runner = JobRunner(settings, services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    log.info("worker %s running", runner.worker.owner)
    print("worker ready", flush=True)  # tests and supervisors wait for this line
    try:
        await stop.wait()
    finally:
        await runner.stop()
        live.uninstall(hub)
        await hub.stop()
        await services.aclose()
        if redis is not None:
            await redis.aclose()
        await close_db(orm)
    log.info("worker %s stopped", runner.worker.owner)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    if settings.is_sqlite:
        # SQLite has one writer: the embedded default runs the jobs inside `make run`
        sys.exit(
            "scripts.worker needs PostgreSQL (DATABASE_URL); with SQLite, `make run` runs the jobs"
        )
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
