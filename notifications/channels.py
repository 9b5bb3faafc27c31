"""Which users a channel can reach, for routing: a WeChat binding, a verified phone."""

from __future__ import annotations

from collections.abc import Iterable

from models.accounts import User
from models.deliveries import WechatBinding

CHUNK = 1000


async def wechat_bound(user_ids: Iterable[int]) -> set[int]:
    """The users among `user_ids` who bound WeChat (one statement per thousand)."""
    ids = sorted(set(user_ids))
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found.update(
            await WechatBinding.filter(user_id__in=chunk).values_list("user_id", flat=True)  # type: ignore[arg-type]
        )
    return found


async def sms_reachable(user_ids: Iterable[int]) -> set[int]:
    """The active users among `user_ids` whose phone is verified."""
    ids = sorted(set(user_ids))
    found: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found.update(
            await User.filter(
                id__in=chunk, is_active=True, phone_verified_at__isnull=False
            ).values_list("id", flat=True)  # type: ignore[arg-type]
        )
    return found
