"""The `deliver` job: one SMS or WeChat message for one user (one event, or a digest of many),
recorded as a Delivery row before and after it is sent.

Idempotence: the row is found again by its dedup key (channel, user, digest or not, first
event id), so a job run again after SENT does nothing. The window left: the provider
accepted the message and the process died before SENT was committed. The row is then still
SENDING and the next attempt sends again (at least once, never silently lost); both
messages carry the delivery id in the provider's correlation field (Aliyun OutId, Tencent
SessionContext), so receipts and the providers' consoles tie them to the one row.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.accounts import User
from models.deliveries import Channel, Delivery, DeliveryStatus, WechatBinding
from models.jobs import Job
from models.jobs.handlers import JobContext, job_handler
from models.notifications import NotificationEvent
from notifications.texts import SHANGHAI, STATUS
from notifications.wechat import WechatError

log = logging.getLogger("cunwu.deliver")

DELIVER = "deliver"

# A short zh label per kind for SMS and WeChat parameters: at most 20 characters, no names,
# no links (the providers' templates hold the fixed text around it).
LABELS: dict[str, str] = {
    "FLAG_STATUS": "问题反映{status}",
    "FLAG_ASSIGNED": "有新的问题反映待处理",
    "FLAG_ESCALATED": "问题反映已上报县里",
    "FLAG_DUE_SOON": "问题反映即将到期",
    "REVIEW_RETURNED": "提交的内容被退回",
    "CLERK_REMINDER": "应公开事项即将到期",
    "MISSING_ITEMS_REPORT": "有村未按期公开",
    "NEW_DISCLOSURE": "村里有新的公开事项",
    "APPROVAL_NEEDED": "有事项待您审核",
    "RISK_HITS": "账目有风险提示",
    "COMMENT_REPLY": "您的留言有新回复",
    "MUST_READ_NOTICE": "有一条必读通知",
    "MUST_READ_REMINDER": "有必读通知尚未阅读",
    "FARMING_WARNING": "紧急农技预警，请立即查看",
    "DISCLOSURE_RETRACTED": "有一项公开已撤回",
}
GENERIC_LABEL = "您有一条新通知"

# Our template per group of kinds (one approved provider template each), and the digest's
GROUPS: dict[str, str] = {
    "FLAG_STATUS": "NOTIFY_FLAG",
    "FLAG_ASSIGNED": "NOTIFY_FLAG",
    "FLAG_ESCALATED": "NOTIFY_FLAG",
    "FLAG_DUE_SOON": "NOTIFY_FLAG",
    "REVIEW_RETURNED": "NOTIFY_TASK",
    "CLERK_REMINDER": "NOTIFY_TASK",
    "MISSING_ITEMS_REPORT": "NOTIFY_TASK",
    "APPROVAL_NEEDED": "NOTIFY_TASK",
    "RISK_HITS": "NOTIFY_TASK",
}
FLAG_TEMPLATE = "NOTIFY_FLAG"
NEWS = "NOTIFY_NEWS"  # NEW_DISCLOSURE, COMMENT_REPLY, MUST_READ_NOTICE and any other kind
DIGEST = "DIGEST"
NOTIFICATION_TEMPLATES = ("NOTIFY_FLAG", "NOTIFY_TASK", NEWS, DIGEST)
# WeChat subscription template fields (the template chosen in the mini program's console
# must have them): what happened, and when
WECHAT_TEXT_FIELD, WECHAT_TIME_FIELD = "thing1", "time2"

# reasons recorded on SKIPPED rows
PHONE_NOT_VERIFIED = "PHONE_NOT_VERIFIED"
DAILY_LIMIT = "SMS_DAILY_LIMIT"
NO_WECHAT = "NO_WECHAT_BINDING"
WECHAT_OFF = "WECHAT_NOT_CONFIGURED"
USER_INACTIVE = "USER_INACTIVE"


def label(event: NotificationEvent) -> str:
    text = LABELS.get(event.kind, GENERIC_LABEL)
    if "{status}" in text:
        status = str(event.payload.get("status", ""))
        text = text.format(status=STATUS.get(status, ("有新进展", ""))[0])
    return text[:20]


GROUP_NAMES = {"NOTIFY_FLAG": "问题反映", "NOTIFY_TASK": "待办", NEWS: "公开和通知"}


def summary(events: list[NotificationEvent]) -> str:
    """A digest's WeChat text: the counts per group, e.g. "共5条：问题反映3，公开和通知2"."""
    counts: dict[str, int] = {}
    for event in events:
        group = GROUPS.get(event.kind, NEWS)
        counts[group] = counts.get(group, 0) + 1
    parts = [f"{GROUP_NAMES[g]}{counts[g]}" for g in GROUP_NAMES if g in counts]
    text = f"共{len(events)}条：" + "，".join(parts)
    return text if len(text) <= 20 else f"您有{len(events)}条新通知"


def render(events: list[NotificationEvent], digest: bool) -> tuple[str, dict[str, str], str]:
    """(our template, its parameters, the WeChat text): a digest or several events count."""
    if digest or len(events) > 1:
        return DIGEST, {"count": str(len(events))}, summary(events)
    event = events[0]
    what = label(event)
    return GROUPS.get(event.kind, NEWS), {"what": what}, what


def dedup_key(channel: str, user_id: int, digest: bool, event_ids: list[int]) -> str:
    return f"{channel}:{user_id}:{'digest' if digest else 'event'}:{min(event_ids)}"


def shanghai_day(now: datetime) -> str:
    return now.astimezone(SHANGHAI).date().isoformat()


async def _last_attempt(ctx: JobContext) -> bool:
    job = await Job.get_or_none(id=ctx.job_id).only("id", "max_attempts")
    return job is None or ctx.attempt >= job.max_attempts


@job_handler(DELIVER)
async def deliver(ctx: JobContext) -> str:
    payload = ctx.payload
    user_id = int(payload["user_id"])
    channel = Channel(payload["channel"])
    event_ids = sorted({int(i) for i in payload.get("event_ids") or []})
    digest = bool(payload.get("digest"))
    if not event_ids:
        return "no events"
    events = await NotificationEvent.filter(id__in=event_ids, user_id=user_id).order_by("id")
    if not events:
        return "gone"  # the user or the events were deleted since
    template, params, wechat_text = render(events, digest)
    key = dedup_key(channel.value, user_id, digest, event_ids)

    # claim the row (and check the limits) with the user's row locked: two deliveries to one
    # number cannot both pass the daily limit
    async with in_transaction():
        user = await User.select_for_update().get_or_none(id=user_id)  # as it is now
        if user is None:
            return "gone"
        row = await Delivery.select_for_update().get_or_none(dedup_key=key)
        if row is None:
            try:
                async with in_transaction():  # a savepoint: the outer one survives a conflict
                    row = await Delivery.create(
                        user_id=user_id,
                        channel=channel,
                        template=template,
                        event_ids=[e.id for e in events],
                        digest=digest,
                        dedup_key=key,
                        created_at=ctx.now,
                    )
            except IntegrityError:  # another run of this job created it first
                row = await Delivery.get(dedup_key=key)
        if row.status in (DeliveryStatus.SENT, DeliveryStatus.SKIPPED):
            return row.status.value  # done before: never twice
        if row.status == DeliveryStatus.SENDING and row.attempts:
            log.warning(
                "delivery %s: an earlier attempt's outcome is unknown; sending again", row.id
            )
        row.template = template
        skip = await _unavailable(ctx, user, channel, row)
        row.attempts += 1
        row.provider = ctx.services.sms.name if channel == Channel.SMS else "wechat"
        if skip:
            row.status = DeliveryStatus.SKIPPED
            row.last_error = skip
        else:
            row.status = DeliveryStatus.SENDING
            if channel == Channel.SMS:
                row.phone = user.phone
                row.sms_day = shanghai_day(ctx.now)
        await row.save()
    if skip:
        return skip

    try:
        provider, message_id = await _send(
            ctx, user, channel, row, template, params, wechat_text, events
        )
    except Exception as exc:
        # SmsError and WechatError say whether to retry; anything else (Redis away, a bug) is
        # retried like a network error
        retryable = getattr(exc, "retryable", True)
        final = not retryable or await _last_attempt(ctx)
        row.status = DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING
        row.last_error = str(exc)[:300]
        await row.save(update_fields=["status", "last_error"])
        if retryable:
            raise  # the job retries with backoff, or ends dead on its last attempt
        return row.status.value
    row.status = DeliveryStatus.SENT
    row.provider = provider
    row.provider_message_id = (message_id or "")[:64] or None
    row.sent_at = ctx.clock()
    row.last_error = None
    async with in_transaction():
        await row.save(
            update_fields=["status", "provider", "provider_message_id", "sent_at", "last_error"]
        )
        await NotificationEvent.filter(id__in=row.event_ids, delivered_at__isnull=True).update(
            delivered_at=row.sent_at
        )
    return row.status.value


async def _unavailable(ctx: JobContext, user: User, channel: Channel, row: Delivery) -> str | None:
    """Why this user cannot get this message on this channel now, or None."""
    if not user.is_active:
        return USER_INACTIVE
    if channel == Channel.SMS:
        if user.phone_verified_at is None:
            return PHONE_NOT_VERIFIED
        limit = ctx.services.settings.sms_notify_daily_limit
        today = Delivery.filter(
            channel=Channel.SMS,
            phone=user.phone,
            sms_day=shanghai_day(ctx.now),
            status__in=[DeliveryStatus.SENT, DeliveryStatus.SENDING, DeliveryStatus.RETRYING],
        ).exclude(id=row.id)
        # a flag's news has its own allowance: replies, notices and digests (which others
        # can cause) must not use up the SMS that answers someone's complaint
        if row.template == FLAG_TEMPLATE:
            today = today.filter(template=FLAG_TEMPLATE)
        else:
            today = today.exclude(template=FLAG_TEMPLATE)
        used = await today.count()
        if used >= limit:
            return DAILY_LIMIT
        return None
    if getattr(ctx.services, "wechat", None) is None:
        return WECHAT_OFF
    if not await WechatBinding.exists(user_id=user.id):
        return NO_WECHAT
    return None


async def _send(
    ctx: JobContext,
    user: User,
    channel: Channel,
    row: Delivery,
    template: str,
    params: dict[str, str],
    wechat_text: str,
    events: list[NotificationEvent],
) -> tuple[str, str | None]:
    ref = f"delivery-{row.id}"
    if channel == Channel.SMS:
        sms = ctx.services.sms
        result = await sms.send(user.phone, template, params, ref=ref)
        return result.provider, result.message_id
    wechat: Any = ctx.services.wechat
    binding = await WechatBinding.get(user_id=user.id)
    template_id = wechat.config.templates.get(template) or wechat.config.templates.get("NOTIFY")
    if not template_id:
        raise WechatError("NO_TEMPLATE", f"no template id for {template}", retryable=False)
    when = max(e.created_at for e in events).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    data = {WECHAT_TEXT_FIELD: wechat_text[:20], WECHAT_TIME_FIELD: when}
    msgid = await wechat.send_subscribe(binding.openid, template_id, data)
    return "wechat", msgid
