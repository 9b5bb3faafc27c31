"""Sending one SMS: the interface every provider implements (Alibaba Cloud, Tencent Cloud, and
a development provider that writes to the log). `template` is our own name for a message
(VERIFY_CODE, …); each provider maps it to the template id its console approved."""

from __future__ import annotations

import logging
import re
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

    # `ref`: our id for the message (a delivery's), sent as the provider's correlation field
    # (Aliyun OutId, Tencent SessionContext) so a receipt or a console search finds it
    async def send(
        self, phone: str, template: str, params: dict[str, str], *, ref: str | None = None
    ) -> SmsResult: ...


PARAM_MAX_CHARS = 20  # carriers cap a variable's length; ours are short labels and numbers
MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
# a link in a template variable gets a message blocked as spam (and would let a parameter
# carry one in): anything that looks like a scheme, www. or a domain is refused
LINK = re.compile(
    r"(?i)([a-z][a-z0-9+.-]*://|www\.|[a-z0-9-]+\.(com|cn|net|org|top|xyz|io|cc|info|vip|me)\b)"
)


def checked_params(params: dict[str, str]) -> dict[str, str]:
    """Every provider's parameters: short strings, no links. A refusal is not retryable."""
    out: dict[str, str] = {}
    for key, value in params.items():
        text = str(value).strip()
        if LINK.search(text):
            raise SmsError("PARAM_LINK", f"parameter {key} holds a link", retryable=False)
        if len(text) > PARAM_MAX_CHARS:
            raise SmsError("PARAM_TOO_LONG", f"parameter {key} is too long", retryable=False)
        out[key] = text
    return out


def checked_phone(phone: str) -> str:
    if not MAINLAND_MOBILE.fullmatch(phone or ""):
        raise SmsError("BAD_NUMBER", "not a mainland mobile number", retryable=False)
    return phone


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

    async def send(
        self, phone: str, template: str, params: dict[str, str], *, ref: str | None = None
    ) -> SmsResult:
        params = checked_params(params)
        self.sent.append((phone, template, dict(params)))
        shown = params if self.reveal else dict.fromkeys(params, "***")
        log.info("SMS to %s: %s %s", masked(phone), template, shown)
        return SmsResult(self.name, f"log-{len(self.sent)}")
