"""A worker: claims jobs in batches, runs them concurrently, renews their leases,
acknowledges many at once, retries failures with backoff; on stop it finishes or
hands back what it holds."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from models.jobs import queue
from models.jobs.handlers import HANDLERS, JobContext
from models.jobs.queue import Claimed, Clock
from models.policy import Viewer

log = logging.getLogger("cunwu.jobs")


@dataclass(frozen=True)
class WorkerConfig:
    concurrency: int = 10
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    backoff_base_seconds: float = 5.0
    backoff_cap_seconds: float = 3600.0
    stop_grace_seconds: float = 10.0


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, config: WorkerConfig, clock: Clock, services: Any = None) -> None:
        self.config = config
        self.clock = clock
        self.services = services
        self.owner = worker_name()
        self.lease = timedelta(seconds=config.lease_seconds)
        self._running: dict[int, asyncio.Task[None]] = {}
        self._acks: list[int] = []
        self._wake = asyncio.Event()
        self._acks_ready = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe = queue.on_enqueue(self._wake.set)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._claim_loop()),
            asyncio.create_task(self._lease_loop()),
            asyncio.create_task(self._ack_loop()),
        ]

    async def stop(self) -> None:
        """Stop claiming; give running jobs the grace period, then hand the rest back."""
        if self._stopping:
            return
        self._stopping = True
        self._unsubscribe()
        self._wake.set()
        claim_loop, lease_loop, ack_loop = self._tasks
        await asyncio.gather(claim_loop, return_exceptions=True)
        running = list(self._running.values())
        if running:
            await asyncio.wait(running, timeout=self.config.stop_grace_seconds)
        left = dict(self._running)  # finished tasks take themselves out of _running
        unfinished = [i for i, t in left.items() if not t.done()]
        for task in left.values():
            task.cancel()
        if left:  # a handler may not end on cancellation: its job is handed back regardless
            await asyncio.wait(left.values(), timeout=self.config.stop_grace_seconds)
        lease_loop.cancel()
        ack_loop.cancel()
        await asyncio.gather(lease_loop, ack_loop, return_exceptions=True)
        await self._flush_acks()
        if unfinished:
            await queue.release(self.owner, unfinished)

    async def _claim_loop(self) -> None:
        reclaim_every = self.config.lease_seconds / 4
        last_reclaim = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            free = self.config.concurrency - len(self._running)
            claimed: list[Claimed] = []
            if free > 0:
                try:
                    now = self.clock()
                    if loop.time() - last_reclaim >= reclaim_every:
                        last_reclaim = loop.time()
                        claimed = await queue.reclaim_expired(
                            self.owner, free, self.lease, now, list(self._running)
                        )
                    claimed += await queue.claim(self.owner, free - len(claimed), self.lease, now)
                except Exception:  # the database is away: try again after a poll
                    log.exception("claiming jobs failed")
            for job in claimed:
                self._running[job.id] = asyncio.create_task(self._run(job))
            if claimed and len(claimed) == free:
                await self._wait_for_room()
                continue
            if not claimed:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_seconds)
                except TimeoutError:
                    pass

    async def _wait_for_room(self) -> None:
        if len(self._running) >= self.config.concurrency:
            await asyncio.wait(list(self._running.values()), return_when=asyncio.FIRST_COMPLETED)

    async def _run(self, job: Claimed) -> None:
        try:
            handler = HANDLERS.get(job.kind)
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r} in this process")
            now = self.clock()
            ctx = JobContext(
                job_id=job.id,
                kind=job.kind,
                payload=job.payload,
                attempt=job.attempts,
                now=now,
                clock=self.clock,
                viewer=Viewer.for_system(f"job:{job.kind}"),
                services=self.services,
            )
            await handler(ctx)
        except asyncio.CancelledError:
            raise  # stopping: handed back by stop()
        except Exception as exc:
            error = "".join(traceback.format_exception_only(exc)).strip()
            log.warning("job %s (%s) attempt %s failed: %s", job.id, job.kind, job.attempts, error)
            try:
                await queue.fail(
                    self.owner,
                    job,
                    error,
                    self.clock(),
                    self.config.backoff_base_seconds,
                    self.config.backoff_cap_seconds,
                )
            except Exception:  # the lease runs out and another worker retries it
                log.exception("recording job %s's failure failed", job.id)
            self._running.pop(job.id, None)
            self._wake.set()
        else:
            self._running.pop(job.id, None)
            self._acks.append(job.id)
            self._acks_ready.set()
            self._wake.set()

    async def _ack_loop(self) -> None:
        while True:
            await self._acks_ready.wait()
            self._acks_ready.clear()
            try:
                await self._flush_acks()
            except Exception:  # the leases run out and the jobs run again (idempotent)
                log.exception("acknowledging jobs failed")

    async def _flush_acks(self) -> None:
        ids, self._acks = self._acks, []
        await queue.complete(self.owner, ids, self.clock())

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.lease_seconds / 3)
            try:
                await queue.renew(self.owner, list(self._running), self.lease, self.clock())
            except Exception:
                log.exception("renewing leases failed")
