"""The short text of a notification in the reader's language, from its kind and payload.

Only what the payload holds and the kind says: never who flagged, so the text is safe for
every recipient the event was recorded for."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models.messages import EN

SHANGHAI = ZoneInfo("Asia/Shanghai")  # not from models.disclosures: it imports this package

# kind -> (zh, en); {status}, {due}, {month}, {count}, … come from `params` below
TEXTS: dict[str, tuple[str, str]] = {
    "FLAG_STATUS": ("您关注的问题反映：{status}", "A flag you follow: {status}"),
    "FLAG_ASSIGNED": ("有新的问题反映待处理", "A new flag waits for you"),
    "FLAG_ESCALATED": ("一条问题反映已上报到县里", "A flag was escalated to the county"),
    "FLAG_DUE_SOON": (
        "一条问题反映将于 {due} 到期，尚未答复",
        "A flag is due {due} and has no answer yet",
    ),
    "REVIEW_RETURNED": ("您提交的内容被退回修改", "Something you submitted was sent back"),
    "CLERK_REMINDER": (
        "{month} 有 {count} 项应公开事项即将到期",
        "{count} items for {month} are due soon",
    ),
    "NEW_DISCLOSURE": (
        "您关注的地方有新的{category}公开",
        "New {category} disclosure where you follow",
    ),
    "MISSING_ITEMS_REPORT": (
        "{month}：{villages} 个村共 {items} 项未按期公开",
        "{month}: {items} items missing in {villages} villages",
    ),
    "APPROVAL_NEEDED": ("有一项公开内容等待您审核", "An item waits for your approval"),
    "RISK_HITS": (
        "{month} 账目有 {count} 处风险提示待核查",
        "{count} risk notes on the {month} accounts wait for review",
    ),
    "COMMENT_REPLY": ("有人回复了您的评论", "Someone replied to your comment"),
    "MUST_READ_NOTICE": ("有一条必读通知，请及时查看", "A must-read notice was published"),
    "MUST_READ_REMINDER": (
        "您还有一条必读通知未确认已读，请打开查看",
        "A must-read notice still waits for you to read it",
    ),
    "FARMING_WARNING": (
        "紧急农技预警（{tags}），请立即查看",
        "Urgent farming warning ({tags}): read it now",
    ),
    "DISCLOSURE_RETRACTED": (
        "您收到过的一项{category}公开已被撤回，撤回理由已公开",
        "A {category} disclosure you were told of was retracted; the reason is public",
    ),
}

# (kind, payload's "variant") -> (zh, en), where one kind reads differently by case
VARIANTS: dict[tuple[str, str], tuple[str, str]] = {
    ("APPROVAL_NEEDED", "CORRECTION"): (
        "一项已公开内容的更正等待您审核",
        "A correction of a published item waits for your approval",
    ),
    ("APPROVAL_NEEDED", "MONTH"): (
        "{month} 账目等待您审核",
        "The accounts for {month} wait for your approval",
    ),
    ("APPROVAL_NEEDED", "MONTH_CORRECTION"): (
        "{month} 账目的更正等待您审核",
        "A correction of the {month} accounts waits for your approval",
    ),
    ("FARMING_WARNING", "CORRECTION"): (
        "紧急农技预警（{tags}）有更正，请立即查看",
        "An urgent farming warning ({tags}) was corrected: read it now",
    ),
    ("COMMENT_REPLY", "OFFICIAL"): (
        "工作人员回复了您的评论（官方答复）",
        "An official answered your comment",
    ),
}

STATUS: dict[str, tuple[str, str]] = {
    "SUBMITTED": ("已提交", "submitted"),
    "ACCEPTED": ("已受理", "accepted"),
    "INVESTIGATING": ("调查中", "under investigation"),
    "RESOLVED": ("已处理，请确认", "resolved, please confirm"),
    "REJECTED": ("不予受理", "rejected"),
    "CONFIRMED": ("已办结", "closed"),
    "REOPENED": ("已重新打开，转县里处理", "reopened, now with the county"),
    "ESCALATED": ("已超期，上报县里", "overdue, escalated to the county"),
}

# a new disclosure's category; a correction says so instead of "new"
CATEGORY: dict[str, tuple[str, str]] = {
    "FINANCE": ("财务", "finance"),
    "PARTY": ("党务", "party affairs"),
    "VILLAGE_AFFAIRS": ("村务", "village affairs"),
    "FARMING": ("农技", "farming"),
    "NOTICE": ("通知", "notice"),
}

# a farming item's tags, in a warning's text
TAGS: dict[str, tuple[str, str]] = {
    "CROP": ("作物", "crops"),
    "LIVESTOCK": ("畜牧", "livestock"),
    "PEST": ("病虫害", "pests"),
    "POLICY": ("政策", "policy"),
    "WEATHER": ("天气", "weather"),
}

GENERIC = ("您有一条新通知", "You have a new notification")


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == EN else pair[0]


def params(payload: dict[str, Any], lang: str) -> dict[str, Any]:
    status = str(payload.get("status", ""))
    category = str(payload.get("category", ""))
    due = ""
    if payload.get("due_at"):
        local = datetime.fromisoformat(payload["due_at"]).astimezone(SHANGHAI)
        due = local.strftime("%Y-%m-%d %H:%M")
    return {
        "status": pick(STATUS.get(status, (status, status)), lang),
        "due": due,
        "month": payload.get("month", ""),
        "count": payload.get("count", 0),
        "villages": payload.get("villages_missing", 0),
        "items": payload.get("items_missing", 0),
        "category": pick(CATEGORY.get(category, (category, category)), lang),
        "tags": ("、" if lang != EN else ", ").join(
            pick(TAGS.get(str(t), (str(t), str(t))), lang) for t in payload.get("tags") or []
        )
        or pick(CATEGORY["FARMING"], lang),
    }


CORRECTED = ("您关注的地方有{category}公开更正", "A {category} disclosure was corrected")


def notification_text(kind: str, payload: dict[str, Any], lang: str) -> str:
    variant = payload.get("variant", "")
    if kind == "FARMING_WARNING" and payload.get("correction"):
        variant = "CORRECTION"
    pair = VARIANTS.get((kind, str(variant)))
    if pair is None and kind == "NEW_DISCLOSURE" and payload.get("correction"):
        pair = CORRECTED
    template = pick(pair or TEXTS.get(kind, GENERIC), lang)
    return template.format(**params(payload, lang))
