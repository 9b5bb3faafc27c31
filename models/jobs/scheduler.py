"""Periodic jobs: APScheduler is only the alarm clock of each process; the database decides.

Each tick finds the latest slot of the job's schedule at or before now (the injectable
clock) and, when it is newer than the last one recorded, inserts a `(name, slot)` row under
a unique constraint together with the job: only the process whose insert wins enqueues it,
however many processes tick. A slot missed while everything was down is found by the first
tick after start (one run, however many slots were missed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from models.jobs import Job, JobSlot
from models.jobs.queue import DEFAULT_MAX_ATTEMPTS, Clock, enqueue
from models.sql import Params, is_postgres

log = logging.getLogger("cunwu.jobs")
# APScheduler logs every wake-up at INFO ("Running job …"): the ticks' outcomes are ours to log
logging.getLogger("apscheduler").setLevel(logging.WARNING)
SHANGHAI_TZ = "Asia/Shanghai"
# Interval slots count from a fixed instant, so every process computes the same slots.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Periodic:
    name: str  # also the job kind it enqueues
    trigger: BaseTrigger
    lookback: timedelta  # how far back a missed slot is still run (at least one period)
    max_attempts: int = 3


def every(name: str, *, minutes: float = 0, hours: float = 0, seconds: float = 0) -> Periodic:
    period = timedelta(minutes=minutes, hours=hours, seconds=seconds)
    trigger = IntervalTrigger(seconds=period.total_seconds(), start_date=EPOCH, timezone=UTC)
    return Periodic(name, trigger, lookback=max(2 * period, timedelta(hours=1)))


def cron(name: str, lookback: timedelta, **fields: Any) -> Periodic:
    """Calendar schedules in Beijing time (`day=5, hour=9` is 09:00 on the 5th)."""
    return Periodic(name, CronTrigger(timezone=SHANGHAI_TZ, **fields), lookback=lookback)


def latest_slot(trigger: BaseTrigger, after: datetime, now: datetime) -> datetime | None:
    """The last fire time in (after, now], if any."""
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    found = None
    while fire is not None and fire <= now:
        found = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return found.astimezone(UTC) if found else None


def next_slot(trigger: BaseTrigger, now: datetime) -> datetime | None:
    fire = trigger.get_next_fire_time(None, now + timedelta(microseconds=1))
    return fire.astimezone(UTC) if fire else None


class Scheduler:
    def __init__(
        self, periodic: list[Periodic], clock: Clock, wakeup_seconds: float | None = None
    ) -> None:
        self.periodic = {p.name: p for p in periodic}
        self.clock = clock
        self.wakeup_seconds = wakeup_seconds
        self._last: dict[str, datetime] = {}  # the newest slot this process saw recorded
        self._aps: AsyncIOScheduler | None = None
        # APScheduler only rings; one task of ours ticks, so stopping can wait for it
        self._due: set[str] = set()
        self._ring = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._due.update(self.periodic)  # runs what was missed while everything was down
        self._ring.set()
        self._ticker = asyncio.create_task(self._tick_loop())
        aps = AsyncIOScheduler(timezone=UTC)
        for p in self.periodic.values():
            # coalesce + no misfire limit: a late wake-up still rings once; the tick itself
            # decides the slot from the database, so a doubled wake-up is harmless
            aps.add_job(
                self._wake,
                p.trigger,
                args=[p.name],
                id=p.name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        if self.wakeup_seconds:  # tests move the injectable clock: look often
            aps.add_job(
                self._wake,
                IntervalTrigger(seconds=self.wakeup_seconds, timezone=UTC),
                args=[None],
                id="wakeup",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        aps.start()
        self._aps = aps

    async def stop(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None

    async def _wake(self, name: str | None) -> None:
        self._due.update([name] if name else self.periodic)
        self._ring.set()

    async def _tick_loop(self) -> None:
        while True:
            await self._ring.wait()
            self._ring.clear()
            due, self._due = self._due, set()
            for name in self.periodic:
                if name in due:
                    await self.tick(name)

    async def tick(self, name: str) -> int | None:
        """Enqueue `name`'s due slot unless some process already did; the job id if this
        process won."""
        try:
            return await self._tick(self.periodic[name])
        except Exception:  # the next tick tries again
            log.exception("scheduler tick for %s failed", name)
            return None

    async def _tick(self, p: Periodic) -> int | None:
        now = self.clock()
        last = self._last.get(p.name)
        if last is None or last > now:  # the clock stepped back: ask the database again
            last = await last_recorded(p.name, now)
            if last is not None:
                self._last[p.name] = last
        after = max(last, now - p.lookback) if last else now - p.lookback
        slot = latest_slot(p.trigger, after, now)
        if slot is None:
            return None
        async with in_transaction():
            won = await insert_slot(p.name, slot, now)
            job_id = None
            if won is not None:
                # one live run per periodic job: a slow run is not stacked upon
                job_id = await enqueue(
                    p.name,
                    {"slot": slot.isoformat()},
                    unique_key=f"periodic:{p.name}",
                    max_attempts=p.max_attempts or DEFAULT_MAX_ATTEMPTS,
                    now=now,
                )
                if job_id is not None:
                    await JobSlot.filter(id=won).update(job_id=job_id)
        self._last[p.name] = slot
        return job_id


async def last_recorded(name: str, now: datetime | None = None) -> datetime | None:
    """The newest slot recorded for `name` (up to `now`: a row dated in the future, forged
    or written by a process whose clock ran ahead, must not hold back every run until then)."""
    qs = JobSlot.filter(name=name)
    if now is not None:
        qs = qs.filter(slot__lte=now)
    row = await qs.order_by("-slot").first().values("slot")
    return row["slot"] if row else None


async def insert_slot(name: str, slot: datetime, now: datetime) -> int | None:
    conn = Tortoise.get_connection("default")
    p = Params(is_postgres(conn))
    rows = await conn.execute_query_dict(
        "INSERT INTO job_slot (name, slot, created_at)"
        f" VALUES ({p(name)}, {p(slot)}, {p(now)})"
        " ON CONFLICT (name, slot) DO NOTHING RETURNING id",
        p.values,
    )
    return rows[0]["id"] if rows else None


@dataclass
class PeriodicStatus:
    name: str
    schedule: str
    last_slot: datetime | None
    last_job: Job | None
    next_run: datetime | None


async def status(periodic: list[Periodic], now: datetime) -> list[PeriodicStatus]:
    """Each periodic job's last recorded run (and its job) and its next slot."""
    out = []
    for p in periodic:
        slot = await JobSlot.filter(name=p.name, slot__lte=now).order_by("-slot").first()
        job = await Job.get_or_none(id=slot.job_id) if slot and slot.job_id else None
        out.append(
            PeriodicStatus(
                p.name, str(p.trigger), slot.slot if slot else None, job, next_slot(p.trigger, now)
            )
        )
    return out


async def prune_slots(now: datetime, keep: timedelta) -> int:
    """Old slots go; each job's latest stays, for the missed-run check."""
    removed = 0
    for name in await JobSlot.all().distinct().values_list("name", flat=True):
        latest = await last_recorded(str(name))
        if latest is not None:
            removed += await JobSlot.filter(name=name, slot__lt=min(latest, now - keep)).delete()
    return removed
