"""Entering and forgetting one's own ID number: the only place the API takes one."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.mutations import BaseMutation
from api.ratelimit import address_key, count_attempt
from models.errors import ErrorCode, fail
from models.subsidies import operations

# An ID number is 18 characters; room for spaces typed between the groups, no more.
MAX_INPUT = 40


class SetMyIdNumberInput(graphene.InputObjectType):
    id_number = graphene.String(
        required=True, description="本人的18位居民身份证号码；只保存其加密摘要，不再显示"
    )


class SetMyIdNumber(BaseMutation):
    class Meta:
        name = "SetMyIdNumberPayload"
        description = (
            "登记本人身份证号，用于“我的补贴”：只保存号码的加密摘要（HMAC），号码不保存、"
            "不再显示。须已验证手机号；每人每天最多尝试5次（含失败）"
        )

    class Arguments:
        input = SetMyIdNumberInput(required=True)

    id_number_set = graphene.Boolean(required=True, description="本人是否已登记身份证号")
    login_required = True
    error_defaults = {"id_number_set": False}

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user = ctx.viewer.require_user()
        settings = ctx.settings
        window = settings.id_number_window_seconds
        # Every call counts, failures included: trying numbers to see which are taken, or
        # which one the check digit accepts, is slow.
        await count_attempt(
            ctx,
            [
                (f"id-number:{user.id}", settings.id_number_attempts, window),
                (f"id-number-ip:{address_key(ctx.ip)}", settings.id_number_ip_attempts, window),
            ],
        )
        raw = data.id_number or ""
        if len(raw) > MAX_INPUT:
            raise fail(ErrorCode.INVALID_ID_NUMBER, "idNumber")
        user = await operations.set_my_id_number(ctx.viewer, raw, settings.clock())
        return {"id_number_set": user.id_number_hash is not None}


class ClearMyIdNumberInput(graphene.InputObjectType):
    confirm = graphene.Boolean(description="可省略")


class ClearMyIdNumber(BaseMutation):
    class Meta:
        name = "ClearMyIdNumberPayload"
        description = "删除本人登记的身份证号摘要；“我的补贴”随之为空，可重新登记"

    class Arguments:
        input = ClearMyIdNumberInput(required=False, default_value={})

    id_number_set = graphene.Boolean(required=True)
    login_required = True
    error_defaults = {"id_number_set": True}

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user = await operations.clear_my_id_number(ctx.viewer)
        return {"id_number_set": user.id_number_hash is not None}
