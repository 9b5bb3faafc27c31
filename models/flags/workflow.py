"""A flag's life: submitted, supported, the officials' steps and the flagger's answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from media.service import mark_attached
from models.accounts import Role
from models.audit import record
from models.errors import ErrorCode, UserErrors, fail
from models.flags import Flag, FlagEvent, FlagEventKind, FlagReason, FlagStatus, FlagSupport
from models.flags.audience import followers, staff_above
from models.flags.deadlines import due_after
from models.media import Media
from models.policy import Viewer, require_flag_handler, require_flagger, require_participant
from models.targets import Target, load_published_target
from models.text import clean_reason, clean_text
from notifications.events import notify, notify_all, rows_for

BODY_MIN, BODY_MAX, NOTE_MAX, MAX_PHOTOS = 5, 2000, 1000, 9


async def get_flag(flag_id: int, field: str = "id") -> Flag:
    flag = await Flag.get_or_none(id=flag_id)
    if flag is None:
        raise fail(ErrorCode.NOT_FOUND, field)
    return flag


def own_flags(viewer: Viewer, status: FlagStatus | None = None) -> QuerySet[Flag]:
    """The flags the signed-in viewer submitted ("my flags"), in any status or one."""
    qs = Flag.filter(flagger_id=viewer.require_user().id)
    return qs if status is None else qs.filter(status=status)


def wrong_status(flag: Flag) -> UserErrors:
    return fail(ErrorCode.WRONG_STATUS, "id", status=str(flag.status))


async def submit_flag(
    viewer: Viewer,
    target_id: int,
    reason: FlagReason,
    body: str | None,
    *,
    anonymous: bool,
    media_ids: Sequence[int],
    response_days: int,
    target_type: str = "Disclosure",
    now: datetime | None = None,
) -> Flag:
    """Question a published item (a disclosure or one line of a published month); the
    township's officials must answer within `response_days` working days (counted from
    `now`, default the real time)."""
    now = now or datetime.now(UTC)
    async with in_transaction():
        target = await load_published_target(viewer, target_id, target_type=target_type)
        await require_participant(viewer, target.region_path)
        user_id = viewer.user_id
        text = clean_text(body, "body", BODY_MIN, BODY_MAX, ErrorCode.INVALID_FLAG_BODY)
        if len(media_ids) > MAX_PHOTOS:
            raise fail(ErrorCode.TOO_MANY_ATTACHMENTS, "mediaIds", max=MAX_PHOTOS)
        photo_ids = list(dict.fromkeys(media_ids))
        owned = await Media.filter(id__in=photo_ids, uploaded_by_id=user_id).count()
        if owned != len(photo_ids):
            raise fail(ErrorCode.NOT_FOUND, "mediaIds")
        flag = await Flag.create(
            target_type=target.kind,
            target_id=target.id,
            region_id=target.region_id,
            region_path=target.region_path,
            flagger_id=user_id,
            anonymous=anonymous,
            reason_code=reason,
            body=text,
            media_ids=photo_ids,
            due_at=await due_after(now, response_days),
            created_at=now,
        )
        await FlagEvent.create(flag=flag, kind=FlagEventKind.SUBMITTED, actor_id=user_id, at=now)
        # The evidence is the flag's: its public region is the flag's, not the uploader's
        # home village (which would point at the flagger).
        await Media.filter(id__in=photo_ids).update(region_id=flag.region_id)
        await mark_attached(photo_ids)
        await record(
            viewer,
            "flag.submit",
            flag,
            region_id=flag.region_id,
            after={"target": target.id, "reason": str(flag.reason_code)},
        )
        officials = set(await staff_above(flag, Role.OFFICIAL)) - {user_id}  # an official's own
        await notify(officials, "FLAG_ASSIGNED", "Flag", flag.id)
    return flag


async def raise_committee_flag(
    viewer: Viewer,
    target: Target,
    reason: FlagReason,
    body: str,
    *,
    member_id: int,
    response_days: int,
) -> Flag:
    """A flag the village's supervision committee raises through its member `member_id` (a
    confirmed risk hit): not anonymous, shown as the committee's, answered like any flag.
    The caller notifies the officials (FLAG_ASSIGNED), once for all the flags it raises."""
    flag = await Flag.create(
        target_type=target.kind,
        target_id=target.id,
        region_id=target.region_id,
        region_path=target.region_path,
        flagger_id=member_id,
        anonymous=False,
        by_committee=True,
        reason_code=reason,
        body=body[:BODY_MAX],
        media_ids=[],
        due_at=await due_after(datetime.now(UTC), response_days),
    )
    await FlagEvent.create(flag=flag, kind=FlagEventKind.SUBMITTED, actor_id=member_id)
    await record(
        viewer,
        "flag.submit",
        flag,
        region_id=flag.region_id,
        after={"target": target.id, "reason": str(reason), "byCommittee": True},
    )
    return flag


async def support_flag(viewer: Viewer, flag_id: int, now: datetime | None = None) -> Flag:
    """ "Me too": once per villager; a second time changes nothing."""
    async with in_transaction():
        flag = await get_flag(flag_id)
        await require_participant(viewer, flag.region_path, "id")
        if flag.flagger_id == viewer.user_id:
            raise fail(ErrorCode.OWN_FLAG, "id")
        try:
            async with in_transaction():  # a savepoint: the unique violation leaves the rest
                await FlagSupport.create(
                    flag=flag, user_id=viewer.user_id, created_at=now or datetime.now(UTC)
                )
        except IntegrityError:
            return flag
        await Flag.filter(id=flag.id).update(
            support_count=F("support_count") + 1, updated_at=datetime.now(UTC)
        )
        await flag.refresh_from_db(fields=["support_count"])
        # A supporter is as protected as the flagger: the audit log hides Flag actors.
        await record(viewer, "flag.support", flag, region_id=flag.region_id)
    return flag


async def official_step(
    viewer: Viewer,
    flag_id: int,
    sources: tuple[FlagStatus, ...],
    target: FlagStatus,
    note: str | None,
    *,
    note_field: str = "note",
    note_required: bool = False,
    now: datetime | None = None,
) -> Flag:
    """An official's step from one of `sources` to `target`, with a public note (at `now`,
    default the real time)."""
    async with in_transaction():
        flag = await get_flag(flag_id)
        require_flag_handler(viewer, flag)
        if flag.status not in sources:
            raise wrong_status(flag)
        text = clean_reason(note, note_field, NOTE_MAX) if note_required or note else None
        before = str(flag.status)
        now = now or datetime.now(UTC)
        flag.status = target
        flag.first_response_at = flag.first_response_at or now
        if target in (FlagStatus.RESOLVED, FlagStatus.REJECTED):
            flag.closed_at = now
        await flag.save()
        await FlagEvent.create(
            flag=flag,
            kind=FlagEventKind(target),
            note=text,
            actor_id=viewer.user_id,
            by_official=True,
            at=now,
        )
        await record(
            viewer,
            f"flag.{target.lower()}",
            flag,
            region_id=flag.region_id,
            before={"status": before},
            after={"status": str(flag.status), "note": text},
        )
        told = set(await followers(flag)) - {viewer.user_id}
        await notify(told, "FLAG_STATUS", "Flag", flag.id, status=str(flag.status))
    return flag


async def accept_flag(
    viewer: Viewer, flag_id: int, note: str | None = None, now: datetime | None = None
) -> Flag:
    return await official_step(
        viewer,
        flag_id,
        (FlagStatus.SUBMITTED, FlagStatus.REOPENED),
        FlagStatus.ACCEPTED,
        note,
        now=now,
    )


async def start_investigation(
    viewer: Viewer, flag_id: int, note: str | None = None, now: datetime | None = None
) -> Flag:
    return await official_step(
        viewer, flag_id, (FlagStatus.ACCEPTED,), FlagStatus.INVESTIGATING, note, now=now
    )


async def resolve_flag(
    viewer: Viewer, flag_id: int, response: str | None, now: datetime | None = None
) -> Flag:
    """Close the flag with a public answer."""
    return await official_step(
        viewer,
        flag_id,
        (FlagStatus.ACCEPTED, FlagStatus.INVESTIGATING),
        FlagStatus.RESOLVED,
        response,
        note_field="response",
        note_required=True,
        now=now,
    )


async def reject_flag(
    viewer: Viewer, flag_id: int, reason: str | None, now: datetime | None = None
) -> Flag:
    """Decline or dismiss the flag, always with a public reason."""
    return await official_step(
        viewer,
        flag_id,
        (FlagStatus.SUBMITTED, FlagStatus.ACCEPTED, FlagStatus.INVESTIGATING, FlagStatus.REOPENED),
        FlagStatus.REJECTED,
        reason,
        note_field="reason",
        note_required=True,
        now=now,
    )


async def confirm_resolution(viewer: Viewer, flag_id: int, now: datetime | None = None) -> Flag:
    """The flagger accepts the resolution: the flag is closed for good."""
    async with in_transaction():
        flag = await get_flag(flag_id)
        require_flagger(viewer, flag)
        if flag.status != FlagStatus.RESOLVED:
            raise wrong_status(flag)
        flag.status = FlagStatus.CONFIRMED
        await flag.save()
        await FlagEvent.create(
            flag=flag,
            kind=FlagEventKind.CONFIRMED,
            actor_id=viewer.user_id,
            at=now or datetime.now(UTC),
        )
        await record(viewer, "flag.confirm", flag, region_id=flag.region_id)
        told = set(await followers(flag)) - {flag.flagger_id}  # the flagger did it
        await notify(told, "FLAG_STATUS", "Flag", flag.id, status="CONFIRMED")
    return flag


async def reopen_flag(
    viewer: Viewer, flag_id: int, reason: str | None, now: datetime | None = None
) -> Flag:
    """The flagger disagrees, once: the flag goes to the county's inspectors."""
    async with in_transaction():
        flag = await get_flag(flag_id)
        require_flagger(viewer, flag)
        closed = (FlagStatus.RESOLVED, FlagStatus.REJECTED)
        if flag.status not in closed or flag.reopened:
            raise wrong_status(flag)
        text = clean_reason(reason, high=NOTE_MAX)
        now = now or datetime.now(UTC)
        flag.status, flag.reopened, flag.closed_at = FlagStatus.REOPENED, True, None
        flag.escalated_at = flag.escalated_at or now
        await flag.save()
        await FlagEvent.create(
            flag=flag, kind=FlagEventKind.REOPENED, note=text, actor_id=flag.flagger_id, at=now
        )
        await record(viewer, "flag.reopen", flag, region_id=flag.region_id, after={"reason": text})
        told = set(await followers(flag)) - {flag.flagger_id}  # the flagger did it
        inspectors = await staff_above(flag, Role.INSPECTOR)
        await notify_all(  # one insert: the two sets may overlap (see `notify_all`)
            [
                rows_for(inspectors, "FLAG_ESCALATED", "Flag", flag.id),
                rows_for(told, "FLAG_STATUS", "Flag", flag.id, status="REOPENED"),
            ]
        )
    return flag
