"""Marking one's own notifications read."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.mutations import BaseMutation
from api.relay import decode_id
from models.errors import ErrorCode, UserError, UserErrors
from notifications.inbox import MAX_IDS, mark_read, unread_count


class MarkNotificationsReadInput(graphene.InputObjectType):
    ids = graphene.List(graphene.NonNull(graphene.ID), description="要标为已读的通知")
    all = graphene.Boolean(description="为真时标记本人全部通知")


class MarkNotificationsRead(BaseMutation):
    class Meta:
        name = "MarkNotificationsReadPayload"

    class Arguments:
        input = MarkNotificationsReadInput(required=True)

    marked = graphene.Int(required=True, description="本次新标为已读的条数")
    unread_count = graphene.Int(required=True, description="之后仍未读的条数")

    login_required = True
    error_defaults = {"marked": 0, "unread_count": 0}

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        if len(data.ids or []) > MAX_IDS:  # before decoding thousands of ids
            raise UserErrors(UserError(ErrorCode.TOO_MANY_ITEMS, "ids", {"max": MAX_IDS}))
        ids = [decode_id(i, "Notification", "ids") for i in data.ids or []]
        marked = await mark_read(ctx.viewer, ids, bool(data.all), ctx.settings.clock())
        return {"marked": marked, "unread_count": await unread_count(ctx.viewer)}
