"""Live delivery to WebSocket subscribers (being built in this session's issue 14 work)."""

from __future__ import annotations

from collections.abc import Sequence

from models.notifications import NotificationEvent


async def publish(events: Sequence[NotificationEvent]) -> None:
    """Tell every process's subscribers of these users about these events."""
    return None
