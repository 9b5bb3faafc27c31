"""Commenting, editing within ten minutes, deleting, reporting and moderating comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.audit import record
from models.comments import Comment, CommentReport, CommentRevision, CommentStatus
from models.disclosures import Disclosure
from models.errors import ErrorCode, UserErrors, fail
from models.policy import (
    Action,
    Viewer,
    require_comment_author,
    require_comment_moderator,
    require_participant,
)
from models.regions.operations import region_path
from models.targets import load_published_target
from models.text import clean_reason, clean_text
from notifications.events import notify

BODY_MAX, REASON_MAX = 1000, 200
EDIT_MINUTES = 10
REPORTS_TO_HIDE = 3


def clean_body(text: str | None) -> str:
    return clean_text(text, "body", 1, BODY_MAX, ErrorCode.INVALID_COMMENT)


def own_comments(viewer: Viewer) -> QuerySet[Comment]:
    """The comments and replies the signed-in viewer wrote ("my comments"), whatever became
    of them: hidden ones show their public reason, deleted ones their tombstone."""
    return Comment.filter(author_id=viewer.require_user().id)


def wrong_status(comment: Comment) -> UserErrors:
    return fail(ErrorCode.WRONG_STATUS, "id", status=str(comment.status))


async def get_comment(comment_id: int, field: str = "id") -> Comment:
    comment = await Comment.get_or_none(id=comment_id)
    if comment is None:
        raise fail(ErrorCode.NOT_FOUND, field)
    return comment


async def region_path_of(comment: Comment) -> str:
    return await region_path(comment.region_id)


async def counted_change(comment: Comment, was_visible: bool) -> None:
    """A comment that enters or leaves its disclosure's visible count (`commentCount`)
    changes what the feed serves of the disclosure: its `updated_at` moves too, in the same
    transaction, so that a feed synced with `updatedSince` brings it again with the new
    count. `updated_at` is in neither the hash chain nor the served columns it checks
    (models.disclosures.ledger): a published item's promise is untouched. A line of a month
    is counted on the line alone, which no synced list serves."""
    if comment.target_type != "Disclosure":
        return
    if (comment.status == CommentStatus.VISIBLE) != was_visible:
        await Disclosure.filter(id=comment.target_id).update(updated_at=datetime.now(UTC))


async def add_comment(
    viewer: Viewer,
    target_id: int,
    body: str | None,
    parent_id: int | None = None,
    now: datetime | None = None,
    *,
    target_type: str = "Disclosure",
) -> Comment:
    """Comment on a published item (a disclosure or one line of a published month), or reply
    to one of its top-level comments (replies go one level deep); staff covering the item
    write official answers (`now`: when, default the real time)."""
    async with in_transaction():
        target = await load_published_target(viewer, target_id, target_type=target_type)
        await require_participant(viewer, target.region_path)
        text = clean_body(body)
        parent = None
        if parent_id is not None:
            parent = await get_comment(parent_id, "parentId")
            if parent.target_id != target.id or parent.target_type != target.kind:
                raise fail(ErrorCode.NOT_FOUND, "parentId")
            if parent.parent_id is not None:
                raise fail(ErrorCode.REPLY_DEPTH, "parentId")
        comment = await Comment.create(
            target_type=target.kind,
            target_id=target.id,
            region_id=target.region_id,
            parent=parent,
            author_id=viewer.user_id,
            body=text,
            official=viewer.can(Action.COMMENT_AS_STAFF, target.region_path),
            created_at=now or datetime.now(UTC),
        )  # updated_at: the real time of the write, like every change after it
        await counted_change(comment, was_visible=False)
        await record(
            viewer,
            "comment.add",
            comment,
            region_id=target.region_id,
            after={"body": text, "target": target.id},
        )
        # no text of either comment in the notification: the reply may be hidden later
        if (
            parent is not None
            and parent.author_id != viewer.user_id
            and parent.status != CommentStatus.DELETED
        ):
            variant = "OFFICIAL" if comment.official else "REPLY"
            to = [parent.author_id]
            await notify(to, "COMMENT_REPLY", "Comment", comment.id, variant=variant)
    return comment


async def edit_comment(viewer: Viewer, comment_id: int, body: str | None) -> Comment:
    """The author rewrites a visible comment within EDIT_MINUTES; the old text is kept."""
    async with in_transaction():
        comment = await get_comment(comment_id)
        require_comment_author(viewer, comment)
        if comment.status != CommentStatus.VISIBLE:
            raise wrong_status(comment)
        if datetime.now(UTC) - comment.created_at > timedelta(minutes=EDIT_MINUTES):
            raise fail(ErrorCode.EDIT_WINDOW_CLOSED, "id", minutes=EDIT_MINUTES)
        text = clean_body(body)
        await CommentRevision.create(comment=comment, body=comment.body)
        before = comment.body
        comment.body, comment.edited_at = text, datetime.now(UTC)
        await comment.save(update_fields=["body", "edited_at", "updated_at"])
        await record(
            viewer,
            "comment.edit",
            comment,
            region_id=comment.region_id,
            before={"body": before},
            after={"body": text},
        )
    return comment


async def delete_comment(viewer: Viewer, comment_id: int) -> Comment:
    """The author removes a comment: a tombstone stays; a second time changes nothing."""
    async with in_transaction():
        comment = await get_comment(comment_id)
        require_comment_author(viewer, comment)
        if comment.status != CommentStatus.DELETED:
            before = {"body": comment.body, "status": str(comment.status)}
            was_visible = comment.status == CommentStatus.VISIBLE
            comment.status = CommentStatus.DELETED
            await comment.save(update_fields=["status", "updated_at"])
            await counted_change(comment, was_visible)
            await record(
                viewer, "comment.delete", comment, region_id=comment.region_id, before=before
            )
    return comment


async def report_comment(viewer: Viewer, comment_id: int, reason: str | None) -> Comment:
    """A villager reports a comment, once; at REPORTS_TO_HIDE reports it is hidden until a
    township official decides."""
    async with in_transaction():
        comment = await get_comment(comment_id)
        await require_participant(viewer, await region_path_of(comment))
        if comment.author_id == viewer.user_id:
            raise fail(ErrorCode.OWN_COMMENT, "id")
        text = clean_reason(reason, high=REASON_MAX)
        try:
            async with in_transaction():  # a savepoint: the unique violation leaves the rest
                await CommentReport.create(comment=comment, reporter_id=viewer.user_id, reason=text)
        except IntegrityError:
            return comment
        # the count alone is served to nobody: updated_at stays until the comment is hidden
        await Comment.filter(id=comment.id).update(report_count=F("report_count") + 1)
        await comment.refresh_from_db(fields=["report_count", "status"])
        if comment.report_count >= REPORTS_TO_HIDE and comment.status == CommentStatus.VISIBLE:
            comment.status = CommentStatus.REPORTED
            comment.hidden_reason = "多位村民举报，等待乡镇审核"
            await comment.save(update_fields=["status", "hidden_reason", "updated_at"])
            await counted_change(comment, was_visible=True)
            await record(
                viewer,
                "comment.auto_hide",
                comment,
                region_id=comment.region_id,
                before={"body": comment.body},
                after={"reports": comment.report_count},
            )
    return comment


async def moderate(
    viewer: Viewer, comment_id: int, reason: str | None, to_status: CommentStatus, action: str
) -> Comment:
    async with in_transaction():
        comment = await get_comment(comment_id)
        require_comment_moderator(viewer, await region_path_of(comment))
        if comment.status == CommentStatus.DELETED:
            raise wrong_status(comment)
        text = clean_reason(reason, high=REASON_MAX)
        before = {"body": comment.body, "status": str(comment.status)}
        was_visible = comment.status == CommentStatus.VISIBLE
        comment.status = to_status
        comment.hidden_reason = text if to_status == CommentStatus.HIDDEN else None  # type: ignore[assignment]  # tortoise types a nullable TextField as str
        comment.hidden_by_id = viewer.user_id
        await comment.save(update_fields=["status", "hidden_reason", "hidden_by_id", "updated_at"])
        await counted_change(comment, was_visible)
        await record(
            viewer,
            action,
            comment,
            region_id=comment.region_id,
            before=before,
            after={"status": str(comment.status), "reason": text},
        )
    return comment


async def hide_comment(viewer: Viewer, comment_id: int, reason: str | None) -> Comment:
    """A township official hides a comment with a public reason; the text stays in the log."""
    return await moderate(viewer, comment_id, reason, CommentStatus.HIDDEN, "comment.hide")


async def restore_comment(viewer: Viewer, comment_id: int, reason: str | None) -> Comment:
    """A township official shows a hidden or reported comment again, with a public reason."""
    return await moderate(viewer, comment_id, reason, CommentStatus.VISIBLE, "comment.restore")
