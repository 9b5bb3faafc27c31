"""SMS codes recorded as deliveries: the row says which template went to whom, through which
provider, and whether the provider took it; the code itself is never stored. A code is not
retried (it lives five minutes; the villager asks again), so a refusal ends FAILED."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from models.accounts.sms_codes import Outgoing
from models.deliveries import Channel, Delivery, DeliveryStatus

log = logging.getLogger("cunwu.sms")


async def record_code_delivery(message: Outgoing, provider: str) -> Delivery | None:
    if message.user_id is None:
        return None
    try:
        return await Delivery.create(
            user_id=message.user_id,
            channel=Channel.SMS,
            provider=provider,
            template=message.template,
            status=DeliveryStatus.SENDING,
            attempts=1,
            dedup_key=f"code:{uuid.uuid4().hex}",
            created_at=datetime.now(UTC),
            phone=message.phone,
        )
    except Exception as exc:  # the record must not stop the code: send it anyway
        log.error("SMS code delivery not recorded: %s", type(exc).__name__)
        return None


async def finish_code_delivery(
    row: Delivery | None,
    status: DeliveryStatus,
    *,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    if row is None:
        return
    row.status = status
    row.provider_message_id = (message_id or "")[:64] or None
    row.last_error = error
    row.sent_at = datetime.now(UTC) if status == DeliveryStatus.SENT else None
    try:
        await row.save(update_fields=["status", "provider_message_id", "last_error", "sent_at"])
    except Exception as exc:
        log.error("SMS code delivery %s not updated: %s", row.id, type(exc).__name__)
