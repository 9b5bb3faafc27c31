"""A test-only periodic job every second, logging each slot it runs (for processes started
by the tests with CUNWU_JOB_MODULES=tests.job_probe_schedule and PROBE_DIR set)."""

from __future__ import annotations

import os
from pathlib import Path

from api.jobs.periodic import PERIODIC
from models.jobs.handlers import JobContext, job_handler
from models.jobs.scheduler import every
from tests.job_probes import log_line

PERIODIC.append(every("probe_tick", seconds=1))


@job_handler("probe_tick")
async def probe_tick(ctx: JobContext) -> None:
    log_line(Path(os.environ["PROBE_DIR"]), f"tick {ctx.payload['slot']} {os.getpid()}")
