"""Who hears about what, on which channel: categories of notification kinds, the defaults,
and each user's choices where they differ (rows of NotificationPreference) plus the
disclosure categories they muted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.transactions import in_transaction

from models.accounts import User
from models.audit import record
from models.errors import ErrorCode, UserError, UserErrors
from models.notifications import DisclosureMute, NotificationPreference
from models.policy import Viewer


class NotifyCategory(StrEnum):
    MY_FLAGS = "MY_FLAGS"  # the flags I raised or support changed status
    REPLIES = "REPLIES"  # someone answered my comment
    NEW_DISCLOSURES = "NEW_DISCLOSURES"  # something new is published where I live or follow
    WORK = "WORK"  # staff: what waits for me
    NOTICES = "NOTICES"  # must-read notices


class Mode(StrEnum):
    IMMEDIATE = "IMMEDIATE"
    DIGEST = "DIGEST"  # one message a day at 20:00 Beijing time
    OFF = "OFF"


class Channel(StrEnum):
    SMS = "SMS"
    WECHAT = "WECHAT"


CHANNELS = (Channel.SMS, Channel.WECHAT)

KINDS: dict[NotifyCategory, tuple[str, ...]] = {
    NotifyCategory.MY_FLAGS: ("FLAG_STATUS",),
    NotifyCategory.REPLIES: ("COMMENT_REPLY",),
    # FARMING_WARNING is urgent: at once on every channel not OFF, muted or not
    NotifyCategory.NEW_DISCLOSURES: ("NEW_DISCLOSURE", "FARMING_WARNING", "DISCLOSURE_RETRACTED"),
    NotifyCategory.WORK: (
        "FLAG_ASSIGNED",
        "FLAG_DUE_SOON",
        "FLAG_ESCALATED",
        "APPROVAL_NEEDED",
        "RISK_HITS",
        "REVIEW_RETURNED",
        "CLERK_REMINDER",
        "MISSING_ITEMS_REPORT",
    ),
    NotifyCategory.NOTICES: ("MUST_READ_NOTICE", "MUST_READ_REMINDER"),
}
# Kinds that go out on some channels only: a must-read notice not acknowledged after some
# days is re-sent by SMS (whoever binds WeChat has it there already, and reads the app).
ONLY_ON: dict[str, tuple[Channel, ...]] = {"MUST_READ_REMINDER": (Channel.SMS,)}
CATEGORY_OF_KIND: dict[str, NotifyCategory] = {
    kind: category for category, kinds in KINDS.items() for kind in kinds
}

# A villager hears of their own flags, replies and notices at once and of new disclosures
# once a day; staff get their work at once (villagers never receive WORK kinds).
DEFAULTS: dict[NotifyCategory, dict[Channel, Mode]] = {
    NotifyCategory.MY_FLAGS: {Channel.SMS: Mode.IMMEDIATE, Channel.WECHAT: Mode.IMMEDIATE},
    NotifyCategory.REPLIES: {Channel.SMS: Mode.IMMEDIATE, Channel.WECHAT: Mode.IMMEDIATE},
    NotifyCategory.NEW_DISCLOSURES: {Channel.SMS: Mode.DIGEST, Channel.WECHAT: Mode.DIGEST},
    NotifyCategory.WORK: {Channel.SMS: Mode.IMMEDIATE, Channel.WECHAT: Mode.IMMEDIATE},
    NotifyCategory.NOTICES: {Channel.SMS: Mode.IMMEDIATE, Channel.WECHAT: Mode.IMMEDIATE},
}

# Disclosure categories one may mute (models.disclosures.Category; not imported: the
# disclosures package imports this one to enqueue its fan-out).
DISCLOSURE_CATEGORIES = ("FINANCE", "PARTY", "VILLAGE_AFFAIRS", "FARMING", "NOTICE")


def category_of(kind: str) -> NotifyCategory | None:
    return CATEGORY_OF_KIND.get(kind)


@dataclass
class Effective:
    """One user's settings: a mode per category and channel, and the muted categories."""

    modes: dict[NotifyCategory, dict[Channel, Mode]]
    muted: list[str]
    customized: set[NotifyCategory]

    def mode(self, kind: str, channel: Channel) -> Mode:
        category = category_of(kind)
        if category is None:  # a kind nobody filed yet: the inbox has it, no push
            return Mode.OFF
        if channel not in ONLY_ON.get(kind, CHANNELS):
            return Mode.OFF
        return self.modes[category][channel]


def defaults() -> Effective:
    return Effective({c: dict(m) for c, m in DEFAULTS.items()}, [], set())


async def effective_for(user_ids: Iterable[int]) -> dict[int, Effective]:
    """Defaults merged with what each user saved: two reads however many users."""
    users = sorted(set(user_ids))
    found = {u: defaults() for u in users}
    if not users:
        return found
    for row in await NotificationPreference.filter(user_id__in=users):
        try:
            category = NotifyCategory(row.category)
        except ValueError:  # a category retired since: its row means nothing now
            continue
        eff = found[row.user_id]
        if row.sms:
            eff.modes[category][Channel.SMS] = Mode(row.sms)
        if row.wechat:
            eff.modes[category][Channel.WECHAT] = Mode(row.wechat)
        eff.customized.add(category)
    for mute in await DisclosureMute.filter(user_id__in=users).order_by("category"):
        found[mute.user_id].muted.append(mute.category)
    return found


async def effective(viewer: Viewer) -> Effective:
    user = viewer.require_user()
    return (await effective_for([user.id]))[user.id]


@dataclass
class CategoryChoice:
    category: str
    sms: str | None = None
    wechat: str | None = None


MAX_CHOICES = len(NotifyCategory)


def check_update(
    choices: Sequence[CategoryChoice] | None, muted: Sequence[str] | None
) -> list[UserError]:
    errors: list[UserError] = []
    # too long: that alone, not one error per entry (5,000 entries were 5,000 errors)
    if choices is not None and len(choices) > MAX_CHOICES:
        return [UserError(ErrorCode.TOO_MANY_ITEMS, "categories", {"max": MAX_CHOICES})]
    if muted is not None and len(muted) > len(DISCLOSURE_CATEGORIES):
        limit = {"max": len(DISCLOSURE_CATEGORIES)}
        return [UserError(ErrorCode.TOO_MANY_ITEMS, "mutedDisclosureCategories", limit)]
    if choices is None and muted is None:
        errors.append(UserError(ErrorCode.REQUIRED, "categories"))
    seen: set[str] = set()
    for n, choice in enumerate(choices or []):
        field = f"categories.{n}"
        if choice.category not in NotifyCategory.__members__:
            errors.append(UserError(ErrorCode.INVALID_CHOICE, f"{field}.category"))
        elif choice.category in seen:
            errors.append(UserError(ErrorCode.DUPLICATE_ENTRY, f"{field}.category"))
        seen.add(choice.category)
        for name in ("sms", "wechat"):
            value = getattr(choice, name)
            if value is not None and value not in Mode.__members__:
                errors.append(UserError(ErrorCode.INVALID_CHOICE, f"{field}.{name}"))
    mutes = list(muted or [])
    for n, name in enumerate(mutes):
        if name not in DISCLOSURE_CATEGORIES:
            errors.append(UserError(ErrorCode.INVALID_CHOICE, f"mutedDisclosureCategories.{n}"))
    if len(set(mutes)) != len(mutes):
        errors.append(UserError(ErrorCode.DUPLICATE_ENTRY, "mutedDisclosureCategories"))
    return errors


def snapshot(eff: Effective) -> dict[str, Any]:
    return {
        "modes": {
            str(c): {str(ch): str(m) for ch, m in modes.items()} for c, modes in eff.modes.items()
        },
        "muted": list(eff.muted),
    }


async def update_preferences(
    viewer: Viewer,
    choices: Sequence[CategoryChoice] | None,
    muted: Sequence[str] | None,
) -> Effective:
    """Change the viewer's own settings, all or nothing: the categories named (a channel
    left out keeps its setting; a choice equal to the default is stored as no choice), and,
    when given, the whole set of muted disclosure categories."""
    user = viewer.require_user()
    errors = check_update(choices, muted)
    if errors:
        raise UserErrors(*errors)
    async with in_transaction():
        # the user's row locked first: two updates at once (a double tap) each found no row
        # for a new category and both inserted it, one failing on the unique key
        await User.select_for_update().filter(id=user.id).first()
        before = await effective(viewer)
        rows = {
            r.category: r
            for r in await NotificationPreference.filter(user_id=user.id).select_for_update()
        }
        for choice in choices or []:
            category = NotifyCategory(choice.category)
            row = rows.get(category) or NotificationPreference(user_id=user.id, category=category)
            for name, channel in (("sms", Channel.SMS), ("wechat", Channel.WECHAT)):
                value = getattr(choice, name)
                if value is not None:
                    setattr(row, name, None if value == DEFAULTS[category][channel] else value)
            if row.sms is None and row.wechat is None:
                if row.id is not None:
                    await row.delete()
            else:
                await row.save()
        if muted is not None:
            await DisclosureMute.filter(user_id=user.id).delete()
            await DisclosureMute.bulk_create(
                [DisclosureMute(user_id=user.id, category=c) for c in sorted(set(muted))]
            )
        after = await effective(viewer)
        await record(
            viewer,
            "notification.preferences",
            user,
            region_id=None,  # a private choice (turning flag news off hints at a flag)
            before=snapshot(before),
            after=snapshot(after),
        )
    return after
