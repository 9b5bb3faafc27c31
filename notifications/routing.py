"""Routing events to SMS and WeChat by each user's preferences (being built in this
session's issue 14 work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from models.notifications import NotificationEvent


async def route(events: Sequence[NotificationEvent], now: datetime) -> None:
    """Enqueue the deliveries each user's preferences ask for."""
    return None
