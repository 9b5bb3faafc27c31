"""The Delivery node, for system-wide admins."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.accounts.types import User
from api.compiled import by_class
from api.context import Info
from api.jobs.types import system_admins_only
from api.relay import Node, register_node
from models.accounts import User as UserModel
from models.deliveries import Channel as ChannelEnum
from models.deliveries import Delivery as DeliveryModel
from models.deliveries import DeliveryStatus as DeliveryStatusEnum
from models.notifications import NotificationEvent

# kinds whose recipients are a flag's flagger and supporters
IDENTITY_KINDS = ("FLAG_STATUS",)

DeliveryStatus = graphene.Enum(
    "DeliveryStatus",
    [(s.name, s.value) for s in DeliveryStatusEnum],
    description=(
        "SENDING 发送中（或结果未知），RETRYING 暂时失败、稍后重试，SENT 服务商已受理，"
        "FAILED 失败（不再重试），SKIPPED 未发送（该渠道不可用，原因见 lastError）"
    ),
)
DeliveryChannel = graphene.Enum(
    "DeliveryChannel",
    [(c.name, c.value) for c in ChannelEnum],
    description="SMS 短信，WECHAT 微信订阅消息",
)


@register_node
class Delivery(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "一条站外通知（短信或微信）的发送记录（仅全系统管理员可见）"

    user = graphene.Field(
        User, description="接收人（含问题反映进展的为空：收到的人就是反映人或附议人）"
    )
    channel = graphene.Field(DeliveryChannel, required=True)
    provider = graphene.String(required=True, description="aliyun、tencent、wechat、log")
    template = graphene.String(
        required=True, description="本系统的模板名（如 NOTIFY_FLAG、DIGEST）"
    )
    event_count = graphene.Int(required=True, description="所含通知条数")
    digest = graphene.Boolean(required=True, description="是否为汇总")
    status = graphene.Field(DeliveryStatus, required=True)
    provider_message_id = graphene.String(description="服务商的消息编号（BizId、SerialNo、msgid）")
    attempts = graphene.Int(required=True)
    last_error = graphene.String(description="最近一次失败或未发送的原因")
    created_at = graphene.DateTime(required=True)
    sent_at = graphene.DateTime()

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return isinstance(root, DeliveryModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        return await system_admins_only(info, DeliveryModel, pk)

    @staticmethod
    async def resolve_user(root: DeliveryModel, info: Info) -> Any:
        # FLAG_STATUS goes only to a flag's flagger and supporters: naming its recipient
        # would tell a system admin who flagged, which admins may never learn
        if root.event_ids and await NotificationEvent.exists(
            id__in=root.event_ids, kind__in=IDENTITY_KINDS
        ):
            return None
        return await UserModel.get_or_none(id=root.user_id)

    @staticmethod
    def resolve_channel(root: DeliveryModel, info: Info) -> str:
        return ChannelEnum(root.channel).value

    @staticmethod
    def resolve_status(root: DeliveryModel, info: Info) -> str:
        return DeliveryStatusEnum(root.status).value

    @staticmethod
    def resolve_event_count(root: DeliveryModel, info: Info) -> int:
        return len(root.event_ids or [])


class DeliveryConnection(relay.Connection):
    class Meta:
        node = Delivery
