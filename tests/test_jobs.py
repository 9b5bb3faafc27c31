"""Jobs and the scheduler, with the app (scheduler + worker in process) or real worker
processes running: nothing here calls the domain functions the jobs run."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from api.app import create_app
from api.settings import Settings
from models.accounts.auth import Passwords
from models.accounts.operations import ensure_system_admin
from models.audit import AuditEntry
from models.disclosures import Disclosure
from models.disclosures.periods import SHANGHAI
from models.flags import Flag
from models.jobs import Job, JobSlot, JobStatus
from models.jobs.queue import NewJob, backoff, enqueue, enqueue_many
from models.notifications import NotificationEvent
from models.policy import Viewer
from tests.client import GQL, error_codes
from tests.test_disclosures import ADMIN, CLERK, OFFICIAL, STEP, VILLAGER, draft, gid, published
from tests.test_flags import _pk, raise_flag

ROOT = Path(__file__).resolve().parent.parent
ROOT_PHONE, ROOT_PASSWORD = "13800009999", "jobs-admin-passphrase-2026"
JOBS = """query($s: JobStatus, $k: String, $first: Int, $after: String) {
  jobs(status: $s, kind: $k, first: $first, after: $after) {
    edges { node { id kind status attempts maxAttempts lastError payload } }
    pageInfo { hasNextPage endCursor } } }"""
RETRY = """mutation($input: RetryJobInput!) { retryJob(input: $input) {
  job { id status attempts } errors { code field } } }"""
STATUS = """{ schedulerStatus { name schedule nextRun
  lastRun { slot status startedAt finishedAt durationMs job { id } } } }"""


class MovableClock:
    """The injectable clock: real time plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def move(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def settings(settings: Settings, clock: MovableClock) -> Settings:
    """The app runs the scheduler and a worker, with short polls, leases and backoffs."""
    return settings.with_overrides(
        jobs=True,
        clock=clock,
        job_poll_seconds=0.02,
        job_lease_seconds=2.0,
        job_backoff_seconds=0.02,
        job_stop_grace_seconds=0.5,
        scheduler_wakeup_seconds=0.05,
        job_modules=("tests.job_probes",),
    )


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {check}")
        await asyncio.sleep(0.05)


async def root_admin(gql: GQL, settings: Settings) -> str:
    await ensure_system_admin(
        Viewer.for_system("test"),
        Passwords(settings.auth),
        phone=ROOT_PHONE,
        password=ROOT_PASSWORD,
        name="系统管理员",
    )
    return await gql.login(ROOT_PHONE, ROOT_PASSWORD)


async def test_a_scheduled_disclosure_is_published_by_the_running_scheduler(gql, demo, clock):
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0])
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    out = await gql.mutate(
        "publishDisclosure",
        STEP % ("PublishDisclosure", "publishDisclosure"),
        {"id": d["id"], "publishAt": later},
        token=clerk,
    )
    assert out["disclosure"]["status"] == "SCHEDULED"
    query = "query($id: ID!) { disclosure(id: $id) { status version } }"
    await asyncio.sleep(0.3)  # the scheduler ticks meanwhile: too early, nothing happens
    read = await gql.data(query, {"id": d["id"]}, token=clerk)
    assert read["disclosure"]["status"] == "SCHEDULED"

    clock.move(timedelta(hours=2, minutes=1))

    async def published_now() -> bool:
        status = (await gql(query, {"id": d["id"]}))["data"]["disclosure"]  # public once out
        return status == {"status": "PUBLISHED", "version": 1}

    await eventually(published_now)
    entry = await AuditEntry.get(action="disclosure.publish", object_id=str(_pk(d["id"])))
    assert entry.actor_id is None and entry.request_id == "job:publish_due"


async def test_an_overdue_flag_escalates_when_the_clock_passes_its_deadline(gql, demo, clock):
    item = await published(gql, await gql.login(CLERK), demo.villages[0])
    flag = await raise_flag(gql, await gql.login(VILLAGER), item["id"])
    stored = await Flag.get(id=_pk(flag["id"]))
    query = "query($id: ID!) { flag(id: $id) { escalated events { kind } } }"
    await asyncio.sleep(0.3)
    assert (await gql.data(query, {"id": flag["id"]}))["flag"]["escalated"] is False

    clock.move(stored.due_at - clock() + timedelta(days=1))  # the day after the deadline

    async def escalated() -> Any:
        node = (await gql.data(query, {"id": flag["id"]}))["flag"]
        return node if node["escalated"] else None

    node = await eventually(escalated)
    assert [e["kind"] for e in node["events"]].count("ESCALATED") == 1
    audit = await AuditEntry.filter(action="flag.escalate", object_id=str(stored.id))
    assert len(audit) == 1 and audit[0].request_id == "job:escalate_overdue_flags"
    inspector = demo.users["INSPECTOR"].id
    assert await NotificationEvent.filter(user_id=inspector, kind="FLAG_ESCALATED").count() == 1
    await asyncio.sleep(0.3)  # later ticks find nothing more to do
    assert await AuditEntry.filter(action="flag.escalate").count() == 1


async def test_view_counts_survive_a_restart(settings, clock):
    from scripts.seed_demo import seed_demo

    query = "query($id: ID!) { disclosure(id: $id) { viewCount } }"

    async def serve() -> AsyncIterator[GQL]:
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield GQL(client)

    first = serve()
    gql = await anext(first)
    demo = await seed_demo(settings, content=False)
    d = await published(gql, await gql.login(CLERK), demo.villages[0])
    for _ in range(3):
        await gql.data(query, {"id": d["id"]})
    await first.aclose()  # the app stops

    again = serve()
    gql = await anext(again)
    try:
        clock.move(timedelta(minutes=2))  # the flush is due

        async def stored() -> bool:
            return (await Disclosure.get(id=_pk(d["id"]))).view_count >= 3

        await eventually(stored)
        assert (await Disclosure.get(id=_pk(d["id"]))).view_count == 3
        assert (await gql.data(query, {"id": d["id"]}))["disclosure"]["viewCount"] >= 3
    finally:
        await again.aclose()


async def test_a_run_missed_while_everything_was_down_runs_once_on_start(app, clock):
    # The daily prune last ran three days ago: the slots since are due, and run once.
    three_days = clock() - timedelta(days=3)
    await JobSlot.create(name="prune_jobs", slot=three_days, created_at=three_days)

    async def ran() -> Any:
        return await Job.filter(kind="prune_jobs", status=JobStatus.DONE).count()

    await eventually(ran)
    await asyncio.sleep(0.3)
    assert await Job.filter(kind="prune_jobs").count() == 1
    assert await JobSlot.filter(name="prune_jobs").count() == 2


async def test_monthly_jobs_run_at_nine_in_beijing_on_their_day(app, clock):
    local = clock().astimezone(SHANGHAI)
    fifth = datetime(local.year, local.month, 5, 9, tzinfo=SHANGHAI)
    if fifth <= local:
        fifth = datetime(
            local.year + local.month // 12, local.month % 12 + 1, 5, 9, tzinfo=SHANGHAI
        )
    fifth = fifth.astimezone(UTC)
    await asyncio.sleep(0.3)  # the start-up ticks record the latest slots
    clock.move(fifth - clock() - timedelta(minutes=1))
    await asyncio.sleep(0.3)
    assert not await JobSlot.exists(name="remind_clerks", slot=fifth)
    clock.move(timedelta(minutes=2))

    async def reminded() -> Any:
        slot = await JobSlot.get_or_none(name="remind_clerks", slot=fifth)
        return slot and await Job.exists(id=slot.job_id, status=JobStatus.DONE)

    await eventually(reminded)
    assert fifth.hour == 1  # 09:00 in Beijing


async def test_finished_jobs_are_pruned_by_the_daily_job(app, clock):
    ids = await enqueue_many([NewJob("probe_effect", {"dir": "/nonexistent"})])
    await Job.filter(id__in=ids).update(
        status=JobStatus.DONE, finished_at=clock() - timedelta(days=30)
    )
    clock.move(timedelta(days=1, hours=1))  # past the next daily slot

    async def pruned() -> bool:
        return not await Job.exists(id=ids[0])

    await eventually(pruned)


@pytest.fixture
async def quiet_app(settings: Settings) -> AsyncIterator[Any]:
    """The database open and nothing else using it, so a test knows where its task waits."""
    application = create_app(settings.with_overrides(jobs=False))
    async with application.router.lifespan_context(application):
        yield application


async def test_a_transaction_cancelled_as_it_begins_leaves_the_database_usable(quiet_app):
    """A stopping worker cancels its handlers; on SQLite one cancelled between taking the
    connection's lock and BEGIN used to keep the lock, and the shutdown then hung."""

    async def handler() -> None:
        async with in_transaction():
            await Job.filter(kind="none").count()

    for _ in range(3):
        task = asyncio.create_task(handler())
        await asyncio.sleep(0)  # the task now waits on BEGIN, holding the connection
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.wait_for(Job.filter(kind="none").count(), 5) == 0
        async with asyncio.timeout(5):
            async with in_transaction():
                await enqueue("probe_fail", run_at=datetime(2099, 1, 1, tzinfo=UTC))
    assert await Job.filter(kind="probe_fail").count() == 3
    # PostgreSQL: a cancelled BEGIN kept its pool connection for good (closing the pool then
    # waited for it); every connection is back in the pool now
    pool = getattr(Tortoise.get_connection("default"), "_pool", None)
    if pool is not None and hasattr(pool, "get_idle_size"):
        assert pool.get_idle_size() == pool.get_size()


async def test_enqueued_jobs_commit_or_roll_back_with_the_change(app, tmp_path):
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await enqueue(
                "probe_effect", {"dir": str(tmp_path)}, run_at=datetime(2099, 1, 1, tzinfo=UTC)
            )
            raise RuntimeError("the domain change failed")
    assert await Job.filter(kind="probe_effect").count() == 0
    async with in_transaction():
        first = await enqueue(
            "probe_effect",
            {"dir": str(tmp_path)},
            unique_key="k",
            run_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
        twin = await enqueue("probe_effect", {"dir": str(tmp_path)}, unique_key="k")
    assert first is not None and twin is None  # a live job holds the key
    many = await enqueue_many(
        [
            NewJob("probe_effect", {"dir": str(tmp_path), "n": n}, datetime(2099, 1, 1, tzinfo=UTC))
            for n in range(1200)
        ]
    )
    assert len(many) == 1200 and await Job.filter(kind="probe_effect").count() == 1201


def test_backoff_grows_exponentially_with_full_jitter():
    for attempts in range(1, 8):
        waits = [backoff(attempts, 2.0, 60.0) for _ in range(200)]
        assert all(0 <= w <= min(60.0, 2.0 * 2 ** (attempts - 1)) for w in waits)
        assert len(set(waits)) > 150  # jittered, not one value


async def test_a_job_that_keeps_failing_ends_dead_and_an_admin_retries_it(gql, demo, settings):
    job_id = await enqueue("probe_fail", max_attempts=3)
    assert job_id is not None

    async def dead() -> bool:
        return await Job.exists(id=job_id, status=JobStatus.DEAD)

    await eventually(dead)
    job = await Job.get(id=job_id)
    assert job.attempts == 3 and "probe failure on attempt 3" in (job.last_error or "")

    root = await root_admin(gql, settings)
    listed = await gql.data(JOBS, {"s": "DEAD"}, token=root)
    nodes = [e["node"] for e in listed["jobs"]["edges"]]
    assert [n["id"] for n in nodes] == [gid("Job", job_id)]
    assert nodes[0]["kind"] == "probe_fail" and nodes[0]["status"] == "DEAD"
    assert (await gql.data(JOBS, {"s": "DEAD", "k": "other"}, token=root))["jobs"]["edges"] == []

    out = await gql.mutate("retryJob", RETRY, {"id": gid("Job", job_id)}, token=root)
    assert out["errors"] == [] and out["job"]["status"] == "QUEUED" and out["job"]["attempts"] == 0
    entry = await AuditEntry.get(action="job.retry", object_id=str(job_id))
    assert entry.before["status"] == "dead" and entry.actor_id is not None
    await eventually(dead)  # it fails again, three more times
    assert (await Job.get(id=job_id)).attempts == 3

    # only dead jobs are retried; a wrong id is a user error
    done = await enqueue("probe_effect", {"dir": str(settings.data_dir)})
    await eventually(lambda: Job.exists(id=done, status=JobStatus.DONE))
    out = await gql.mutate("retryJob", RETRY, {"id": gid("Job", done)}, token=root)
    assert out["errors"] == [{"code": "WRONG_STATUS", "field": "id"}]
    out = await gql.mutate("retryJob", RETRY, {"id": gid("Job", 999_999)}, token=root)
    assert out["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    out = await gql.mutate("retryJob", RETRY, {"id": gid("Region", 1)}, token=root)
    assert out["errors"] == [{"code": "WRONG_KIND", "field": "id"}]


async def test_only_system_admins_see_jobs_and_the_scheduler(gql, demo, settings):
    job_id = await enqueue("probe_fail", max_attempts=1)
    await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DEAD))
    node = "query($id: ID!) { node(id: $id) { id } }"
    for phone in (ADMIN, OFFICIAL, CLERK, VILLAGER):  # ADMIN: a county's admin
        token = await gql.login(phone)
        assert error_codes(await gql(JOBS, {}, token=token)) == ["FORBIDDEN"]
        assert error_codes(await gql(STATUS, token=token)) == ["FORBIDDEN"]
        body = await gql(RETRY, {"input": {"id": gid("Job", job_id)}}, token=token)
        assert error_codes(body) == ["FORBIDDEN"]
        assert error_codes(await gql(node, {"id": gid("Job", job_id)}, token=token)) == [
            "NOT_FOUND"
        ]
    assert error_codes(await gql(JOBS, {})) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(STATUS)) == ["UNAUTHENTICATED"]
    body = await gql(RETRY, {"input": {"id": gid("Job", job_id)}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert (await Job.get(id=job_id)).status == JobStatus.DEAD  # nothing changed
    root = await root_admin(gql, settings)
    assert (await gql.data(node, {"id": gid("Job", job_id)}, token=root))["node"]


async def test_scheduler_status_shows_each_jobs_last_and_next_run(gql, demo, settings, clock):
    root = await root_admin(gql, settings)

    async def all_ran() -> Any:
        rows = (await gql.data(STATUS, token=root))["schedulerStatus"]
        every_minute = [r for r in rows if r["name"] in ("publish_due", "flush_views")]
        done = all(r["lastRun"] and r["lastRun"]["status"] == "DONE" for r in every_minute)
        return rows if done else None

    rows = await eventually(all_ran)
    names = {r["name"] for r in rows}
    assert {"publish_due", "escalate_overdue_flags", "flush_views", "refresh_stats"} <= names
    assert {"purge_idempotency_keys", "delete_orphan_media", "prune_jobs"} <= names
    now = clock()
    for row in rows:
        assert datetime.fromisoformat(row["nextRun"]) > now
    publish = next(r for r in rows if r["name"] == "publish_due")["lastRun"]
    assert publish["durationMs"] >= 0 and publish["job"]["id"]
    assert datetime.fromisoformat(publish["slot"]) <= now


async def test_a_stopping_worker_finishes_or_hands_back_its_jobs(settings, tmp_path):
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        quick = await enqueue("probe_effect", {"dir": str(tmp_path), "sleep": 0.2})
        stuck = await enqueue("probe_effect", {"dir": str(tmp_path), "block": True})
        await eventually(lambda: Job.exists(id=stuck, status=JobStatus.RUNNING))
        await eventually(lambda: Job.exists(id=quick, status=JobStatus.RUNNING))
    # opened again only to read: the app closed its connections
    reader = create_app(settings.with_overrides(jobs=False))
    async with reader.router.lifespan_context(reader):
        assert (await Job.get(id=quick)).status == JobStatus.DONE
        handed_back = await Job.get(id=stuck)
        assert handed_back.status == JobStatus.QUEUED and handed_back.attempts == 0
        assert handed_back.lease_owner is None


async def test_a_job_longer_than_its_lease_keeps_it_by_renewing(settings, tmp_path):
    application = create_app(settings.with_overrides(job_lease_seconds=0.6))
    async with application.router.lifespan_context(application):
        job_id = await enqueue("probe_effect", {"dir": str(tmp_path), "sleep": 1.5})
        await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DONE))
        assert (await Job.get(id=job_id)).attempts == 1
    assert [line.split()[0] for line in (tmp_path / "log").read_text().splitlines()] == [
        "start",
        "effect",
    ]


def test_api_processes_can_leave_the_jobs_to_workers(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}
    assert Settings.from_env({**env, "CUNWU_JOBS": "0"}).jobs is False
    assert Settings.from_env(env).jobs is True


# -- real worker processes (PostgreSQL: SQLite runs its jobs inside the one app process) --


def worker_env(settings: Settings, probe_dir: Path, modules: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url or "",
        REDIS_PREFIX=settings.redis_prefix,
        SECRET_KEY=settings.secret_key,
        DATA_DIR=str(probe_dir),
        CUNWU_JOB_MODULES=modules,
        JOB_POLL_SECONDS="0.05",
        JOB_LEASE_SECONDS="1",
        JOB_STOP_GRACE_SECONDS="1",
        PROBE_DIR=str(probe_dir),
    )
    return env


async def start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.worker",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert line.strip() == b"worker ready", line
    return process


async def stop_worker(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    if process.returncode is None:
        process.send_signal(sig)
    await asyncio.wait_for(process.wait(), 20)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Settings]:
    """The test's database open in this process, with no jobs running here."""
    if settings.is_sqlite:
        pytest.skip("worker processes need PostgreSQL")
    application = create_app(settings.with_overrides(jobs=False))
    async with application.router.lifespan_context(application):
        yield settings


async def test_two_scheduler_processes_run_each_slot_once(database, tmp_path):
    env = worker_env(database, tmp_path, "tests.job_probe_schedule")
    workers = [await start_worker(env), await start_worker(env)]
    try:
        await asyncio.sleep(4.5)
    finally:
        for process in workers:
            await stop_worker(process)
    lines = (tmp_path / "log").read_text().splitlines()
    slots = [line.split()[1] for line in lines]
    assert len(slots) >= 3 and len(set(slots)) == len(slots), lines
    recorded = await JobSlot.filter(name="probe_tick").values_list("slot", "job_id")
    ran = {datetime.fromisoformat(slot) for slot in slots}
    assert ran <= {slot for slot, _ in recorded}
    for slot, job_id in recorded:
        if slot not in ran:  # recorded as the workers stopped: its job waits, it is not lost
            assert job_id is None or (await Job.get(id=job_id)).status != JobStatus.DONE
    # every other periodic job also got exactly one row per slot and one job per row
    for slot in await JobSlot.all():
        assert slot.job_id is None or await Job.exists(id=slot.job_id, kind=slot.name)


async def test_a_worker_killed_mid_job_leaves_it_to_another_and_the_effect_happens_once(
    database, tmp_path
):
    env = worker_env(database, tmp_path, "tests.job_probes")
    first = await start_worker(env)
    try:
        job_id = await enqueue("probe_effect", {"dir": str(tmp_path), "block": True})

        async def effect_done() -> bool:
            log = tmp_path / "log"
            return log.exists() and "effect" in log.read_text()

        await eventually(effect_done)
    finally:
        await stop_worker(first, signal.SIGKILL)  # after the effect, before the acknowledgement
    assert (await Job.get(id=job_id)).status == JobStatus.RUNNING
    second = await start_worker(env)
    try:
        await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DONE))
    finally:
        await stop_worker(second)
    lines = (tmp_path / "log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "effect", "start"]
    assert lines[0].split()[2] == str(first.pid) and lines[2].split()[2] == str(second.pid)
    assert (await Job.get(id=job_id)).attempts == 2
