"""The job queue's throughput and the scheduler's idle cost: `python -m scripts.bench_jobs`.

SQLite (a temporary file, the in-process runner) always; PostgreSQL when `--postgres URL`
(or TEST_DATABASE_URL) names a server: a database is made for the run and dropped after.
Measures, each with a baseline from the same run:

- 10,000 jobs enqueued in one transaction (one INSERT) against tortoise's `bulk_create`
  of the same rows;
- trivial jobs claimed, run and acknowledged per second by 4 worker processes
  (PostgreSQL) or the in-process runner (SQLite), against a plain loop of one UPDATE per
  row over the same rows (the least a per-job acknowledgement costs);
- the CPU an idle job process (scheduler + worker, every periodic job) uses over 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.transactions import in_transaction

from api.database import close_db, migrate, open_db
from api.settings import Settings, sqlite_url
from models.jobs import Job, JobStatus
from models.jobs.handlers import JobContext, job_handler
from models.jobs.queue import NewJob, enqueue_many
from models.jobs.worker import Worker, WorkerConfig

ROOT = Path(__file__).resolve().parent.parent
BENCH_CONFIG = WorkerConfig(concurrency=200, lease_seconds=60, poll_seconds=0.01)


@job_handler("bench_noop")
async def bench_noop(ctx: JobContext) -> None:
    return None


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        env="bench",
        data_dir=data_dir,
        database_url=url,
        media_root=data_dir / "media",
        secret_key="bench-secret-key-" + "x" * 32,
        demo=False,
        jobs=False,
    )


def noop_jobs(count: int) -> list[NewJob]:
    return [NewJob("bench_noop", {"n": n}) for n in range(count)]


async def time_enqueue(count: int, rounds: int = 3) -> tuple[float, float]:
    """(one INSERT through enqueue_many, tortoise's bulk_create): the median seconds over
    `rounds`, each in one transaction, alternating, the rows deleted between rounds."""
    ours, base = [], []
    for _ in range(rounds):
        jobs = noop_jobs(count)
        start = time.perf_counter()
        async with in_transaction():
            await enqueue_many(jobs)
        ours.append(time.perf_counter() - start)
        now = datetime.now(UTC)
        rows = [
            Job(kind="bench_base", payload={"n": n}, run_at=now, created_at=now)
            for n in range(count)
        ]
        start = time.perf_counter()
        async with in_transaction():
            await Job.bulk_create(rows)
        base.append(time.perf_counter() - start)
        await Job.filter(kind__in=["bench_noop", "bench_base"]).delete()
    return statistics.median(ours), statistics.median(base)


async def update_loop(ids: list[int], connections: int) -> float:
    """Baseline: one UPDATE per row, `connections` at a time; rows per second."""
    conn = Tortoise.get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    sql = (
        "UPDATE job SET status = 'done', finished_at = $1 WHERE id = $2"
        if postgres
        else "UPDATE job SET status = 'done', finished_at = ? WHERE id = ?"
    )
    chunks = [ids[i::connections] for i in range(connections)]

    async def run(chunk: list[int]) -> None:
        for job_id in chunk:
            await conn.execute_query(sql, [datetime.now(UTC), job_id])

    start = time.perf_counter()
    await asyncio.gather(*(run(c) for c in chunks))
    return len(ids) / (time.perf_counter() - start)


async def finished_rate(count: int, within: float) -> float:
    """Wait for every bench job to finish; jobs per second from first claim to last ack."""
    deadline = time.monotonic() + within
    while await Job.filter(kind="bench_noop", status=JobStatus.DONE).count() < count:
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not finish in time")
        await asyncio.sleep(0.2)
    rows = await Job.filter(kind="bench_noop").values_list("started_at", "finished_at")
    first = min(r[0] for r in rows)
    last = max(r[1] for r in rows)
    return count / max((last - first).total_seconds(), 1e-6)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def spawn(mode: str, url: str, data_dir: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.bench_jobs",
        mode,
        "--database",
        url,
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    if line.strip() != b"ready":
        raise SystemExit(f"{mode} process did not start: {line!r}")
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
    await process.wait()


async def idle_cpu(url: str, data_dir: Path, seconds: float) -> float:
    process = await spawn("idle", url, data_dir)
    try:
        await asyncio.sleep(2)  # start-up ticks done
        before = cpu_seconds(process.pid)
        await asyncio.sleep(seconds)
        used = cpu_seconds(process.pid) - before
    finally:
        await stop(process)
    return 100 * used / seconds


async def bench_postgres(server: str, count: int, idle_seconds: float, tmp: Path) -> None:
    name = f"cunwu_bench_jobs_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunsplit(urlsplit(server)._replace(path="/" + name))
    EXECUTOR_CACHE.clear()  # tortoise keeps SQLite's INSERTs under the same connection name
    settings = settings_for(url, tmp)
    try:
        await migrate(settings)
        ctx = await open_db(settings)
        try:
            ours, base = await time_enqueue(10_000)
            print(
                f"postgres: 10,000 jobs in one transaction (median of 3): {ours * 1000:.0f} ms "
                f"(goal < 1,000 ms); bulk_create baseline {base * 1000:.0f} ms, "
                f"ratio {ours / base:.2f}"
            )
            workers = [await spawn("work", url, tmp) for _ in range(4)]
            try:
                async with in_transaction():
                    ids = await enqueue_many(noop_jobs(count))
                rate = await finished_rate(count, within=300)
            finally:
                for process in workers:
                    await stop(process)
            await Job.filter(id__in=ids).update(status=JobStatus.QUEUED)
            baseline = await update_loop(ids, 4)
            print(
                f"postgres: 4 worker processes finished {rate:,.0f} jobs/s (goal >= 2,000); "
                f"plain UPDATE per row on 4 connections {baseline:,.0f} rows/s, "
                f"ratio {rate / baseline:.2f}"
            )
            await Job.filter(kind="bench_noop").delete()
        finally:
            await close_db(ctx)
        cpu = await idle_cpu(url, tmp, idle_seconds)
        print(f"postgres: idle job process {cpu:.2f} % of a core over {idle_seconds:.0f} s")
    finally:
        admin = await asyncpg.connect(server.replace("postgres://", "postgresql://", 1))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def bench_sqlite(count: int, idle_seconds: float, tmp: Path) -> None:
    url = sqlite_url(tmp / "bench.sqlite3")
    settings = settings_for(url, tmp)
    await migrate(settings)
    ctx = await open_db(settings)
    try:
        ours, base = await time_enqueue(10_000)
        print(
            f"sqlite: 10,000 jobs in one transaction (median of 3): {ours * 1000:.0f} ms; "
            f"bulk_create baseline {base * 1000:.0f} ms, ratio {ours / base:.2f}"
        )
        async with in_transaction():
            ids = await enqueue_many(noop_jobs(count))
        worker = Worker(BENCH_CONFIG, lambda: datetime.now(UTC))
        worker.start()
        try:
            rate = await finished_rate(count, within=300)
        finally:
            await worker.stop()
        await Job.filter(id__in=ids).update(status=JobStatus.QUEUED)
        baseline = await update_loop(ids, 1)
        print(
            f"sqlite: in-process runner finished {rate:,.0f} jobs/s (goal >= 500); "
            f"plain UPDATE per row {baseline:,.0f} rows/s, ratio {rate / baseline:.2f}"
        )
        await Job.filter(kind="bench_noop").delete()
    finally:
        await close_db(ctx)
    cpu = await idle_cpu(url, tmp, idle_seconds)
    print(f"sqlite: idle app's jobs {cpu:.2f} % of a core over {idle_seconds:.0f} s")


async def work(url: str, data_dir: Path) -> None:
    """A worker process of the benchmark: claims and runs bench_noop jobs until stopped."""
    ctx = await open_db(settings_for(url, data_dir))
    worker = Worker(BENCH_CONFIG, lambda: datetime.now(UTC))
    worker.start()
    print("ready", flush=True)
    await wait_for_stop()
    await worker.stop()
    await close_db(ctx)


async def idle(url: str, data_dir: Path) -> None:
    """What a job process runs (scheduler + worker, every periodic job), doing nothing."""
    from api.jobs.periodic import JobRunner
    from api.services import Services

    settings = settings_for(url, data_dir).with_overrides(jobs=True)
    ctx = await open_db(settings)
    runner = JobRunner(settings, Services.build(settings, None))
    await runner.start()
    print("ready", flush=True)
    await wait_for_stop()
    await runner.stop()
    await close_db(ctx)


async def wait_for_stop() -> None:
    import signal

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()


async def main_async(args: argparse.Namespace) -> None:
    if args.mode == "work":
        await work(args.database, Path(args.data_dir))
        return
    if args.mode == "idle":
        await idle(args.database, Path(args.data_dir))
        return
    with tempfile.TemporaryDirectory() as tmp:
        await bench_sqlite(args.sqlite_jobs, args.idle_seconds, Path(tmp))
    server = args.postgres or os.environ.get("TEST_DATABASE_URL")
    if server:
        with tempfile.TemporaryDirectory() as tmp:
            await bench_postgres(server, args.postgres_jobs, args.idle_seconds, Path(tmp))
    else:
        print("postgres: skipped (pass --postgres postgres://user@host:5432/db)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "work", "idle"])
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a database is made)")
    parser.add_argument("--postgres-jobs", type=int, default=20_000)
    parser.add_argument("--sqlite-jobs", type=int, default=5_000)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
