"""The queue's statements: enqueue (in the caller's transaction), claim, acknowledge, retry.

Hand-written SQL for the hot paths: one INSERT for many jobs, one UPDATE … RETURNING to
claim a batch (`FOR UPDATE SKIP LOCKED` on PostgreSQL), one UPDATE to acknowledge many.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

from models.jobs import Job, JobStatus
from models.sql import Params, is_postgres

Clock = Callable[[], datetime]
DEFAULT_MAX_ATTEMPTS = 5
SQLITE_ROWS_PER_INSERT = 500  # 8 parameters a row, under SQLite's 32,766


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class NewJob:
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    run_at: datetime | None = None
    unique_key: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


# In-process runners waiting for work: woken on enqueue (the row may not be committed yet;
# a runner that finds nothing just polls again).
_wakers: list[Callable[[], None]] = []


def on_enqueue(callback: Callable[[], None]) -> Callable[[], None]:
    _wakers.append(callback)
    return lambda: _wakers.remove(callback)


def _connection() -> BaseDBAsyncClient:
    # inside `in_transaction()` this is the transaction's connection: the job commits with it
    return Tortoise.get_connection("default")


async def enqueue(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    unique_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: datetime | None = None,
) -> int | None:
    """Queue one job in the current transaction; None when a live job holds `unique_key`."""
    ids = await enqueue_many([NewJob(kind, payload or {}, run_at, unique_key, max_attempts)], now)
    return ids[0] if ids else None


async def enqueue_many(jobs: Iterable[NewJob], now: datetime | None = None) -> list[int]:
    """Queue many jobs with one INSERT (SQLite: one per 500 rows); returns the new ids,
    leaving out those a live job with the same `unique_key` already covers."""
    # UTC only: SQLite compares the stored text, and "+08:00" does not sort with "+00:00"
    now = (now or utc_now()).astimezone(UTC)
    rows = [
        (
            j.kind,
            json.dumps(j.payload, ensure_ascii=False, allow_nan=False),  # jsonb has no NaN
            (j.run_at or now).astimezone(UTC),
            j.max_attempts,
            j.unique_key,
        )
        for j in jobs
    ]
    if not rows:
        return []
    conn = _connection()
    ids: list[int] = []
    if is_postgres(conn):
        kinds, payloads, run_ats, maxes, keys = (list(c) for c in zip(*rows, strict=True))
        found = await conn.execute_query_dict(
            "INSERT INTO job (kind, payload, status, run_at, attempts, max_attempts,"
            " unique_key, created_at)"
            " SELECT k, p::jsonb, 'queued', r, 0, m, u, $6"
            " FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[], $5::text[])"
            " AS t(k, p, r, m, u)"
            " ON CONFLICT (unique_key) DO NOTHING RETURNING id",
            [kinds, payloads, run_ats, maxes, keys, now],
        )
        ids = [r["id"] for r in found]
    else:
        for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
            chunk = rows[start : start + SQLITE_ROWS_PER_INSERT]
            values: list[Any] = []
            for kind, payload, run_at, max_attempts, key in chunk:
                values += [kind, payload, run_at, max_attempts, key, now]
            marks = ", ".join(["(?, ?, 'queued', ?, 0, ?, ?, ?)"] * len(chunk))
            found = await conn.execute_query_dict(
                "INSERT INTO job (kind, payload, status, run_at, attempts, max_attempts,"
                f" unique_key, created_at) VALUES {marks}"
                " ON CONFLICT (unique_key) DO NOTHING RETURNING id",
                values,
            )
            ids += [r["id"] for r in found]
    for wake in list(_wakers):
        wake()
    return ids


async def claim(owner: str, limit: int, lease: timedelta, now: datetime) -> list[Claimed]:
    """Lease up to `limit` due jobs to `owner`, oldest first."""
    conn = _connection()
    p = Params(is_postgres(conn))
    lock = " FOR UPDATE SKIP LOCKED" if p.postgres else ""
    sql = (
        f"UPDATE job SET status = 'running', attempts = attempts + 1, lease_owner = {p(owner)},"
        f" lease_expires_at = {p(now + lease)}, started_at = {p(now)}"
        " WHERE id IN (SELECT id FROM job WHERE status = 'queued'"
        f" AND run_at <= {p(now)} ORDER BY run_at, id LIMIT {p(limit)}{lock})"
        " RETURNING id, kind, payload, attempts, max_attempts"
    )
    return _claimed(await conn.execute_query_dict(sql, p.values))


async def reclaim_expired(
    owner: str, limit: int, lease: timedelta, now: datetime, running: Sequence[int] = ()
) -> list[Claimed]:
    """Jobs whose worker died (its lease ran out): dead when out of attempts, else leased
    again to `owner`. `running`: the jobs `owner` still runs, never taken from itself (its
    clock may have jumped past their leases; its lease loop renews them)."""
    conn = _connection()
    p = Params(is_postgres(conn))
    await conn.execute_query(
        f"UPDATE job SET status = 'dead', finished_at = {p(now)}, lease_owner = NULL,"
        " lease_expires_at = NULL, unique_key = NULL,"
        " last_error = 'the worker running it stopped (lease expired) on its last attempt'"
        f" WHERE status = 'running' AND lease_expires_at < {p(now)}"
        f" AND attempts >= max_attempts{_not_running(p, owner, running)}",
        p.values,
    )
    p = Params(p.postgres)
    lock = " FOR UPDATE SKIP LOCKED" if p.postgres else ""
    sql = (
        f"UPDATE job SET attempts = attempts + 1, lease_owner = {p(owner)},"
        f" lease_expires_at = {p(now + lease)}, started_at = {p(now)}"
        " WHERE id IN (SELECT id FROM job WHERE status = 'running'"
        f" AND lease_expires_at < {p(now)}{_not_running(p, owner, running)}"
        f" ORDER BY id LIMIT {p(limit)}{lock})"
        " RETURNING id, kind, payload, attempts, max_attempts"
    )
    return _claimed(await conn.execute_query_dict(sql, p.values))


def _not_running(p: Params, owner: str, running: Sequence[int]) -> str:
    if not running:
        return ""
    return f" AND NOT (lease_owner = {p(owner)} AND id IN ({p.many(list(running))}))"


def _claimed(rows: Sequence[dict[str, Any]]) -> list[Claimed]:
    out = []
    for r in rows:
        payload = r["payload"]
        if isinstance(payload, str | bytes):
            payload = json.loads(payload)
        out.append(Claimed(r["id"], r["kind"], payload, r["attempts"], r["max_attempts"]))
    return out


async def renew(owner: str, ids: list[int], lease: timedelta, now: datetime) -> int:
    if not ids:
        return 0
    conn = _connection()
    p = Params(is_postgres(conn))
    count, _ = await conn.execute_query(
        f"UPDATE job SET lease_expires_at = {p(now + lease)}"
        f" WHERE lease_owner = {p(owner)} AND status = 'running' AND id IN ({p.many(ids)})",
        p.values,
    )
    return count


async def complete(owner: str, ids: list[int], now: datetime) -> int:
    """Acknowledge finished jobs, unless another worker took them over meanwhile."""
    if not ids:
        return 0
    conn = _connection()
    p = Params(is_postgres(conn))
    count, _ = await conn.execute_query(
        f"UPDATE job SET status = 'done', finished_at = {p(now)}, lease_owner = NULL,"
        " lease_expires_at = NULL, unique_key = NULL"
        f" WHERE lease_owner = {p(owner)} AND status = 'running' AND id IN ({p.many(ids)})",
        p.values,
    )
    return count


def backoff(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniformly up to base · 2^(attempts-1), capped."""
    return random.uniform(0, min(cap, base * 2 ** max(attempts - 1, 0)))


async def fail(
    owner: str, job: Claimed, error: str, now: datetime, base: float, cap: float
) -> JobStatus:
    """Queue the job again after a backoff, or leave it dead when out of attempts."""
    dead = job.attempts >= job.max_attempts
    conn = _connection()
    p = Params(is_postgres(conn))
    if dead:
        sets = f"status = 'dead', finished_at = {p(now)}, unique_key = NULL"
    else:
        later = now + timedelta(seconds=backoff(job.attempts, base, cap))
        sets = f"status = 'queued', run_at = {p(later)}"
    await conn.execute_query(
        f"UPDATE job SET {sets}, lease_owner = NULL, lease_expires_at = NULL,"
        f" last_error = {p(error[:4000])}"
        f" WHERE id = {p(job.id)} AND lease_owner = {p(owner)} AND status = 'running'",
        p.values,
    )
    return JobStatus.DEAD if dead else JobStatus.QUEUED


async def release(owner: str, ids: list[int]) -> int:
    """A stopping worker hands its unfinished jobs back (the attempt does not count)."""
    if not ids:
        return 0
    conn = _connection()
    p = Params(is_postgres(conn))
    count, _ = await conn.execute_query(
        "UPDATE job SET status = 'queued', attempts = attempts - 1, lease_owner = NULL,"
        f" lease_expires_at = NULL WHERE lease_owner = {p(owner)} AND status = 'running'"
        f" AND id IN ({p.many(ids)})",
        p.values,
    )
    return count


async def prune(now: datetime, keep: timedelta) -> int:
    """Forget jobs finished more than `keep` ago (dead ones stay until retried)."""
    return await Job.filter(status=JobStatus.DONE, finished_at__lt=now - keep).delete()
