"""Sending one SMS: the interface every provider implements (Alibaba Cloud, Tencent Cloud, and
a development provider that writes to the log). `template` is our own name for a message
(VERIFY_CODE, …); each provider maps it to the template id its console approved."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("cunwu.sms")


@dataclass(frozen=True)
class SmsResult:
    provider: str
    message_id: str | None  # the provider's id for the message (BizId, SerialNo)


class SmsError(Exception):
    """The provider refused or could not be reached; `retryable` says whether trying again
    later may help (a network error, a throttle) or not (a bad number, a bad template)."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.retryable = retryable


class SmsProvider(Protocol):
    name: str

    async def send(self, phone: str, template: str, params: dict[str, str]) -> SmsResult: ...


def masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


class LogSmsProvider:
    """Development: the message goes to the log (and `sent`, which tests read) instead of a
    phone. Parameters appear in the log only with `reveal` (not in production: a code in the
    log lets whoever reads it sign in as that villager)."""

    name = "log"

    def __init__(self, keep: int = 200, reveal: bool = True) -> None:
        self.sent: deque[tuple[str, str, dict[str, str]]] = deque(maxlen=keep)
        self.reveal = reveal

    async def send(self, phone: str, template: str, params: dict[str, str]) -> SmsResult:
        self.sent.append((phone, template, dict(params)))
        shown = params if self.reveal else dict.fromkeys(params, "***")
        log.info("SMS to %s: %s %s", masked(phone), template, shown)
        return SmsResult(self.name, f"log-{len(self.sent)}")
