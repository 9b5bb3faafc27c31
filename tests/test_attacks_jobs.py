# ruff: noqa: F811  (the fixtures imported from tests.test_jobs are used as arguments)
"""Attacks on the job queue and the scheduler (issue 13): a hostile client, a curious admin,
someone with database access and a careless operator. Each attempt is kept, held or fixed."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.accounts import Role, RoleGrant
from models.disclosures.publishing import publish_due
from models.flags import Flag
from models.jobs import Job, JobSlot, JobStatus
from models.jobs.queue import enqueue
from models.notifications import NotificationEvent
from tests.client import error_codes
from tests.test_disclosures import ADMIN, CLERK, OFFICIAL, STEP, VILLAGER, draft, gid, published
from tests.test_flags import _pk, raise_flag
from tests.test_jobs import (  # noqa: F401 (fixtures)
    JOBS,
    RETRY,
    clock,
    database,
    eventually,
    quiet_app,
    root_admin,
    settings,
    start_worker,
    stop_worker,
    worker_env,
)

FAR = datetime(2099, 1, 1, tzinfo=UTC)


# -- someone with database access --


async def test_a_slot_row_forged_in_the_future_does_not_block_real_runs(gql, demo, settings):
    """A `(publish_due, 2099)` row inserted by hand (or by a worker whose clock ran ahead)
    must not make every later tick think the newest slot already ran."""
    # the app of the `gql` fixture already ticked once; the forged row comes after
    await JobSlot.create(name="publish_due", slot=FAR, created_at=FAR)
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0])
    soon = (settings.clock() + timedelta(minutes=1)).isoformat()
    await gql.mutate(
        "publishDisclosure",
        STEP % ("PublishDisclosure", "publishDisclosure"),
        {"id": d["id"], "publishAt": soon},
        token=clerk,
    )
    settings.clock.move(timedelta(minutes=3))
    query = "query($id: ID!) { disclosure(id: $id) { status } }"

    async def out() -> bool:
        return (await gql.data(query, {"id": d["id"]}, token=clerk))["disclosure"][
            "status"
        ] == "PUBLISHED"

    await eventually(out)


async def test_a_future_slot_present_at_start_does_not_block_the_missed_run(settings):
    from api.app import create_app

    quiet = create_app(settings.with_overrides(jobs=False))
    async with quiet.router.lifespan_context(quiet):
        await JobSlot.create(name="prune_jobs", slot=FAR, created_at=FAR)
        await JobSlot.create(
            name="prune_jobs",
            slot=settings.clock() - timedelta(days=3),
            created_at=settings.clock() - timedelta(days=3),
        )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await eventually(lambda: Job.exists(kind="prune_jobs", status=JobStatus.DONE))


async def test_a_job_row_deleted_mid_run_does_not_stop_the_worker(app, tmp_path):
    slow = await enqueue("probe_effect", {"dir": str(tmp_path), "sleep": 0.5})
    await eventually(lambda: Job.exists(id=slow, status=JobStatus.RUNNING))
    await Job.filter(id=slow).delete()
    failing = await enqueue("probe_fail", max_attempts=1)
    await eventually(lambda: Job.exists(id=failing, status=JobStatus.DEAD))
    after = await enqueue("probe_effect", {"dir": str(tmp_path)})
    await eventually(lambda: Job.exists(id=after, status=JobStatus.DONE))
    assert not await Job.exists(id=slow)  # the acknowledgement did not bring it back
    assert (tmp_path / f"effect-{slow}").exists()


async def test_a_job_whose_kind_no_longer_exists_ends_dead_and_says_why(app):
    job_id = await enqueue("renamed_long_ago", {"x": 1}, max_attempts=2)
    await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DEAD))
    job = await Job.get(id=job_id)
    assert job.attempts == 2 and "no handler for job kind 'renamed_long_ago'" in (
        job.last_error or ""
    )


async def test_a_payload_that_is_not_json_is_refused_before_anything_is_written(quiet_app):
    from tortoise.transactions import in_transaction

    with pytest.raises(TypeError):
        async with in_transaction():
            await enqueue("probe_effect", {"when": datetime.now(UTC)})
    with pytest.raises(ValueError):
        await enqueue("probe_effect", {"n": float("nan")})
    assert await Job.all().count() == 0


async def test_a_huge_payload_is_stored_and_run_once(app, tmp_path):
    blob = "村" * 2_000_000  # 6 MB of UTF-8
    job_id = await enqueue("probe_effect", {"dir": str(tmp_path), "blob": blob})
    await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DONE))
    assert (await Job.get(id=job_id)).payload["blob"] == blob
    lines = (tmp_path / "log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "effect"]


# -- a careless operator, a jumping clock --


async def test_a_clock_jump_past_the_lease_does_not_run_a_running_job_twice(settings, tmp_path):
    """The worker's clock moves past the lease of a job it is still running (NTP step, or a
    test's clock): it must not reclaim its own job and start the handler a second time."""
    from api.app import create_app

    application = create_app(settings.with_overrides(job_lease_seconds=2.0))
    async with application.router.lifespan_context(application):
        job_id = await enqueue("probe_effect", {"dir": str(tmp_path), "sleep": 2.5})
        await eventually(lambda: Job.exists(id=job_id, status=JobStatus.RUNNING))
        settings.clock.move(timedelta(hours=1))  # its lease looks expired to its own worker
        await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DONE))
    lines = (tmp_path / "log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "effect"]


def test_a_worker_refuses_to_start_against_sqlite(tmp_path):
    import subprocess
    import sys

    from tests.test_jobs import ROOT

    env = {
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "k" * 40,
        "DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "scripts.worker"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0 and b"needs PostgreSQL" in done.stderr
    assert not (tmp_path / "db.sqlite3").exists()


# -- a curious admin, a hostile client --


async def township_admin(gql: Any, demo: Any) -> str:
    await RoleGrant.create(user=demo.users["OFFICIAL"], role=Role.ADMIN, region=demo.townships[0])
    return await gql.login(OFFICIAL)


async def test_retry_job_is_refused_for_live_jobs_other_kinds_and_regional_admins(
    gql, demo, settings, tmp_path
):
    root = await root_admin(gql, settings)
    queued = await enqueue("probe_effect", {"dir": str(tmp_path)}, run_at=FAR)
    running = await enqueue("probe_effect", {"dir": str(tmp_path), "block": True})
    await eventually(lambda: Job.exists(id=running, status=JobStatus.RUNNING))
    for job_id in (queued, running):
        out = await gql.mutate("retryJob", RETRY, {"id": gid("Job", job_id)}, token=root)
        assert out["errors"] == [{"code": "WRONG_STATUS", "field": "id"}]
    before = {
        j.id: (j.status, j.attempts, j.run_at) for j in await Job.filter(id__in=[queued, running])
    }

    dead = await enqueue("probe_fail", max_attempts=1)
    await eventually(lambda: Job.exists(id=dead, status=JobStatus.DEAD))
    flag = await raise_flag(
        gql,
        await gql.login(VILLAGER),
        (await published(gql, await gql.login(CLERK), demo.villages[0]))["id"],
    )
    for other in (gid("Flag", _pk(flag["id"])), gid("User", dead), "not-a-global-id", ""):
        body = await gql(RETRY, {"input": {"id": other}}, token=root)
        assert "errors" not in body or error_codes(body) != ["INTERNAL_SERVER_ERROR"], body
        if "errors" not in body:
            assert body["data"]["retryJob"]["errors"], body
    for token in (await gql.login(ADMIN), await township_admin(gql, demo)):
        body = await gql(RETRY, {"input": {"id": gid("Job", dead)}}, token=token)
        assert error_codes(body) == ["FORBIDDEN"]
        assert error_codes(await gql(JOBS, {}, token=token)) == ["FORBIDDEN"]
    assert (await Job.get(id=dead)).status == JobStatus.DEAD
    after = {j.id: (j.status, j.attempts, j.run_at) for j in await Job.filter(id__in=list(before))}
    assert after == before


async def test_a_retried_job_runs_once_even_when_retried_twice_at_once(
    gql, demo, settings, tmp_path
):
    root = await root_admin(gql, settings)
    job_id = await enqueue("probe_fail", max_attempts=1)
    await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DEAD))
    outs = await asyncio.gather(
        *[gql.mutate("retryJob", RETRY, {"id": gid("Job", job_id)}, token=root) for _ in range(4)]
    )
    ok = [o for o in outs if not o["errors"]]
    assert len(ok) >= 1
    await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DEAD))
    await asyncio.sleep(0.3)
    job = await Job.get(id=job_id)
    assert job.status == JobStatus.DEAD and job.attempts == 1


async def test_forged_job_cursors_are_user_errors(gql, demo, settings):
    root = await root_admin(gql, settings)
    for n in range(3):
        await enqueue("probe_fail", {"n": n}, run_at=FAR)
    page = await gql.data(JOBS, {"first": 1}, token=root)
    assert page["jobs"]["pageInfo"]["hasNextPage"]
    import base64

    forged = [
        "garbage",
        base64.b64encode(b"arrayconnection:-5").decode(),
        base64.b64encode(b"\x00\xff").decode(),
        base64.b64encode(b"x" * 10_000).decode(),
        base64.b64encode(b"99999999999999999999999999").decode(),
        "'; DROP TABLE job; --",
    ]
    for cursor in forged:
        body = await gql(JOBS, {"first": 2, "after": cursor}, token=root)
        codes = error_codes(body) if body.get("errors") else []
        assert "INTERNAL_SERVER_ERROR" not in codes, (cursor, body)
    for first in (-1, 10_000):
        body = await gql(JOBS, {"first": first}, token=root)
        assert error_codes(body) and "INTERNAL_SERVER_ERROR" not in error_codes(body)
    assert await Job.all().count() >= 3
    body = await gql(JOBS, {"s": "ZOMBIE"}, token=root)
    assert body.get("errors") and "data" not in body or body["data"] is None


async def test_no_job_or_reminder_payload_names_the_flagger(gql, demo, settings):
    """An admin reading `jobs`, or an official reading a reminder, learns nothing of who
    raised a flag."""
    root = await root_admin(gql, settings)
    item = await published(gql, await gql.login(CLERK), demo.villages[0])
    flag = await raise_flag(gql, await gql.login(VILLAGER), item["id"])
    stored = await Flag.get(id=_pk(flag["id"]))
    villager = demo.users["VILLAGER"]
    # the day before the deadline, then past it: reminded, then escalated by the jobs
    settings.clock.move(stored.due_at - settings.clock() - timedelta(hours=20))
    await eventually(lambda: Flag.exists(id=stored.id, reminded_at__isnull=False), within=20)
    settings.clock.move(timedelta(days=2))
    await eventually(lambda: Flag.exists(id=stored.id, escalated_at__isnull=False), within=20)
    secrets = {VILLAGER, villager.name, gid("User", villager.id)}  # (ids are small numbers)
    listed = await gql.data(JOBS, {"first": 50}, token=root)
    text = json.dumps(listed, ensure_ascii=False)
    for job in await Job.all():
        text += json.dumps(job.payload, ensure_ascii=False) + (job.last_error or "")
    for event in await NotificationEvent.exclude(user_id=villager.id):
        text += json.dumps(event.payload, ensure_ascii=False, default=str)
    for secret in secrets:
        assert secret not in text, secret


async def test_scheduled_work_happens_once_under_repeated_slots(gql, demo, settings):
    """Publish, escalate and remind run many slots over; each effect happens once."""
    from models.audit import AuditEntry

    item = await published(gql, await gql.login(CLERK), demo.villages[0])
    flag = await raise_flag(gql, await gql.login(VILLAGER), item["id"])
    stored = await Flag.get(id=_pk(flag["id"]))
    settings.clock.move(stored.due_at - settings.clock() - timedelta(hours=20))
    await eventually(lambda: Flag.exists(id=stored.id, reminded_at__isnull=False), within=20)
    for _ in range(3):
        settings.clock.move(timedelta(hours=1, minutes=1))
        await asyncio.sleep(0.3)
    settings.clock.move(timedelta(days=2))
    await eventually(lambda: Flag.exists(id=stored.id, escalated_at__isnull=False), within=20)
    for _ in range(3):
        settings.clock.move(timedelta(minutes=11))
        await asyncio.sleep(0.3)
    assert await AuditEntry.filter(action="flag.remind", object_id=str(stored.id)).count() == 1
    assert await AuditEntry.filter(action="flag.escalate", object_id=str(stored.id)).count() == 1
    assert await NotificationEvent.filter(kind="FLAG_DUE_SOON", subject_id=stored.id).count() >= 1
    due_soon = await NotificationEvent.filter(kind="FLAG_DUE_SOON").values_list(
        "user_id", flat=True
    )
    assert len(due_soon) == len(set(due_soon))  # one per official


async def test_publish_due_run_twice_at_once_publishes_once(gql, demo, settings):
    """A retried publish_due running next to the scheduled one (two workers): one version."""
    from models.audit import AuditEntry
    from models.disclosures import Disclosure

    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0])
    soon = (settings.clock() + timedelta(hours=3)).isoformat()
    await gql.mutate(
        "publishDisclosure",
        STEP % ("PublishDisclosure", "publishDisclosure"),
        {"id": d["id"], "publishAt": soon},
        token=clerk,
    )
    later = settings.clock() + timedelta(hours=4)
    results = await asyncio.gather(*[publish_due(now=later) for _ in range(3)])
    assert sum(results) == 1
    row = await Disclosure.get(id=_pk(d["id"]))
    assert row.version == 1
    assert await AuditEntry.filter(action="disclosure.publish", object_id=str(row.id)).count() == 1


# -- PostgreSQL, real worker processes --


async def test_a_worker_killed_while_failing_leaves_no_stuck_job(database, tmp_path):
    env = worker_env(database, tmp_path, "tests.job_probes")
    first = await start_worker(env)
    job_id = await enqueue("probe_effect", {"dir": str(tmp_path), "block": True}, max_attempts=1)
    try:
        await eventually(lambda: Job.exists(id=job_id, status=JobStatus.RUNNING))
        # RUNNING comes before the handler's first line: a kill in between left no log
        log = tmp_path / "log"
        await eventually(lambda: _true(log.exists() and "start" in log.read_text()))
    finally:
        await stop_worker(first, signal.SIGKILL)
    second = await start_worker(env)
    try:
        # out of attempts: dead, not run a second time and not stuck RUNNING forever
        await eventually(lambda: Job.exists(id=job_id, status=JobStatus.DEAD))
    finally:
        await stop_worker(second)
    job = await Job.get(id=job_id)
    assert "lease expired" in (job.last_error or "") and job.lease_owner is None
    starts = [ln for ln in (tmp_path / "log").read_text().splitlines() if ln.startswith("start")]
    assert len(starts) == 1


async def test_the_daily_sweep_keeps_a_scheduled_disclosures_attachment(app, gql, demo, settings):
    """The orphan sweep runs (by the scheduler) while a disclosure with a photo waits for its
    publication time, then again after it is published: the photo stays throughout."""
    from models.disclosures import Category
    from models.disclosures.workflow import create_disclosure
    from models.media import Media
    from models.policy import viewer_for_user
    from tests import media_files
    from tests.test_scheduled_state import SOURCE, clerk_upload

    store = app.state.services.media
    photo = await clerk_upload(demo, store, media_files.phone_jpeg(orientation=1))
    clerk = await viewer_for_user(demo.users["CLERK"], SOURCE)
    d = await create_disclosure(
        clerk,
        demo.villages[0].id,
        Category.VILLAGE_AFFAIRS,
        {"title": "村民会议纪要", "body": "会议照片见附件。", "attachment_ids": [photo.id]},
    )
    token = await gql.login(CLERK)
    at = (settings.clock() + timedelta(days=3)).isoformat()
    await gql.mutate(
        "publishDisclosure",
        STEP % ("PublishDisclosure", "publishDisclosure"),
        {"id": gid("Disclosure", d.id), "publishAt": at},
        token=token,
    )
    settings.clock.move(timedelta(days=2))  # a sweep is due (03:30 daily), the item is not

    async def swept() -> bool:
        return await Job.exists(kind="delete_orphan_media", status=JobStatus.DONE)

    await eventually(swept)
    assert await Media.exists(id=photo.id)
    settings.clock.move(timedelta(days=2))
    from models.disclosures import Disclosure, Status

    await eventually(lambda: Disclosure.exists(id=d.id, status=Status.PUBLISHED))
    before = await Job.filter(kind="delete_orphan_media", status=JobStatus.DONE).count()
    settings.clock.move(timedelta(days=1))
    await eventually(lambda: _more(before))
    media = await Media.get(id=photo.id)
    assert media.attached_at is not None


async def _more(before: int) -> bool:
    return await Job.filter(kind="delete_orphan_media", status=JobStatus.DONE).count() > before


async def _true(value: bool) -> bool:
    return value
