"""Test-only job kinds (imported through CUNWU_JOB_MODULES / Settings.job_modules).

`probe_effect` writes its effect once per job (a file created exclusively, as a handler
must: it finds its effect done on a retry) and logs each start and each effect; with
`block` it then waits forever, so a test can kill its worker between the effect and the
acknowledgement. `probe_fail` always fails.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from models.jobs.handlers import JobContext, job_handler


def log_line(directory: Path, line: str) -> None:
    with open(directory / "log", "a") as fh:  # O_APPEND: lines from processes do not mix
        fh.write(line + "\n")


@job_handler("probe_effect")
async def probe_effect(ctx: JobContext) -> None:
    directory = Path(ctx.payload["dir"])
    log_line(directory, f"start {ctx.job_id} {os.getpid()}")
    try:
        fd = os.open(directory / f"effect-{ctx.job_id}", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return  # done by an earlier attempt that was never acknowledged
    os.close(fd)
    log_line(directory, f"effect {ctx.job_id} {os.getpid()}")
    if ctx.payload.get("block"):
        await asyncio.Event().wait()
    await asyncio.sleep(ctx.payload.get("sleep", 0))


@job_handler("probe_fail")
async def probe_fail(ctx: JobContext) -> None:
    raise RuntimeError(f"probe failure on attempt {ctx.attempt}")
