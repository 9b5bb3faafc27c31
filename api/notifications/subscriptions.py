"""`notificationAdded`: the viewer's notifications as they are recorded, over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import graphene

from api.context import Context, Info
from api.loaders import Loaders
from api.notifications.types import Notification
from models.errors import BadUserInput, ServiceUnavailable
from notifications.live import Event, Hub, stream


class NotificationSubscriptions(graphene.ObjectType):
    notification_added = graphene.Field(
        Notification,
        required=True,
        since=graphene.Int(
            description="先补发序号大于此值的通知（断线重连时填最后收到的 seq）；不填则只推送新的"
        ),
        description="本人的新通知，按 seq 顺序、每条一次（须登录，仅 WebSocket）",
    )

    @staticmethod
    async def subscribe_notification_added(
        root: Any, info: Info, since: int | None = None
    ) -> AsyncIterator[Event]:
        # checked here, not in the generator: a refusal is the subscription's `error`
        ctx = info.context
        user = ctx.viewer.require_user()
        if since is not None and since < 0:
            raise BadUserInput("SINCE_NEGATIVE")
        hub = ctx.services.live
        if hub is None:
            raise ServiceUnavailable()
        return events(ctx, hub, user.id, since)


async def events(ctx: Context, hub: Hub, user_id: int, since: int | None) -> AsyncIterator[Event]:
    # closed with this generator (a `complete`, a closed socket): it unsubscribes at once
    async with aclosing(stream(hub, user_id, since)) as events:
        async for event in events:
            # each event's execution gets fresh loaders: the socket's context lives for
            # hours and a target read an hour ago is not the target now
            ctx.loaders = Loaders(ctx.services.region_cache)
            yield event
