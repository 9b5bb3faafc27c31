"""SMS codes: ask for one, verify one's phone, sign in or reset a forgotten password by code."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import graphene

from api.accounts.mutations import signed_in
from api.accounts.types import AuthPayloadFields, User
from api.context import Context
from api.inputs import enum_value
from api.mutations import BaseMutation
from api.ratelimit import address_key, count_attempt, refund
from models.accounts import CodePurpose
from models.accounts import sms_codes as codes
from models.deliveries import DeliveryStatus
from models.errors import ErrorCode, UserErrors
from notifications.code_deliveries import finish_code_delivery, record_code_delivery
from notifications.sms import SmsError, SmsProvider, masked

log = logging.getLogger("cunwu.sms")
T = TypeVar("T")

SmsCodePurpose = graphene.Enum.from_enum(
    CodePurpose,
    description="验证码用途：VERIFY_PHONE 验证本人手机号（需登录），LOGIN 验证码登录，"
    "RESET_PASSWORD 找回密码",
)


def code_config(ctx: Context) -> codes.CodeConfig:
    settings = ctx.settings
    return codes.CodeConfig(
        secret_key=settings.secret_key,
        seconds=settings.sms_code_seconds,
        attempts=settings.sms_code_attempts,
    )


# Sends run after the answer: the provider's latency must not tell a known number from an
# unknown one (which gets no SMS), nor hold the request. Kept referenced until done.
_pending: set[asyncio.Task[None]] = set()


def send_later(provider: SmsProvider, message: codes.Outgoing) -> None:
    task = asyncio.create_task(_send(provider, message))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _send(provider: SmsProvider, message: codes.Outgoing) -> None:
    # recorded like every delivery (never the code): a provider's refusal is visible to admins
    row = await record_code_delivery(message, provider.name)
    try:
        result = await provider.send(
            message.phone,
            message.template,
            {"code": message.code},
            ref=f"code-{row.id}" if row else None,
        )
    except SmsError as exc:
        log.warning("SMS code to %s not sent: %s", masked(message.phone), exc.code)
        await finish_code_delivery(row, DeliveryStatus.FAILED, error=exc.code)
    except Exception as exc:  # never the exception's text: it may quote the parameters
        log.error("SMS code to %s not sent: %s", masked(message.phone), type(exc).__name__)
        await finish_code_delivery(row, DeliveryStatus.FAILED, error=type(exc).__name__)
    else:
        await finish_code_delivery(row, DeliveryStatus.SENT, message_id=result.message_id)


async def settle() -> None:
    """Wait for the codes being sent (tests; a stopping process)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)


async def count_check(ctx: Context) -> list[str]:
    """Code checks from one address, counted like failed sign-ins (refunded on success)."""
    settings = ctx.settings
    return await count_attempt(
        ctx,
        [
            (
                f"sms-check-ip:{address_key(ctx.ip)}",
                settings.login_attempts * 10,
                settings.login_window_seconds,
            )
        ],
    )


async def checking_code(ctx: Context, attempt: Callable[[], Awaitable[T]]) -> T:
    """Run `attempt` (a code check) counted per address; only a wrong code stays counted."""
    counted = await count_check(ctx)
    try:
        result = await attempt()
    except UserErrors as exc:
        if not any(e.code == ErrorCode.CODE_INVALID for e in exc.errors):
            await refund(ctx, counted)
        raise
    await refund(ctx, counted)
    return result


class RequestSmsCodeInput(graphene.InputObjectType):
    phone = graphene.String(description="接收验证码的手机号；VERIFY_PHONE 时可省略（本人手机号）")
    purpose = SmsCodePurpose(required=True)


class RequestSmsCode(BaseMutation):
    class Meta:
        name = "RequestSmsCodePayload"
        description = (
            "发送短信验证码（6位，几分钟内有效，只能用一次）。LOGIN 和 RESET_PASSWORD 对未注册的"
            "号码也回答成功，但不发送短信。同一号码每分钟1条、每小时5条、每天10条。"
        )

    class Arguments:
        input = RequestSmsCodeInput(required=True)

    ok = graphene.Boolean(required=True)
    expires_in = graphene.Int(description="验证码有效秒数")
    resend_after = graphene.Int(description="多少秒后可以再次获取")
    public = True
    atomic = False  # the code and its audit entry commit in the operation
    error_defaults = {"ok": False}

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        settings = ctx.settings
        purpose = CodePurpose(enum_value(data.purpose))
        phone = codes.target_phone(ctx.viewer, purpose, data.phone)
        # Counted before looking the number up, so unknown numbers are limited alike.
        await count_attempt(
            ctx,
            [(f"sms-phone:{w}:{phone}", n, w) for n, w in settings.sms_code_phone_limits]
            + [(f"sms-ip:{w}:{address_key(ctx.ip)}", n, w) for n, w in settings.sms_code_ip_limits],
        )
        message = await codes.issue(ctx.viewer, code_config(ctx), purpose, phone, settings.clock())
        if message is not None:
            send_later(ctx.services.sms, message)
        per_phone = [w for n, w in settings.sms_code_phone_limits if n == 1]
        return {
            "ok": True,
            "expires_in": settings.sms_code_seconds,
            "resend_after": min(per_phone, default=0),
        }


class VerifyPhoneInput(graphene.InputObjectType):
    code = graphene.String(required=True, description="短信收到的6位验证码")


class VerifyPhone(BaseMutation):
    class Meta:
        name = "VerifyPhonePayload"
        description = "输入发到本人手机的验证码（VERIFY_PHONE），验证手机号；之后才会收到短信通知"

    class Arguments:
        input = VerifyPhoneInput(required=True)

    user = graphene.Field(User)
    login_required = True
    atomic = False  # a wrong code's spent attempt and audit entry must stay

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user = await checking_code(
            ctx,
            lambda: codes.verify_phone(
                ctx.viewer, code_config(ctx), data.code, ctx.settings.clock()
            ),
        )
        return {"user": user}


class LoginWithSmsCodeInput(graphene.InputObjectType):
    phone = graphene.String(required=True)
    code = graphene.String(required=True, description="LOGIN 用途的短信验证码")


class LoginWithSmsCode(AuthPayloadFields, BaseMutation):
    class Meta:
        name = "LoginWithSmsCodePayload"
        description = "短信验证码登录（忘记密码的村民）；同时验证手机号"

    class Arguments:
        input = LoginWithSmsCodeInput(required=True)

    public = True
    atomic = False

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user, pair = await checking_code(
            ctx,
            lambda: codes.login_with_code(
                ctx.viewer,
                ctx.settings.auth,
                code_config(ctx),
                phone=data.phone,
                code=data.code,
                now=ctx.settings.clock(),
                user_agent=ctx.user_agent,
            ),
        )
        return await signed_in(ctx, user, pair)


class ResetPasswordInput(graphene.InputObjectType):
    phone = graphene.String(required=True)
    code = graphene.String(required=True, description="RESET_PASSWORD 用途的短信验证码")
    new_password = graphene.String(required=True)


class ResetPassword(AuthPayloadFields, BaseMutation):
    class Meta:
        name = "ResetPasswordPayload"
        description = "凭短信验证码设置新密码：其他设备上的登录全部失效，并在本设备登录"

    class Arguments:
        input = ResetPasswordInput(required=True)

    public = True
    atomic = False

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        user, pair = await checking_code(
            ctx,
            lambda: codes.reset_password(
                ctx.viewer,
                ctx.services.passwords,
                ctx.settings.auth,
                code_config(ctx),
                phone=data.phone,
                code=data.code,
                new_password=data.new_password,
                now=ctx.settings.clock(),
                user_agent=ctx.user_agent,
            ),
        )
        return await signed_in(ctx, user, pair)
