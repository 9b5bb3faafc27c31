"""The Comment node: hidden text is shown only to the officials who moderate it."""

from __future__ import annotations

from typing import Any, cast

import graphene
from aiodataloader import DataLoader
from graphene import relay
from tortoise.functions import Count

from api.accounts.types import User
from api.compiled import by_class
from api.context import Info
from api.loaders import UserLoader
from api.relay import Node, register_node, target_node, to_global_id
from api.rows import is_row_of
from api.sync import resolve_server_time, server_time_field
from models.comments import Comment as CommentModel
from models.comments import CommentStatus as CommentStatusEnum
from models.policy import may_moderate_comments

CommentStatus = graphene.Enum.from_enum(CommentStatusEnum)
REPLIES_SHOWN = 100


class RepliesLoader(DataLoader):
    async def batch_load_fn(self, parent_ids: list[int]) -> list[list[CommentModel]]:
        grouped: dict[int, list[CommentModel]] = {p: [] for p in parent_ids}
        for reply in await CommentModel.filter(parent_id__in=parent_ids).order_by("id"):
            replies = grouped[cast(int, reply.parent_id)]  # only replies match parent_id__in
            if len(replies) < REPLIES_SHOWN:
                replies.append(reply)
        return [grouped[p] for p in parent_ids]


async def comment_counts(target_type: str, ids: list[int]) -> dict[int, int]:
    """Visible comments and replies per target, in one grouped query."""
    rows = (
        await CommentModel.filter(
            target_type=target_type, target_id__in=ids, status=CommentStatusEnum.VISIBLE
        )
        .group_by("target_id")
        .annotate(n=Count("id"))
        .values("target_id", "n")
    )
    return {r["target_id"]: r["n"] for r in rows}


class CommentCountLoader(DataLoader):
    target_type = "Disclosure"

    async def batch_load_fn(self, ids: list[int]) -> list[int]:
        counts = await comment_counts(self.target_type, ids)
        return [counts.get(i, 0) for i in ids]


class LineCommentCountLoader(CommentCountLoader):
    target_type = "AccountLine"


@register_node
class Comment(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "评论。被隐藏的评论只显示公开的隐藏原因；作者删除后留下占位。"

    body = graphene.String(
        description="隐藏或删除后为空（作者本人和负责审核的乡镇干部仍可见被隐藏的内容）"
    )
    author = graphene.Field(User, required=True)
    official = graphene.Boolean(required=True, description="工作人员的答复")
    status = graphene.Field(CommentStatus, required=True)
    hidden_reason = graphene.String()
    target_id = graphene.ID(required=True)
    target = graphene.Field(Node, description="评论的事项（草稿或无权查看时为空）")
    parent_id = graphene.ID()
    replies = graphene.List(graphene.NonNull(lambda: Comment), required=True)
    created_at = graphene.DateTime(required=True)
    edited_at = graphene.DateTime()
    updated_at = graphene.DateTime(
        required=True, description="最近一次变化（发表、修改、隐藏、恢复、删除）的时间"
    )

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, CommentModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        return await CommentModel.get_or_none(id=int(pk)) if pk.isdigit() else None

    @staticmethod
    async def resolve_body(root: CommentModel, info: Info) -> str | None:
        if root.status == CommentStatusEnum.VISIBLE:
            return root.body
        if root.status == CommentStatusEnum.DELETED:
            return None
        ctx = info.context
        if ctx.viewer.user_id == root.author_id:  # their own words, hidden from others
            return root.body
        path = await ctx.region_path(root.region_id)
        return root.body if may_moderate_comments(ctx.viewer, path) else None

    @staticmethod
    def resolve_author(root: CommentModel, info: Info) -> Any:
        return info.context.loaders[UserLoader].load(root.author_id)

    @staticmethod
    def resolve_target_id(root: CommentModel, info: Info) -> str:
        return to_global_id(root.target_type, root.target_id)

    @staticmethod
    async def resolve_target(root: CommentModel, info: Info) -> Any:
        return await target_node(info, root.target_type, root.target_id)

    @staticmethod
    def resolve_parent_id(root: CommentModel, info: Info) -> str | None:
        return to_global_id("Comment", root.parent_id) if root.parent_id else None

    @staticmethod
    def resolve_replies(root: CommentModel, info: Info) -> Any:
        if root.parent_id is not None:
            return []
        return info.context.loaders[RepliesLoader].load(root.id)


class CommentConnection(relay.Connection):
    class Meta:
        node = Comment

    server_time = server_time_field()
    resolve_server_time = staticmethod(resolve_server_time)
