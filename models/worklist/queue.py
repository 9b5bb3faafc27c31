"""The two work lists of a village: what waits for its supervisor (oldest first), and its
clerk's drafts, items sent back and why, scheduled items and catalogue items due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from models.accounts import User
from models.audit import AuditEntry
from models.disclosures import (
    PERIODIC,
    Disclosure,
    Frequency,
    ReturnKind,
    ReturnNote,
    StagedCorrection,
    Status,
)
from models.disclosures.compliance import ComplianceStatus, ItemStatus, compliance
from models.disclosures.periods import SHANGHAI, Period, parse_period
from models.errors import BadUserInput, NotFound
from models.finance import AccountStatus, MonthlyAccount, RiskHit, RiskStatus
from models.policy import (
    Viewer,
    require_clerk_work_reader,
    require_review_queue_reader,
    sees_risk_hits,
)
from models.regions import Region, RegionKind

LIST_MAX = 200  # a village's open work: each list stops here (oldest or newest first)


class ReviewKind(StrEnum):
    DISCLOSURE = "DISCLOSURE"
    DISCLOSURE_CORRECTION = "DISCLOSURE_CORRECTION"
    MONTH = "MONTH"
    MONTH_CORRECTION = "MONTH_CORRECTION"


@dataclass
class ReviewItem:
    kind: ReviewKind
    submitted_at: datetime
    author_id: int
    disclosure: Disclosure | None = None
    account: MonthlyAccount | None = None
    correction_reason: str | None = None
    open_risk_hits: int | None = None  # months, for those who see risk hits

    @property
    def key(self) -> tuple[datetime, str, int]:
        obj = self.disclosure or self.account
        assert obj is not None
        return (self.submitted_at, str(self.kind), obj.pk)


@dataclass
class ReturnedItem:
    note: ReturnNote
    disclosure: Disclosure | None = None
    account: MonthlyAccount | None = None


@dataclass
class DueItem:
    period: Period
    status: ItemStatus


@dataclass
class ClerkWork:
    village: Region
    drafts: list[Disclosure] = field(default_factory=list)
    returned: list[ReturnedItem] = field(default_factory=list)
    waiting: list[ReviewItem] = field(default_factory=list)
    scheduled: list[Disclosure] = field(default_factory=list)
    due: list[DueItem] = field(default_factory=list)


async def work_village(village_id: int) -> Region:
    """The village a list is asked for (queries: top-level NOT_FOUND, BAD_USER_INPUT)."""
    village = await Region.get_or_none(id=village_id)
    if village is None:
        raise NotFound()
    if village.kind != RegionKind.VILLAGE:
        raise BadUserInput("NOT_A_VILLAGE")
    return village


async def submitted_times(disclosure_ids: list[int]) -> dict[int, datetime]:
    """When each disclosure was last submitted, from the audit log."""
    rows = await AuditEntry.filter(
        object_type="Disclosure",
        object_id__in=[str(i) for i in disclosure_ids],
        action="disclosure.submit",
    ).values_list("object_id", "at")
    out: dict[int, datetime] = {}
    for object_id, at in rows:
        key = int(object_id)
        if key not in out or at > out[key]:
            out[key] = at
    return out


async def waiting_items(viewer: Viewer, village: Region) -> list[ReviewItem]:
    """Everything of the village that waits for a supervisor's approval, oldest first:
    submitted disclosures, staged FINANCE corrections and uploaded months (an upload is
    the clerk's submission; a correction of a published month too), none that was sent
    back and not redone since."""
    items: list[ReviewItem] = []
    pending = (
        await Disclosure.filter(region_id=village.id, status=Status.PENDING_REVIEW)
        .order_by("updated_at", "id")
        .limit(LIST_MAX)
    )
    times = await submitted_times([d.id for d in pending])
    for d in pending:
        items.append(
            ReviewItem(ReviewKind.DISCLOSURE, times.get(d.id, d.updated_at), d.author_id, d)
        )
    staged_rows = (
        await StagedCorrection.filter(disclosure__region_id=village.id)
        .order_by("created_at", "id")
        .limit(LIST_MAX)
    )
    returned_staged = set(
        await ReturnNote.filter(
            staged_id__in=[s.id for s in staged_rows], closed_at=None
        ).values_list("staged_id", flat=True)
    )
    staged_of = {
        d.id: d for d in await Disclosure.filter(id__in=[s.disclosure_id for s in staged_rows])
    }
    for staged in staged_rows:
        if staged.id in returned_staged:
            continue
        items.append(
            ReviewItem(
                ReviewKind.DISCLOSURE_CORRECTION,
                staged.created_at,
                staged.author_id,
                staged_of[staged.disclosure_id],
                correction_reason=staged.reason,
            )
        )
    months = (
        await MonthlyAccount.filter(village_id=village.id, status=AccountStatus.DRAFT)
        .order_by("updated_at", "id")
        .limit(LIST_MAX)
    )
    returned_months = set(
        await ReturnNote.filter(account_id__in=[m.id for m in months], closed_at=None).values_list(
            "account_id", "month_version"
        )
    )
    hits_seen = sees_risk_hits(viewer, village.path)
    open_hits: dict[int, int] = {}
    if hits_seen:
        for hit in await RiskHit.filter(
            account_id__in=[m.id for m in months], status=RiskStatus.OPEN
        ).only("id", "account_id"):
            open_hits[hit.account_id] = open_hits.get(hit.account_id, 0) + 1
    for m in months:
        if (m.id, m.version) in returned_months:
            continue
        correcting = m.published_version is not None
        items.append(
            ReviewItem(
                ReviewKind.MONTH_CORRECTION if correcting else ReviewKind.MONTH,
                m.updated_at,
                m.uploaded_by_id,
                account=m,
                correction_reason=m.correction_reason if correcting else None,
                open_risk_hits=open_hits.get(m.id, 0) if hits_seen else None,
            )
        )
    items.sort(key=lambda i: i.key)
    return items


async def review_queue(viewer: Viewer, village_id: int) -> list[ReviewItem]:
    """The supervisor's list (officials, inspectors and admins covering the village read it)."""
    village = await work_village(village_id)
    require_review_queue_reader(viewer, village.path)
    return await waiting_items(viewer, village)


async def author_names(user_ids: set[int]) -> dict[int, str]:
    return dict(await User.filter(id__in=list(user_ids)).values_list("id", "name"))


def last_ended(frequency: Frequency, now: datetime) -> Period:
    """The latest period of `frequency` that has ended by `now` (Asia/Shanghai): the one
    whose items fall due next, or fell due last."""
    local = now.astimezone(SHANGHAI)
    year, month = local.year, local.month
    if frequency == Frequency.MONTHLY:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        text = f"{year}-{month:02d}"
    elif frequency == Frequency.QUARTERLY:
        quarter = (month - 1) // 3
        text = f"{year - 1}-Q4" if quarter == 0 else f"{year}-Q{quarter}"
    elif frequency == Frequency.HALF_YEARLY:
        text = f"{year - 1}-H2" if month <= 6 else f"{year}-H1"
    else:
        text = str(year - 1)
    period = parse_period(text)
    assert period is not None
    return period


async def due_items(village: Region, now: datetime) -> list[DueItem]:
    """Required catalogue items of each frequency's last ended period that are not yet
    published: PENDING (due soon: by the due day) or MISSING (overdue), soonest due first."""
    out: list[DueItem] = []
    for frequency in PERIODIC:
        period = last_ended(frequency, now)
        (report,) = await compliance([village], period, now)
        out += [
            DueItem(period, item)
            for item in report.items
            if item.status in (ComplianceStatus.PENDING, ComplianceStatus.MISSING)
        ]
    out.sort(key=lambda d: (d.status.due_at, d.status.item.sort_order))
    return out


async def current_returns(village: Region) -> list[ReturnedItem]:
    """The send-back notes still current, newest first, read through what is open now (a
    draft, a staged correction, an unpublished month), so old answered notes cost nothing."""
    returned: list[ReturnedItem] = []
    seen: set[int] = set()
    for note in (
        await ReturnNote.filter(
            village_id=village.id,
            kind=ReturnKind.DISCLOSURE,
            closed_at=None,
            disclosure__status=Status.DRAFT,
        )
        .order_by("-id")
        .prefetch_related("disclosure")
        .limit(LIST_MAX * 2)
    ):
        if note.disclosure_id not in seen:  # sent back, fixed, sent back again: the last
            seen.add(note.disclosure_id or 0)
            returned.append(ReturnedItem(note, disclosure=note.disclosure))
    staged = dict(
        await StagedCorrection.filter(disclosure__region_id=village.id)
        .limit(LIST_MAX)
        .values_list("id", "disclosure_id")
    )
    for note in (
        await ReturnNote.filter(staged_id__in=list(staged), closed_at=None)
        .order_by("-id")
        .prefetch_related("disclosure")
    ):
        returned.append(ReturnedItem(note, disclosure=note.disclosure))
    months = {
        m.id: m
        for m in await MonthlyAccount.filter(
            village_id=village.id, status=AccountStatus.DRAFT
        ).limit(LIST_MAX)
    }
    for note in await ReturnNote.filter(
        account_id__in=list(months), kind=ReturnKind.MONTH, closed_at=None
    ).order_by("-id"):
        account = months[note.account_id or 0]
        if account.version == note.month_version:
            returned.append(ReturnedItem(note, account=account))
    returned.sort(key=lambda r: r.note.id, reverse=True)
    return returned[:LIST_MAX]


async def clerk_work(viewer: Viewer, village_id: int, now: datetime | None = None) -> ClerkWork:
    """The clerk's list for the village (its officials and admins may read it too)."""
    village = await work_village(village_id)
    require_clerk_work_reader(viewer, village.path)
    now = now or datetime.now(UTC)
    work = ClerkWork(village)
    work.returned = await current_returns(village)
    returned_drafts = {
        r.disclosure.id
        for r in work.returned
        if r.note.kind == ReturnKind.DISCLOSURE and r.disclosure
    }
    work.returned = work.returned[:LIST_MAX]
    work.drafts = [
        d
        for d in await Disclosure.filter(region_id=village.id, status=Status.DRAFT)
        .order_by("-updated_at", "-id")
        .limit(LIST_MAX + len(returned_drafts))
        if d.id not in returned_drafts
    ][:LIST_MAX]
    work.waiting = (await waiting_items(viewer, village))[:LIST_MAX]
    work.scheduled = (
        await Disclosure.filter(region_id=village.id, status=Status.SCHEDULED)
        .order_by("publish_at", "id")
        .limit(LIST_MAX)
    )
    work.due = await due_items(village, now)
    return work
