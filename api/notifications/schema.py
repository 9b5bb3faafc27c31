"""The inbox queries and mutation; merged into the root types."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Info
from api.notifications.mutations import MarkNotificationsRead
from api.notifications.types import NotificationConnection
from api.relay import connection_args, keyset_page
from notifications.inbox import inbox, unread_count


class NotificationQueries(graphene.ObjectType):
    notifications = graphene.Field(
        NotificationConnection,
        required=True,
        unread_only=graphene.Boolean(description="只列未读的"),
        **connection_args(),
        description="本人的站内通知，最新在前（须登录）",
    )
    unread_notification_count = graphene.Int(required=True, description="本人未读通知数（须登录）")

    @staticmethod
    async def resolve_notifications(
        root: Any,
        info: Info,
        unread_only: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        qs = inbox(info.context.viewer, bool(unread_only))
        return await keyset_page(qs, first, after, key="seq", descending=True)

    @staticmethod
    async def resolve_unread_notification_count(root: Any, info: Info) -> int:
        return await unread_count(info.context.viewer)


class NotificationMutations(graphene.ObjectType):
    mark_notifications_read = MarkNotificationsRead.Field(
        description="把本人的通知标为已读：ids 中的，或 all 为真时全部（他人的 id 视同不存在）"
    )
