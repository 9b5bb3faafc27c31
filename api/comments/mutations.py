"""Commenting, editing within ten minutes, deleting, reporting and moderating comments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import graphene

from api.comments.types import Comment
from api.context import Context
from api.mutations import BaseMutation
from api.ratelimit import throttle
from api.relay import decode_id
from api.targets import decode_target
from models.comments import Comment as CommentModel
from models.comments.workflow import (
    EDIT_MINUTES,
    REPORTS_TO_HIDE,
    add_comment,
    delete_comment,
    edit_comment,
    hide_comment,
    report_comment,
    restore_comment,
)
from models.policy import Action, Viewer


class CommentPayload(BaseMutation):
    class Meta:
        abstract = True

    comment = graphene.Field(Comment)
    login_required = True


class AddCommentInput(graphene.InputObjectType):
    target_id = graphene.ID(
        required=True, description="已发布的公开事项，或已公开月份账目中的一行（AccountLine）"
    )
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
        kind, target_id = decode_target(data.target_id)
        parent_id = decode_id(data.parent_id, "Comment", "parentId") if data.parent_id else None
        user_id = ctx.viewer.user_id
        await throttle(ctx, f"comment:{user_id}", 10, 60)
        await throttle(ctx, f"comment-day:{user_id}", 200, 86400)
        comment = await add_comment(ctx.viewer, target_id, data.body, parent_id, target_type=kind)
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
        return {"comment": await edit_comment(ctx.viewer, decode_id(data.id, "Comment"), data.body)}


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
        return {"comment": await delete_comment(ctx.viewer, decode_id(data.id, "Comment"))}


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
        comment_id = decode_id(data.id, "Comment")
        return {"comment": await report_comment(ctx.viewer, comment_id, data.reason)}


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
    operation: ClassVar[Callable[[Viewer, int, str | None], Awaitable[CommentModel]]] = hide_comment

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        comment_id = decode_id(data.id, "Comment")
        return {"comment": await cls.operation(ctx.viewer, comment_id, data.reason)}


class RestoreComment(HideComment):
    class Meta:
        name = "RestoreCommentPayload"
        description = "乡镇干部恢复被隐藏或被举报的评论，须写公开理由"

    class Arguments:
        input = ModerateCommentInput(required=True)

    operation = restore_comment
