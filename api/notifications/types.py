"""The Notification node: readable by its owner only."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.compiled import by_class
from api.context import Info
from api.relay import Node, register_node, target_node
from models.notifications import NotificationEvent
from notifications.inbox import own_notification
from notifications.live import LiveEvent
from notifications.texts import notification_text


@register_node
class Notification(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "站内通知（仅接收人本人可见）"

    kind = graphene.String(
        required=True, description="FLAG_STATUS、FLAG_ASSIGNED、FLAG_ESCALATED、FLAG_DUE_SOON 等"
    )
    text = graphene.String(required=True, description="简短说明，按读者的语言")
    target = graphene.Field(Node, description="所涉对象（读者无权查看时为空）")
    seq = graphene.Int(required=True, description="本人通知的序号，逐条递增")
    created_at = graphene.DateTime(required=True)
    read_at = graphene.DateTime()

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return isinstance(root, (NotificationEvent, LiveEvent))  # LiveEvent: over WebSocket

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        # like a missing id for anyone but the recipient
        return await own_notification(info.context.viewer, int(pk))

    @staticmethod
    def resolve_text(root: NotificationEvent | LiveEvent, info: Info) -> str:
        return notification_text(root.kind, root.payload, info.context.lang)

    @staticmethod
    async def resolve_target(root: NotificationEvent | LiveEvent, info: Info) -> Any:
        return await target_node(info, root.subject_type, root.subject_id)


class NotificationConnection(relay.Connection):
    class Meta:
        node = Notification
