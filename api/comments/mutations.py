"""Commenting, editing within ten minutes, deleting, reporting and moderating comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import graphene
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from api.comments.types import Comment
from api.context import Context
from api.mutations import BaseMutation
from api.ratelimit import throttle
from api.relay import fetch_input
from models.audit import record
from models.comments import Comment as CommentModel
from models.comments import CommentReport, CommentRevision
from models.comments import CommentStatus as Status
from models.errors import Forbidden, UserError, UserErrors
from models.policy import Action
from models.targets import load_published_target, require_participant
from models.text import clean_reason, clean_text

BODY_MAX, REASON_MAX = 1000, 200
EDIT_MINUTES = 10
REPORTS_TO_HIDE = 3


def clean_body(text: str | None) -> str:
    return clean_text(text, "body", 1, BODY_MAX, "INVALID_COMMENT")


class CommentPayload(BaseMutation):
    class Meta:
        abstract = True

    comment = graphene.Field(Comment)
    login_required = True


class AddCommentInput(graphene.InputObjectType):
    target_id = graphene.ID(required=True, description="已发布的公开事项")
    body = graphene.String(required=True)
    parent_id = graphene.ID(description="回复哪条评论（只能回复一级评论）")


class AddComment(CommentPayload):
    class Meta:
        name = "AddCommentPayload"
        description = "评论已发布的事项（本村已核实的村民和工作人员）；工作人员的评论标为官方答复"

    class Arguments:
        input = AddCommentInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        target = await load_published_target(data.target_id)
        await require_participant(ctx, target.region_path)
        user_id = ctx.viewer.user_id
        await throttle(ctx, f"comment:{user_id}", 10, 60)
        await throttle(ctx, f"comment-day:{user_id}", 200, 86400)
        body = clean_body(data.body)
        parent = None
        if data.parent_id:
            parent = await fetch_input(CommentModel, data.parent_id, "Comment", "parentId")
            if parent.target_id != target.id or parent.target_type != "Disclosure":
                raise UserErrors(UserError("NOT_FOUND", "parentId"))
            if parent.parent_id is not None:
                raise UserErrors(UserError("REPLY_DEPTH", "parentId"))
        comment = await CommentModel.create(
            target_type="Disclosure",
            target_id=target.id,
            region_id=target.region_id,
            parent=parent,
            author_id=user_id,
            body=body,
            official=ctx.viewer.can(Action.COMMENT_AS_STAFF, target.region_path),
        )
        await record(
            ctx.viewer,
            "comment.add",
            comment,
            region_id=target.region_id,
            after={"body": body, "target": target.id},
        )
        return {"comment": comment}


class EditCommentInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    body = graphene.String(required=True)


class EditComment(CommentPayload):
    class Meta:
        name = "EditCommentPayload"
        description = f"作者在发表后{EDIT_MINUTES}分钟内修改评论（保留修改记录）"

    class Arguments:
        input = EditCommentInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        comment = await fetch_input(CommentModel, data.id, "Comment", "id")
        if comment.author_id != ctx.viewer.user_id:
            raise Forbidden()
        if comment.status != Status.VISIBLE:
            raise UserErrors(UserError("WRONG_STATUS", "id", {"status": str(comment.status)}))
        if datetime.now(UTC) - comment.created_at > timedelta(minutes=EDIT_MINUTES):
            raise UserErrors(UserError("EDIT_WINDOW_CLOSED", "id", {"minutes": EDIT_MINUTES}))
        body = clean_body(data.body)
        await CommentRevision.create(comment=comment, body=comment.body)
        before = comment.body
        comment.body, comment.edited_at = body, datetime.now(UTC)
        await comment.save(update_fields=["body", "edited_at"])
        await record(
            ctx.viewer,
            "comment.edit",
            comment,
            region_id=comment.region_id,
            before={"body": before},
            after={"body": body},
        )
        return {"comment": comment}


class DeleteCommentInput(graphene.InputObjectType):
    id = graphene.ID(required=True)


class DeleteComment(CommentPayload):
    class Meta:
        name = "DeleteCommentPayload"
        description = "作者删除自己的评论：内容不再显示，留下“已删除”占位"

    class Arguments:
        input = DeleteCommentInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        comment = await fetch_input(CommentModel, data.id, "Comment", "id")
        if comment.author_id != ctx.viewer.user_id:
            raise Forbidden()
        if comment.status != Status.DELETED:  # a retry changes nothing
            before = {"body": comment.body, "status": str(comment.status)}
            comment.status = Status.DELETED
            await comment.save(update_fields=["status"])
            await record(
                ctx.viewer, "comment.delete", comment, region_id=comment.region_id, before=before
            )
        return {"comment": comment}


class ReportCommentInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True)


class ReportComment(CommentPayload):
    class Meta:
        name = "ReportCommentPayload"
        description = f"举报不当评论；{REPORTS_TO_HIDE}位不同村民举报后自动隐藏，等待乡镇干部处理"

    class Arguments:
        input = ReportCommentInput(required=True)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        comment = await fetch_input(CommentModel, data.id, "Comment", "id")
        await require_participant(ctx, await ctx.region_path(comment.region_id))
        if comment.author_id == ctx.viewer.user_id:
            raise UserErrors(UserError("OWN_COMMENT", "id"))
        reason = clean_reason(data.reason, high=REASON_MAX)
        try:
            await CommentReport.create(
                comment=comment, reporter_id=ctx.viewer.user_id, reason=reason
            )
        except IntegrityError:  # once per reporter: a second report changes nothing
            return {"comment": comment}
        await CommentModel.filter(id=comment.id).update(report_count=F("report_count") + 1)
        await comment.refresh_from_db(fields=["report_count", "status"])
        if comment.report_count >= REPORTS_TO_HIDE and comment.status == Status.VISIBLE:
            comment.status = Status.REPORTED
            comment.hidden_reason = "多位村民举报，等待乡镇审核"
            await comment.save(update_fields=["status", "hidden_reason"])
            await record(
                ctx.viewer,
                "comment.auto_hide",
                comment,
                region_id=comment.region_id,
                before={"body": comment.body},
                after={"reports": comment.report_count},
            )
        return {"comment": comment}


class ModerateCommentInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True, description="公开的理由")


class HideComment(CommentPayload):
    class Meta:
        name = "HideCommentPayload"
        description = "乡镇干部隐藏评论，须写公开理由；原文保留在审计日志"

    class Arguments:
        input = ModerateCommentInput(required=True)

    permission = Action.COMMENT_MODERATE
    to_status = Status.HIDDEN
    action = "comment.hide"

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        comment = await fetch_input(CommentModel, data.id, "Comment", "id")
        cls.authorize(ctx, await ctx.region_path(comment.region_id))
        if comment.status == Status.DELETED:
            raise UserErrors(UserError("WRONG_STATUS", "id", {"status": str(comment.status)}))
        reason = clean_reason(data.reason, high=REASON_MAX)
        before = {"body": comment.body, "status": str(comment.status)}
        comment.status = cls.to_status
        comment.hidden_reason = reason if cls.to_status == Status.HIDDEN else None
        comment.hidden_by_id = ctx.viewer.user_id
        await comment.save(update_fields=["status", "hidden_reason", "hidden_by_id"])
        await record(
            ctx.viewer,
            cls.action,
            comment,
            region_id=comment.region_id,
            before=before,
            after={"status": str(comment.status), "reason": reason},
        )
        return {"comment": comment}


class RestoreComment(HideComment):
    class Meta:
        name = "RestoreCommentPayload"
        description = "乡镇干部恢复被隐藏或被举报的评论，须写公开理由"

    class Arguments:
        input = ModerateCommentInput(required=True)

    to_status = Status.VISIBLE
    action = "comment.restore"
