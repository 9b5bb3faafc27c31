"""A user binds or unbinds their WeChat (for subscription messages); system-wide admins list
deliveries."""

from __future__ import annotations

import hashlib
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models.audit import record
from models.deliveries import Channel, Delivery, DeliveryStatus, WechatBinding
from models.errors import ErrorCode, ServiceUnavailable, fail
from models.policy import SYSTEM, Action, Viewer
from notifications.wechat import WechatClient, WechatError


def openid_digest(openid: str) -> str:
    # the audit log says which WeChat identity without holding it in the clear
    return hashlib.sha256(openid.encode()).hexdigest()[:16]


async def bind_wechat(
    viewer: Viewer, client: WechatClient | None, code: str, now: datetime
) -> WechatBinding:
    """Exchange a mini program's login code for the openid and bind it to the viewer. The
    exchange happens before the transaction (no connection held while WeChat answers)."""
    user = viewer.require_user()
    code = (code or "").strip()
    if not code or len(code) > 128:
        raise fail(ErrorCode.WECHAT_CODE_INVALID, "code")
    if client is None:
        raise ServiceUnavailable("WeChat is not configured")
    try:
        openid = await client.code_to_openid(code)
    except WechatError as exc:
        if exc.retryable:
            raise ServiceUnavailable("WeChat did not answer") from exc
        raise fail(ErrorCode.WECHAT_CODE_INVALID, "code") from exc
    async with in_transaction():
        other = await WechatBinding.get_or_none(openid=openid)
        if other is not None and other.user_id != user.id:
            raise fail(ErrorCode.WECHAT_BOUND_ELSEWHERE, "code")
        if other is not None:
            return other  # the same binding again: nothing changes
        current = await WechatBinding.select_for_update().get_or_none(user_id=user.id)
        before = {"openid": openid_digest(current.openid)} if current else None
        try:
            if current is None:
                binding = await WechatBinding.create(user_id=user.id, openid=openid, created_at=now)
            else:
                current.openid, current.created_at = openid, now
                await current.save(update_fields=["openid", "created_at"])
                binding = current
        except IntegrityError:  # bound elsewhere at the same moment
            raise fail(ErrorCode.WECHAT_BOUND_ELSEWHERE, "code") from None
        await record(
            viewer,
            "wechat.bind",
            binding,
            region_id=None,
            before=before,
            after={"openid": openid_digest(openid)},
        )
        return binding


async def unbind_wechat(viewer: Viewer) -> bool:
    """Remove the viewer's binding; False when there was none (nothing recorded)."""
    user = viewer.require_user()
    binding = await WechatBinding.select_for_update().get_or_none(user_id=user.id)
    if binding is None:
        return False
    await record(
        viewer,
        "wechat.unbind",
        binding,
        region_id=None,
        before={"openid": openid_digest(binding.openid)},
        after=None,
    )
    await binding.delete()
    return True


async def is_bound(viewer: Viewer) -> bool:
    user = viewer.require_user()
    return await WechatBinding.exists(user_id=user.id)


def deliveries_query(
    viewer: Viewer, status: DeliveryStatus | None, channel: Channel | None
) -> QuerySet[Delivery]:
    # deliveries name users across every region: only region-less admins see them
    viewer.require(Action.JOBS_MANAGE, SYSTEM)
    qs = Delivery.all()
    if status is not None:
        qs = qs.filter(status=status)
    if channel is not None:
        qs = qs.filter(channel=channel)
    return qs
