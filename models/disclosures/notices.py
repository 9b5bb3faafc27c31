"""Must-read notices: residents acknowledge them, the publishing officials count who did
per village, and those who did not are sent the notice again by SMS after some days.

A notice is one record on the township or county (or above) that published it: it covers
every village below. Who counts is who lives there now — active, residency verified — so
a resident who moved is counted (and reminded) where they live today; their
acknowledgement keeps the village they lived in then, for the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.accounts import User
from models.audit import record
from models.disclosures import Category, Disclosure, NoticeAck, Status
from models.errors import BadUserInput, ErrorCode, NotFound, fail
from models.policy import (
    Viewer,
    may_read_disclosure,
    notice_stats_scope,
    require_disclosure_readable,
    require_notice_resident,
)
from models.regions import Region, RegionKind, path_ids, subtree_range
from models.sql import Params, is_postgres
from notifications.events import notify

REMINDER = "MUST_READ_REMINDER"
# Names of those who have not acknowledged, per village: enough for a clerk's round of
# visits; the count beside them says how many there are in all.
NAMES_PER_VILLAGE = 100
# A notice is re-sent in the month after its N days, not years later to newcomers.
RESEND_WINDOW = timedelta(days=30)


def must_read(disclosure: Disclosure) -> bool:
    return disclosure.category == Category.NOTICE and disclosure.must_read


async def home_path(user: User) -> str | None:
    if user.village_id is None:
        return None
    found = await Region.filter(id=user.village_id).first().values_list("path", flat=True)
    return cast("str | None", found)


def not_expired(now: datetime) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


async def acknowledge_notice(viewer: Viewer, disclosure_id: int, now: datetime) -> Disclosure:
    """The viewer has read a must-read notice covering their verified home village. A
    second call changes nothing (no second entry in the audit log)."""
    user = viewer.require_user()
    disclosure = await Disclosure.get_or_none(id=disclosure_id)
    if disclosure is None:
        raise fail(ErrorCode.NOT_FOUND, "id")
    # a draft answers like a missing id to whoever may not read it
    require_disclosure_readable(viewer, disclosure.status, disclosure.region_path, "id")
    if not must_read(disclosure):
        raise fail(ErrorCode.NOT_MUST_READ, "id")
    if disclosure.status != Status.PUBLISHED:
        raise fail(ErrorCode.NOTICE_NOT_PUBLISHED, "id", status=str(disclosure.status))
    require_notice_resident(viewer, disclosure.region_path, await home_path(user))
    village_id = cast(int, user.village_id)
    async with in_transaction():
        if await NoticeAck.exists(disclosure_id=disclosure.id, user_id=user.id):
            return disclosure
        try:
            async with in_transaction():  # a savepoint: a double tap may have made it
                await NoticeAck.create(
                    disclosure_id=disclosure.id,
                    user_id=user.id,
                    village_id=village_id,
                    acknowledged_at=now,
                )
        except IntegrityError:
            return disclosure
        await record(
            viewer,
            "notice.acknowledge",
            disclosure,
            region_id=village_id,
            after={"village_id": village_id},
        )
    return disclosure


async def acknowledged_at(user_id: int, disclosure_ids: list[int]) -> dict[int, datetime]:
    """When `user_id` acknowledged each of these notices (those they did), in one read."""
    rows = await NoticeAck.filter(user_id=user_id, disclosure_id__in=disclosure_ids).values_list(
        "disclosure_id", "acknowledged_at"
    )
    return {cast(int, d): cast(datetime, at) for d, at in rows}


async def my_must_read(viewer: Viewer, now: datetime) -> QuerySet[Disclosure] | None:
    """The viewer's must-read notices still to acknowledge: published on their verified
    home village or a region above it, not expired, not acknowledged (None: no home)."""
    user = viewer.require_user()
    path = await home_path(user)
    if path is None or user.residency_verified_at is None:
        return None
    return must_read_for(path, now, user.id)


def must_read_for(path: str, now: datetime, user_id: int | None = None) -> QuerySet[Disclosure]:
    """The must-read notices in force for a village at `path` (published there or above,
    not expired); with `user_id`, those that user has not acknowledged."""
    qs = Disclosure.filter(
        region_id__in=path_ids(path),
        category=Category.NOTICE,
        must_read=True,
        status=Status.PUBLISHED,
        published_at__isnull=False,
    ).filter(not_expired(now))
    if user_id is None:
        return qs
    done = Subquery(NoticeAck.filter(user_id=user_id).values("disclosure_id"))
    return qs.exclude(id__in=done)


# --- who read it ---


@dataclass
class VillageReads:
    village_id: int
    name: str
    path: str
    residents: int  # active, residency verified, living there now
    acknowledged: int  # of those

    @property
    def pending(self) -> int:
        return self.residents - self.acknowledged


@dataclass
class ReadStats:
    disclosure: Disclosure
    villages: list[VillageReads] = field(default_factory=list)

    @property
    def residents(self) -> int:
        return sum(v.residents for v in self.villages)

    @property
    def acknowledged(self) -> int:
        return sum(v.acknowledged for v in self.villages)


async def stats_notice(viewer: Viewer, disclosure_id: int) -> Disclosure:
    disclosure = await Disclosure.get_or_none(id=disclosure_id)
    if disclosure is None or not may_read_disclosure(
        viewer, disclosure.status, disclosure.region_path
    ):
        raise NotFound()  # a draft's id is not public
    return disclosure


async def read_stats(
    viewer: Viewer, disclosure_id: int, village_id: int | None = None
) -> ReadStats:
    """Per village below a published must-read notice (or the one village asked for): its
    verified residents and how many of them acknowledged it, in one grouped statement.
    The whole notice for officials and admins who may publish there and for inspectors
    covering it; a clerk their own village only (see `notice_stats_scope`)."""
    disclosure = await stats_notice(viewer, disclosure_id)
    village = None
    if village_id is not None:
        village = await Region.get_or_none(id=village_id, kind=RegionKind.VILLAGE)
        if village is None or not village.path.startswith(disclosure.region_path):
            raise BadUserInput("NOT_FOUND")
    own = notice_stats_scope(viewer, disclosure.region_path, village.path if village else None)
    if not must_read(disclosure):
        raise BadUserInput("NOT_MUST_READ")
    if disclosure.first_published_at is None:
        raise BadUserInput("NOTICE_NOT_PUBLISHED")
    if own is None:
        ranges = [subtree_range(village.path if village else disclosure.region_path)]
    else:  # a clerk: the villages of their grants below the notice
        ranges = [subtree_range(path) for path in own]
    return ReadStats(disclosure, await village_counts(disclosure.id, ranges))


async def village_counts(disclosure_id: int, ranges: list[tuple[str, str]]) -> list[VillageReads]:
    """One statement, grouped by village: no read per village, whatever their number."""
    if not ranges:
        return []
    conn = Tortoise.get_connection("default")
    p = Params(is_postgres(conn))
    # placeholders in the order of the text: SQLite's `?` are positional
    statement = (
        "SELECT r.id, r.name, r.path, COUNT(u.id) AS residents, COUNT(a.id) AS acknowledged"
        " FROM region r"
        ' LEFT JOIN "user" u ON u.village_id = r.id'
        f" AND u.is_active = {p(True)} AND u.residency_verified_at IS NOT NULL"
        f" LEFT JOIN notice_ack a ON a.user_id = u.id AND a.disclosure_id = {p(disclosure_id)}"
        f" WHERE r.kind = {p(RegionKind.VILLAGE.value)} AND ("
    )
    statement += " OR ".join(f"(r.path >= {p(low)} AND r.path < {p(high)})" for low, high in ranges)
    statement += ") GROUP BY r.id, r.name, r.path ORDER BY r.path"
    rows = await conn.execute_query_dict(statement, p.values)
    return [
        VillageReads(r["id"], r["name"], r["path"], int(r["residents"]), int(r["acknowledged"]))
        for r in rows
    ]


async def pending_names(
    disclosure_id: int, village_ids: list[int], limit: int = NAMES_PER_VILLAGE
) -> dict[int, list[str]]:
    """Per village, the names (only: no phone, no id) of up to `limit` verified residents
    who have not acknowledged, by name: one statement for all the villages asked."""
    found: dict[int, list[str]] = {v: [] for v in village_ids}
    if not village_ids:
        return found
    conn = Tortoise.get_connection("default")
    p = Params(is_postgres(conn))
    statement = (
        "SELECT village_id, name FROM ("
        " SELECT u.village_id, u.name,"
        " ROW_NUMBER() OVER (PARTITION BY u.village_id ORDER BY u.name, u.id) AS n"
        ' FROM "user" u'
        f" WHERE u.village_id IN ({p.many(sorted(set(village_ids)))})"
        f" AND u.is_active = {p(True)} AND u.residency_verified_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM notice_ack a"
        f" WHERE a.user_id = u.id AND a.disclosure_id = {p(disclosure_id)})"
        f") t WHERE n <= {p(limit)} ORDER BY village_id, n"
    )
    for row in await conn.execute_query_dict(statement, p.values):
        found[row["village_id"]].append(row["name"])
    return found


# --- sent again ---


async def resend_must_read(*, now: datetime, days: int) -> int:
    """(Daily.) For each must-read notice first published at least `days` days ago (within
    a month after that), still published and not expired: claim a reminder for each verified,
    active resident below it with a verified phone who has not acknowledged it and was not
    reminded yet, and tell them (MUST_READ_REMINDER: SMS at once, unless they turned SMS off
    for notices; the inbox). The claim (INSERT … ON CONFLICT DO NOTHING) makes a rerun or a
    concurrent run remind nobody twice. Returns the number of people reminded."""
    due_before = now - timedelta(days=days)
    notices = (
        await Disclosure.filter(
            category=Category.NOTICE,
            must_read=True,
            status=Status.PUBLISHED,
            first_published_at__lte=due_before,
            first_published_at__gt=due_before - RESEND_WINDOW,
        )
        .filter(not_expired(now))
        .order_by("id")
    )
    system = Viewer.for_system("job:resend_must_read_notices")
    sent = 0
    for notice in notices:
        async with in_transaction() as conn:
            users = await claim_reminders(conn, notice, now)
            if not users:
                continue
            await notify(users, REMINDER, "Disclosure", notice.id, urgent=True)
            await record(
                system,
                "notice.resend",
                notice,
                region_id=notice.region_id,
                after={"reminded": len(users), "days": days},
            )
        sent += len(users)
    return sent


async def claim_reminders(conn: Any, notice: Disclosure, now: datetime) -> list[int]:
    """Insert the notice's reminders for those still owed one, in one statement; whom."""
    low, high = subtree_range(notice.region_path)
    p = Params(is_postgres(conn))
    statement = (
        "INSERT INTO notice_reminder (disclosure_id, user_id, sent_at)"
        f' SELECT {p(notice.id)}, u.id, {p(now)} FROM "user" u'
        " JOIN region v ON v.id = u.village_id"
        f" WHERE v.path >= {p(low)} AND v.path < {p(high)}"
        f" AND u.is_active = {p(True)} AND u.residency_verified_at IS NOT NULL"
        " AND u.phone_verified_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM notice_ack a"
        f" WHERE a.user_id = u.id AND a.disclosure_id = {p(notice.id)})"
        " ON CONFLICT (disclosure_id, user_id) DO NOTHING RETURNING user_id"
    )
    rows = await conn.execute_query_dict(statement, p.values)
    return sorted(r["user_id"] for r in rows)
