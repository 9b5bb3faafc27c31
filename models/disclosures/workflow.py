"""The disclosure workflow: draft → (review → approval) → publish or schedule; correct; retract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.audience import allowed_to
from models.audit import record
from models.disclosures import (
    Category,
    Disclosure,
    DisclosureVersion,
    StagedCorrection,
    Status,
    publishing,
)
from models.disclosures.content import (
    VILLAGE_ONLY,
    apply_content,
    check_not_expired,
    check_period,
    edit_content,
)
from models.disclosures.returns import close_return_notes, require_not_returned
from models.disclosures.tables import mask_id_numbers
from models.errors import ErrorCode, UserError, UserErrors, fail
from models.policy import (
    Action,
    Viewer,
    require_disclosure_readable,
    require_draft_viewer,
    require_second_person,
)
from models.regions import Region, RegionKind, subtree_range
from models.text import clean_reason
from notifications.events import notify

# A publication time this close to now is not worth scheduling: publish at once.
SCHEDULE_SLACK = timedelta(seconds=30)


async def load_disclosure(viewer: Viewer, disclosure_id: int, action: Action) -> Disclosure:
    """The disclosure (NOT_FOUND on `id`), if the viewer may do `action` in its region."""
    disclosure = await Disclosure.get_or_none(id=disclosure_id)
    if disclosure is None:
        raise fail(ErrorCode.NOT_FOUND, "id")
    require_disclosure_readable(viewer, disclosure.status, disclosure.region_path, "id")
    viewer.require(action, disclosure.region_path)
    return disclosure


def require_status(disclosure: Disclosure, *allowed: Status) -> None:
    """WRONG_STATUS, whose text says what can be done in the status it is in."""
    if disclosure.status not in allowed:
        status = str(disclosure.status)
        raise fail(ErrorCode.WRONG_STATUS, "id", status=status, variant=f"DISCLOSURE_{status}")


def drafts_below(viewer: Viewer, region: Region, status: Status | None = None) -> QuerySet:
    """The unpublished disclosures of a region and the regions below it, for its staff."""
    require_draft_viewer(viewer, region.path)
    low, high = subtree_range(region.path)
    qs = Disclosure.filter(
        region_path__gte=low,
        region_path__lt=high,
        first_published_at__isnull=True,
        status__not_in=[Status.PUBLISHED, Status.RETRACTED],
    )
    return qs.filter(status=status) if status is not None else qs


def snapshot(d: Disclosure) -> dict[str, Any]:
    return {"status": str(d.status), "title": d.title, "version": d.version, "period": d.period}


async def create_disclosure(
    viewer: Viewer, region_id: int, category: Category, content: dict[str, Any]
) -> Disclosure:
    """A draft in the region, visible to its staff only (fields of `content`: see
    `models.disclosures.content.apply_content`)."""
    async with in_transaction():
        region = await Region.get_or_none(id=region_id)
        if region is None:
            raise fail(ErrorCode.NOT_FOUND, "regionId")
        viewer.require(Action.DISCLOSURE_EDIT, region.path)
        if category in VILLAGE_ONLY and region.kind != RegionKind.VILLAGE:
            raise fail(ErrorCode.CATEGORY_REGION_KIND, "regionId")
        disclosure = Disclosure(
            region=region,
            region_path=region.path,
            category=category,
            title="",
            body="",
            author_id=viewer.require_user().id,
            status=Status.DRAFT,
        )
        errors: list[UserError] = []
        await apply_content(disclosure, region, content, errors)
        if errors:
            raise UserErrors(*errors)
        await disclosure.save()
        await record(
            viewer, "disclosure.create", disclosure, region_id=region.id, after=snapshot(disclosure)
        )
    return disclosure


async def update_disclosure(
    viewer: Viewer, disclosure_id: int, content: dict[str, Any]
) -> Disclosure:
    """Change a draft (submitted, approved or published ones cannot change)."""
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_EDIT)
        require_status(disclosure, Status.DRAFT)
        before = snapshot(disclosure)
        region = await edit_content(disclosure, content)
        await disclosure.save()
        await record(
            viewer,
            "disclosure.update",
            disclosure,
            region_id=region.id,
            before=before,
            after=snapshot(disclosure),
        )
    return disclosure


async def submit_disclosure(viewer: Viewer, disclosure_id: int) -> Disclosure:
    """Send a draft for review by the village supervision committee."""
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_EDIT)
        require_status(disclosure, Status.DRAFT)
        disclosure.status = Status.PENDING_REVIEW
        await disclosure.save()
        await close_return_notes(disclosure.id)
        await record(viewer, "disclosure.submit", disclosure, region_id=disclosure.region_id)
        await notify_approvers(viewer, disclosure, disclosure.author_id, "DISCLOSURE")
    return disclosure


async def withdraw_disclosure(viewer: Viewer, disclosure_id: int) -> Disclosure:
    """Take a submitted disclosure back to DRAFT before the supervisor has decided."""
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_EDIT)
        require_status(disclosure, Status.PENDING_REVIEW)
        disclosure.status = Status.DRAFT
        await disclosure.save()
        await record(viewer, "disclosure.withdraw", disclosure, region_id=disclosure.region_id)
    return disclosure


async def approve_disclosure(
    viewer: Viewer, disclosure_id: int, now: datetime | None = None
) -> Disclosure:
    """A supervision committee member approves a submitted disclosure someone else wrote —
    or a staged correction of a published FINANCE item someone else made, which then
    publishes as its next version (`now`: when; default the real time)."""
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_APPROVE)
        if disclosure.status == Status.PUBLISHED:
            staged = await StagedCorrection.get_or_none(disclosure_id=disclosure.id)
            if staged is not None:
                await require_not_returned("id", staged_id=staged.id)
                return await publish_staged(viewer, disclosure, staged, now)
        require_second_person(viewer, disclosure.author_id)
        require_status(disclosure, Status.PENDING_REVIEW)
        disclosure.status = Status.APPROVED
        disclosure.approved_by_id = viewer.require_user().id
        disclosure.approved_at = now or datetime.now(UTC)
        await disclosure.save()
        await record(viewer, "disclosure.approve", disclosure, region_id=disclosure.region_id)
    return disclosure


async def publish_disclosure(
    viewer: Viewer,
    disclosure_id: int,
    publish_at: datetime | None = None,
    now: datetime | None = None,
) -> Disclosure:
    """Publish now, or schedule for `publish_at` (naive = UTC) when that is still ahead.
    Finance needs approval first. Published content joins the village's hash chain.
    `now`: the current time (default the real time), the publication time if not scheduled."""
    now = now or publishing.now_utc()
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_EDIT)
        require_status(
            disclosure, Status.DRAFT, Status.PENDING_REVIEW, Status.APPROVED, Status.SCHEDULED
        )
        if disclosure.category == Category.FINANCE and disclosure.approved_by_id is None:
            raise fail(ErrorCode.NEEDS_APPROVAL, "id")
        if publish_at is not None and publish_at.tzinfo is None:
            publish_at = publish_at.replace(tzinfo=UTC)
        errors: list[UserError] = []
        await check_period(disclosure, errors)
        check_not_expired(disclosure, max(now, publish_at or now), errors)
        if errors:
            raise UserErrors(*errors)
        if publish_at is not None and publish_at > now + SCHEDULE_SLACK:
            disclosure.status = Status.SCHEDULED
            disclosure.publish_at = publish_at
            await disclosure.save()
            await record(
                viewer,
                "disclosure.schedule",
                disclosure,
                region_id=disclosure.region_id,
                after={"publish_at": publish_at.isoformat()},
            )
            return disclosure
        version = await publishing.publish(disclosure, viewer.require_user().id, at=now)
        await record(
            viewer,
            "disclosure.publish",
            disclosure,
            region_id=disclosure.region_id,
            after={"version": version.version},
        )
    return disclosure


async def publish_staged(
    viewer: Viewer, disclosure: Disclosure, staged: StagedCorrection, now: datetime | None = None
) -> Disclosure:
    """The supervisor's approval of a staged FINANCE correction: it becomes the next version
    (call inside a transaction, after the DISCLOSURE_APPROVE check)."""
    require_second_person(viewer, staged.author_id)
    approver_id = viewer.require_user().id
    before = snapshot(disclosure)
    disclosure.title, disclosure.body = staged.title, staged.body
    disclosure.tables, disclosure.period = staged.tables, staged.period
    disclosure.row_keys = staged.row_keys
    disclosure.attachment_ids = staged.attachment_ids
    disclosure.approved_by_id = approver_id
    disclosure.approved_at = now = (now or publishing.now_utc()).replace(microsecond=0)
    version = await publishing.publish(disclosure, approver_id, reason=staged.reason, at=now)
    await staged.delete()
    await record(
        viewer,
        "disclosure.correct",
        disclosure,
        region_id=disclosure.region_id,
        before=before,
        after={
            **snapshot(disclosure),
            "reason": staged.reason,
            "version": version.version,
            "staged_by": staged.author_id,
        },
    )
    return disclosure


async def correct_disclosure(
    viewer: Viewer, disclosure_id: int, reason: str | None, content: dict[str, Any]
) -> Disclosure:
    """Publish a new version with the reason for the correction; older versions stay
    readable (`content` as for `create_disclosure`, without catalogue item and must-read).

    FINANCE follows the two-person rule: the correction is staged, the public keeps the
    published version until a supervisor other than its author approves it
    (`approve_disclosure`). A month's own disclosure is corrected only by correcting the
    month (CORRECT_THROUGH_MONTH)."""
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_EDIT)
        require_status(disclosure, Status.PUBLISHED)
        if await DisclosureVersion.exists(
            disclosure_id=disclosure.id, source_version__not_isnull=True
        ):
            raise fail(ErrorCode.CORRECT_THROUGH_MONTH, "id")
        reason = mask_id_numbers(clean_reason(reason))  # public, as the title is
        before = snapshot(disclosure)
        if disclosure.category == Category.FINANCE:
            return await stage_correction(viewer, disclosure, reason, content, before)
        region = await edit_content(disclosure, content)
        expired: list[UserError] = []  # a past expiry would hide it without a retraction
        check_not_expired(disclosure, publishing.now_utc(), expired)
        if expired:
            raise UserErrors(*expired)
        version = await publishing.publish(disclosure, viewer.require_user().id, reason=reason)
        await record(
            viewer,
            "disclosure.correct",
            disclosure,
            region_id=region.id,
            before=before,
            after={**snapshot(disclosure), "reason": reason, "version": version.version},
        )
    return disclosure


async def stage_correction(
    viewer: Viewer,
    disclosure: Disclosure,
    reason: str,
    content: dict[str, Any],
    before: dict[str, Any],
) -> Disclosure:
    """Check a FINANCE correction and keep it for the supervisor (a newer one replaces it);
    the disclosure itself, what readers are served, does not change."""
    published = {k: getattr(disclosure, k) for k in STAGED_FIELDS}
    await edit_content(disclosure, content)  # checks it; the row is not saved
    staged = {k: getattr(disclosure, k) for k in STAGED_FIELDS}
    for key, value in published.items():
        setattr(disclosure, key, value)
    await StagedCorrection.filter(disclosure_id=disclosure.id).delete()
    author_id = viewer.require_user().id
    await StagedCorrection.create(
        disclosure_id=disclosure.id, reason=reason, author_id=author_id, **staged
    )
    await record(
        viewer,
        "disclosure.correct_stage",
        disclosure,
        region_id=disclosure.region_id,
        before=before,
        after={"title": staged["title"], "period": staged["period"], "reason": reason},
    )
    await notify_approvers(viewer, disclosure, author_id, "CORRECTION")
    return disclosure


async def notify_approvers(
    viewer: Viewer, disclosure: Disclosure, author_id: int, variant: str
) -> None:
    """APPROVAL_NEEDED to the supervisors who may approve it: never its author (the two-person
    rule) nor whoever submitted it."""
    approvers = await allowed_to(Action.DISCLOSURE_APPROVE, disclosure.region_path)
    approvers -= {author_id, viewer.user_id}
    await notify(approvers, "APPROVAL_NEEDED", "Disclosure", disclosure.id, variant=variant)


# What a correction may change (catalogue item and must-read stay); the tables' row keys
# travel with them.
STAGED_FIELDS = ("title", "body", "tables", "row_keys", "period", "attachment_ids")


async def retract_disclosure(viewer: Viewer, disclosure_id: int, reason: str | None) -> Disclosure:
    """Retract a published disclosure: the record stays, with the reason made public."""
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_EDIT)
        require_status(disclosure, Status.PUBLISHED)
        reason = mask_id_numbers(clean_reason(reason))  # public, as the title is
        await publishing.retract(disclosure, reason)
        await record(
            viewer,
            "disclosure.retract",
            disclosure,
            region_id=disclosure.region_id,
            after={"reason": reason},
        )
    return disclosure
