"""The periodic jobs, their handlers, and the runner a process starts when it runs jobs.

Wired here, on the API side, because some handlers need what the process opened (the view
counter, the league-table cache, the media store) and the idempotency keys live in `api`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from api.idempotency import purge_expired
from api.settings import Settings
from media.service import delete_orphans
from models.accounts.sms_codes import prune as prune_sms_codes
from models.disclosures.notices import resend_must_read
from models.disclosures.publishing import publish_due
from models.disclosures.reminders import remind_clerks, report_missing_items
from models.flags.escalation import escalate_overdue_flags
from models.flags.reminders import remind_flags_due
from models.jobs.handlers import HANDLERS, JobContext, job_handler
from models.jobs.queue import prune
from models.jobs.scheduler import Periodic, Scheduler, cron, every, prune_slots
from models.jobs.worker import Worker, WorkerConfig
from notifications.digest import send_digests

PERIODIC = [
    every("publish_due", minutes=1),
    every("escalate_overdue_flags", minutes=10),
    every("remind_flags_due", hours=1),
    cron("remind_clerks", timedelta(days=40), day=5, hour=9),
    cron("report_missing_items", timedelta(days=40), day=11, hour=9),
    every("flush_views", minutes=1),
    every("refresh_stats", minutes=5),
    every("purge_idempotency_keys", hours=1),
    every("prune_sms_codes", hours=1),
    cron("delete_orphan_media", timedelta(days=2), hour=3, minute=30),
    cron("prune_jobs", timedelta(days=2), hour=4),
    cron("send_digests", timedelta(days=2), hour=20),
    cron("resend_must_read_notices", timedelta(days=2), hour=10),
]

# Domain functions that take only the time (`fn(now=...)`), by job name.
DOMAIN_JOBS: dict[str, Callable[..., Awaitable[int]]] = {
    "publish_due": publish_due,
    "escalate_overdue_flags": escalate_overdue_flags,
    "remind_flags_due": remind_flags_due,
    "remind_clerks": remind_clerks,
    "report_missing_items": report_missing_items,
    "prune_sms_codes": prune_sms_codes,
    "send_digests": send_digests,
}


@job_handler("flush_views")
async def flush_views(ctx: JobContext) -> int:
    return int(await ctx.services.views.flush(now=ctx.now))


@job_handler("refresh_stats")
async def refresh_stats(ctx: JobContext) -> int:
    return int(await ctx.services.stats.refresh(now=ctx.now))


@job_handler("purge_idempotency_keys")
async def purge_idempotency_keys(ctx: JobContext) -> int:
    return await purge_expired(now=ctx.now)


@job_handler("resend_must_read_notices")
async def resend_must_read_notices(ctx: JobContext) -> int:
    return await resend_must_read(now=ctx.now, days=ctx.services.settings.notice_resend_days)


@job_handler("delete_orphan_media")
async def delete_orphan_media(ctx: JobContext) -> int:
    return await delete_orphans(ctx.services.media, now=ctx.now)


@job_handler("prune_jobs")
async def prune_jobs(ctx: JobContext) -> int:
    keep = timedelta(days=ctx.services.settings.jobs_keep_days)
    return await prune(ctx.now, keep) + await prune_slots(ctx.now, timedelta(days=90))


def domain_handler(fn: Callable[..., Awaitable[Any]]) -> Callable[[JobContext], Awaitable[Any]]:
    async def run(ctx: JobContext) -> Any:
        return await fn(now=ctx.now)

    return run


_registered = False
# modules whose `@job_handler`s run in every process that runs jobs
HANDLER_MODULES = ("notifications.dispatch", "notifications.fanout", "notifications.deliver")


def register_handlers(modules: tuple[str, ...] = ()) -> None:
    global _registered
    for module in modules:
        importlib.import_module(module)
    if _registered:
        return
    _registered = True
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    for name, fn in DOMAIN_JOBS.items():
        HANDLERS[name] = domain_handler(fn)


def active_periodic() -> list[Periodic]:
    """The periodic jobs this build can run (each has a handler)."""
    register_handlers()
    return [p for p in PERIODIC if p.name in HANDLERS]


class JobRunner:
    """The scheduler (a clock) and one worker, started by `make run`'s lifespan or by
    `python -m scripts.worker`."""

    def __init__(self, settings: Settings, services: Any) -> None:
        register_handlers(settings.job_modules)
        self.worker = Worker(
            WorkerConfig(
                concurrency=settings.job_concurrency,
                lease_seconds=settings.job_lease_seconds,
                poll_seconds=settings.job_poll_seconds,
                backoff_base_seconds=settings.job_backoff_seconds,
                backoff_cap_seconds=settings.job_backoff_cap_seconds,
                stop_grace_seconds=settings.job_stop_grace_seconds,
            ),
            settings.clock,
            services,
        )
        self.scheduler = Scheduler(
            active_periodic(), settings.clock, settings.scheduler_wakeup_seconds
        )

    async def start(self) -> None:
        self.worker.start()
        await self.scheduler.start()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.worker.stop()
