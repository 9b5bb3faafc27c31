"""The deliveries query (system-wide admins) and the WeChat binding (the viewer's own)."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Info
from api.deliveries.mutations import BindWechat, UnbindWechat
from api.deliveries.types import DeliveryChannel, DeliveryConnection, DeliveryStatus
from api.inputs import enum_value
from api.relay import connection_args, keyset_page
from models.deliveries import Channel
from models.deliveries import DeliveryStatus as DeliveryStatusEnum
from notifications.bindings import deliveries_query, is_bound


class DeliveryQueries(graphene.ObjectType):
    deliveries = graphene.Field(
        DeliveryConnection,
        required=True,
        status=DeliveryStatus(),
        channel=DeliveryChannel(),
        **connection_args(),
        description="站外通知（短信、微信）的发送记录，最新在前（全系统管理员）",
    )
    wechat_bound = graphene.Boolean(required=True, description="本人是否已绑定微信（须登录）")

    @staticmethod
    async def resolve_deliveries(
        root: Any,
        info: Info,
        status: Any = None,
        channel: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        wanted = DeliveryStatusEnum(enum_value(status)) if status is not None else None
        on = Channel(enum_value(channel)) if channel is not None else None
        qs = deliveries_query(info.context.viewer, wanted, on)
        return await keyset_page(qs, first, after, descending=True)

    @staticmethod
    async def resolve_wechat_bound(root: Any, info: Info) -> bool:
        return await is_bound(info.context.viewer)


class DeliveryMutations(graphene.ObjectType):
    bind_wechat = BindWechat.Field(
        description="用小程序登录凭证绑定本人微信，以接收订阅消息（记入审计日志）"
    )
    unbind_wechat = UnbindWechat.Field(description="解除本人微信绑定（记入审计日志）")
