"""Comment queries and mutations, merged into the root types by api.schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import graphene

from api.comments.mutations import (
    AddComment,
    DeleteComment,
    EditComment,
    HideComment,
    ReportComment,
    RestoreComment,
)
from api.comments.types import CommentConnection
from api.context import Info
from api.inputs import datetime_arg
from api.relay import Page, argument_id, connection_args, keyset_page, page_size
from api.sync import change_page, parse_change_cursor, server_time, with_server_time
from models.comments import Comment as CommentModel
from models.comments.sync import changed_since
from models.comments.workflow import own_comments


async def comment_page(
    target_type: str, target_id: int, first: int | None, after: str | None
) -> Page:
    """One page of an item's top-level comments, oldest first."""
    qs = CommentModel.filter(target_type=target_type, target_id=target_id, parent_id=None)
    return await keyset_page(qs, first, after)


class CommentQueries(graphene.ObjectType):
    comments = graphene.Field(
        CommentConnection,
        required=True,
        target_id=graphene.ID(required=True),
        updated_since=graphene.DateTime(
            description=(
                "增量同步：此时刻及以后有变化的评论和回复（平铺，含被隐藏、已删除的占位），"
                "按 (updatedAt, id) 从早到晚"
            )
        ),
        **connection_args(),
        description="某事项的一级评论（最早的在前），每条带其回复",
    )

    my_comments = graphene.Field(
        CommentConnection,
        required=True,
        **connection_args(),
        description="我的评论：自己写的评论和回复，最新的在前，含被隐藏的（附原因）和已删除的；须登录",
    )

    @staticmethod
    async def resolve_my_comments(
        root: Any, info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        return await keyset_page(own_comments(info.context.viewer), first, after, descending=True)

    @staticmethod
    async def resolve_comments(
        root: Any,
        info: Info,
        target_id: str,
        updated_since: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        kind, pk = argument_id(target_id)
        at = server_time()  # before the read (api.sync)
        if updated_since is None:
            return with_server_time(await comment_page(kind, pk, first, after), at)
        size = page_size(first)
        since = cast(datetime, datetime_arg(updated_since))
        rows = await changed_since(kind, pk, since, parse_change_cursor(after), size + 1)
        return with_server_time(change_page(rows, size), at)


class CommentMutations(graphene.ObjectType):
    add_comment = AddComment.Field()
    edit_comment = EditComment.Field()
    delete_comment = DeleteComment.Field()
    report_comment = ReportComment.Field()
    hide_comment = HideComment.Field()
    restore_comment = RestoreComment.Field()
