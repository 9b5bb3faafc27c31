"""A published disclosure (or a published correction) reaches its village's verified
residents and everyone following that region, one above it or one below it, minus those
who muted its category: a job enqueued with the publication, recording NEW_DISCLOSURE
events with one statement per batch of recipients.

An urgent farming warning (pest, weather), and any correction of one, is recorded as
FARMING_WARNING for the same people muted or not, marked urgent: routing sends it at once
on every channel the reader has not turned OFF, whatever their digest choice.

Plain SQL on table names: models.disclosures imports this package to enqueue the job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models.jobs.handlers import JobContext, job_handler
from models.jobs.queue import enqueue
from models.sql import Params, is_postgres
from notifications.dispatch import enqueue_dispatch

FANOUT = "fanout_disclosure"
KIND = "NEW_DISCLOSURE"
WARNING = "FARMING_WARNING"
BATCH = 5000  # recipients per statement
SEGMENT = 8  # models.regions.SEGMENT: digits per level of a region's path


async def enqueue_fanout(disclosure_id: int, version: int, now: datetime | None = None) -> None:
    """Call in the transaction that publishes `version`: the job commits with it."""
    await enqueue(
        FANOUT,
        {"disclosure_id": disclosure_id, "version": version},
        unique_key=f"{FANOUT}:{disclosure_id}:{version}",
        now=now,
    )


def _ancestors(path: str) -> list[int]:
    return [int(path[i : i + SEGMENT]) for i in range(0, len(path), SEGMENT)]


async def recipients(
    conn: BaseDBAsyncClient,
    region_path: str,
    category: str,
    residents_told: bool = False,
    muted_too: bool = False,
) -> list[int]:
    """Verified, active residents of villages in the region's subtree ∪ active followers
    of the region, its ancestors or its descendants, minus those muting `category` (unless
    `muted_too`: an urgent warning) and minus the residents when they were told already
    (a must-read notice)."""
    p = Params(is_postgres(conn))
    low, high = region_path, str(int(region_path) + 1).zfill(len(region_path))

    def below() -> str:  # placeholders are numbered in order: a fresh pair at each use
        return f"SELECT id FROM region WHERE path >= {p(low)} AND path < {p(high)}"

    def residents() -> str:
        return (
            'SELECT u.id FROM "user" u'
            " WHERE u.is_active AND u.residency_verified_at IS NOT NULL"
            f" AND u.village_id IN ({below()})"
        )

    def muting() -> str:
        return f"SELECT user_id FROM disclosure_mute WHERE category = {p(category)}"

    rows = await conn.execute_query_dict(
        f"{residents()}"
        " UNION"
        ' SELECT f.user_id FROM follow f JOIN "user" u ON u.id = f.user_id AND u.is_active'
        f" WHERE f.region_id IN ({p.many(_ancestors(region_path))}) OR f.region_id IN ({below()})"
        + ("" if muted_too else f" EXCEPT {muting()}")
        + (f" EXCEPT {residents()}" if residents_told else "")
        + " ORDER BY 1",
        p.values,
    )
    return [r["id"] for r in rows]


async def record_batch(
    conn: BaseDBAsyncClient,
    users: Sequence[int],
    subject_id: int,
    payload: dict[str, Any],
    at: datetime,
    kind: str = KIND,
) -> list[tuple[int, int, int]]:
    """One event per user (sorted, distinct), each taking the next number of its user's
    counter: one statement on PostgreSQL, two on SQLite. (user, seq, seq) of each."""
    text = json.dumps(payload, ensure_ascii=False)
    if is_postgres(conn):
        rows = await conn.execute_query_dict(
            "WITH c AS (INSERT INTO notification_counter (user_id, last_seq)"
            " SELECT u, 1 FROM unnest($1::int[]) AS t(u) ORDER BY u"
            " ON CONFLICT (user_id) DO UPDATE SET last_seq = notification_counter.last_seq + 1"
            " RETURNING user_id, last_seq)"
            " INSERT INTO notification_event"
            " (user_id, seq, kind, subject_type, subject_id, payload, created_at)"
            " SELECT user_id, last_seq, $2, 'Disclosure', $3, $4::jsonb, $5 FROM c"
            " RETURNING user_id, seq",
            [list(users), kind, subject_id, text, at],
        )
    else:
        ids = json.dumps(list(users))
        # "WHERE true": SQLite's upsert after a SELECT needs it to parse the ON CONFLICT
        await conn.execute_query(
            "INSERT INTO notification_counter (user_id, last_seq)"
            " SELECT value, 1 FROM json_each(?) WHERE true"
            " ON CONFLICT (user_id) DO UPDATE SET last_seq = last_seq + 1",
            [ids],
        )
        rows = await conn.execute_query_dict(
            "INSERT INTO notification_event"
            " (user_id, seq, kind, subject_type, subject_id, payload, created_at)"
            " SELECT user_id, last_seq, ?, 'Disclosure', ?, ?, ? FROM notification_counter"
            " WHERE user_id IN (SELECT value FROM json_each(?))"
            " RETURNING user_id, seq",
            [kind, subject_id, text, at, ids],
        )
    return sorted((r["user_id"], r["seq"], r["seq"]) for r in rows)


async def claim(
    conn: BaseDBAsyncClient, disclosure_id: int, version: int, now: datetime
) -> int | None:
    """Claim one announcement of a disclosure (a version, or its retraction) in the caller's
    transaction: the claim's id, or None when another run made it."""
    p = Params(is_postgres(conn))
    claimed = await conn.execute_query_dict(
        "INSERT INTO disclosure_fanout (disclosure_id, version, recipients, created_at)"
        f" VALUES ({p(disclosure_id)}, {p(version)}, 0, {p(now)})"
        " ON CONFLICT (disclosure_id, version) DO NOTHING RETURNING id",
        p.values,
    )
    return claimed[0]["id"] if claimed else None


async def fan_out(disclosure_id: int, version: int, now: datetime) -> int:
    """Record the NEW_DISCLOSURE (or FARMING_WARNING) events of one published version, once:
    the claim row and the events commit together, so a second run finds the claim and
    records nothing."""
    now = now.astimezone(UTC)
    async with in_transaction() as conn:
        claimed = await claim(conn, disclosure_id, version, now)
        if claimed is None:
            return 0
        p = Params(is_postgres(conn))
        found = await conn.execute_query_dict(
            "SELECT d.category, d.status, d.version, d.must_read, d.tags, r.path,"
            # this version or an earlier one urgent: a correction of a warning (lifting it
            # too) is told as urgently as the warning was
            " EXISTS (SELECT 1 FROM disclosure_version v WHERE v.disclosure_id = d.id"
            f" AND v.version <= {p(version)} AND v.urgent) AS warning"
            " FROM disclosure d JOIN region r ON r.id = d.region_id"
            f" WHERE d.id = {p(disclosure_id)}",
            p.values,
        )
        # retracted meanwhile, or a newer version whose own job tells the news: nothing
        if not found or found[0]["status"] != "PUBLISHED" or found[0]["version"] != version:
            return 0
        row = found[0]
        # a must-read notice's first version told its residents already (MUST_READ_NOTICE)
        told = bool(row["must_read"]) and row["category"] == "NOTICE" and version == 1
        warning = bool(row["warning"]) and row["category"] == "FARMING"
        users = await recipients(conn, row["path"], row["category"], told, muted_too=warning)
        payload: dict[str, Any] = {
            "category": row["category"],
            "version": version,
            "correction": version > 1,
        }
        if warning:
            payload.update(urgent=True, tags=[t for t in (row["tags"] or "").split(",") if t])
        kind = WARNING if warning else KIND
        for start in range(0, len(users), BATCH):
            ranges = await record_batch(
                conn, users[start : start + BATCH], disclosure_id, payload, now, kind
            )
            await enqueue_dispatch(ranges, now)
        p = Params(is_postgres(conn))
        await conn.execute_query(
            f"UPDATE disclosure_fanout SET recipients = {p(len(users))} WHERE id = {p(claimed)}",
            p.values,
        )
    return len(users)


@job_handler(FANOUT)
async def fanout_job(ctx: JobContext) -> int:
    return await fan_out(int(ctx.payload["disclosure_id"]), int(ctx.payload["version"]), ctx.now)


RETRACTION = "announce_retraction"
RETRACTED = "DISCLOSURE_RETRACTED"
TOLD = ("NEW_DISCLOSURE", "MUST_READ_NOTICE", "FARMING_WARNING")
RETRACTION_CLAIM = 0  # disclosure_fanout's version for the retraction: versions start at 1


async def enqueue_retraction(disclosure_id: int, now: datetime | None = None) -> None:
    """Call in the transaction that retracts: those told of it hear that it was withdrawn."""
    await enqueue(
        RETRACTION,
        {"disclosure_id": disclosure_id},
        unique_key=f"{RETRACTION}:{disclosure_id}",
        now=now,
    )


async def announce_retraction(disclosure_id: int, now: datetime) -> int:
    """Tell everyone who was told of the disclosure (any version) that it was retracted, once:
    a figure people heard of never stops being current without a word."""
    now = now.astimezone(UTC)
    async with in_transaction() as conn:
        if await claim(conn, disclosure_id, RETRACTION_CLAIM, now) is None:
            return 0
        p = Params(is_postgres(conn))
        found = await conn.execute_query_dict(
            f"SELECT category FROM disclosure WHERE id = {p(disclosure_id)}", p.values
        )
        p = Params(is_postgres(conn))
        told = await conn.execute_query_dict(
            "SELECT DISTINCT e.user_id FROM notification_event e"
            ' JOIN "user" u ON u.id = e.user_id AND u.is_active'
            f" WHERE e.subject_type = 'Disclosure' AND e.subject_id = {p(disclosure_id)}"
            f" AND e.kind IN ({p.many(list(TOLD))}) ORDER BY 1",
            p.values,
        )
        users = [r["user_id"] for r in told]
        payload = {"category": found[0]["category"] if found else ""}
        for start in range(0, len(users), BATCH):
            ranges = await record_batch(
                conn, users[start : start + BATCH], disclosure_id, payload, now, RETRACTED
            )
            await enqueue_dispatch(ranges, now)
    return len(users)


@job_handler(RETRACTION)
async def retraction_job(ctx: JobContext) -> int:
    return await announce_retraction(int(ctx.payload["disclosure_id"]), ctx.now)
