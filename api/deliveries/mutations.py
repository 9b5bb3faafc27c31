"""Binding and unbinding the viewer's WeChat."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.mutations import BaseMutation
from api.ratelimit import throttle
from notifications.bindings import bind_wechat, unbind_wechat

BIND_ATTEMPTS, BIND_WINDOW = 10, 3600  # per user: each attempt asks WeChat


class BindWechatInput(graphene.InputObjectType):
    code = graphene.String(required=True, description="小程序 wx.login 得到的登录凭证 code")


class BindWechat(BaseMutation):
    class Meta:
        name = "BindWechatPayload"

    class Arguments:
        input = BindWechatInput(required=True)

    bound = graphene.Boolean(required=True, description="之后是否已绑定微信")

    login_required = True
    atomic = False  # WeChat is asked first; the operation then writes in its own transaction
    error_defaults = {"bound": False}

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        await throttle(ctx, f"wechat-bind:{ctx.viewer.user_id}", BIND_ATTEMPTS, BIND_WINDOW)
        await bind_wechat(ctx.viewer, ctx.services.wechat, data.code, ctx.settings.clock())
        return {"bound": True}


class UnbindWechatInput(graphene.InputObjectType):
    confirm = graphene.Boolean(description="可省略")


class UnbindWechat(BaseMutation):
    class Meta:
        name = "UnbindWechatPayload"

    class Arguments:
        input = UnbindWechatInput(required=False, default_value={})

    bound = graphene.Boolean(required=True, description="之后是否已绑定微信（总为 false）")
    removed = graphene.Boolean(required=True, description="是否解除了一个绑定")

    login_required = True
    error_defaults = {"bound": False, "removed": False}

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        return {"bound": False, "removed": await unbind_wechat(ctx.viewer)}
