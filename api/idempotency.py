"""`Idempotency-Key` on mutations: the first run's answer is stored and replayed to retries.

Keys belong to the signed-in user (anonymous mutations — register, login, refresh — are
safe to retry by design). A key reused with a different request is refused; a key whose
first run is still going is answered 409; a first run that crashed frees the key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from tortoise.exceptions import IntegrityError

from api.uploads import UploadedFile
from models.idempotency import IdempotentRequest

KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]{8,128}$")
STALE_AFTER = timedelta(seconds=60)  # a first run not finished by then has died
KEEP_FOR = timedelta(hours=24)


class IdempotencyRefused(Exception):
    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


@dataclass
class Claim:
    row: IdempotentRequest | None = None
    replay: bytes | None = None


def file_digest(value: object) -> object:
    """An uploaded file in a request's hash: its bytes' digest and its names."""
    if isinstance(value, UploadedFile):
        return {
            "sha256": hashlib.sha256(value.data).hexdigest(),
            "filename": value.filename,
            "contentType": value.content_type,
            "tooLarge": value.too_large,
        }
    raise TypeError(type(value).__name__)


def request_hash(query: str, variables: object, operation_name: object) -> str:
    payload = orjson.dumps(
        {"q": query, "v": variables, "o": operation_name},
        default=file_digest,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS,
    )
    return hashlib.sha256(payload).hexdigest()


async def claim(scope: str, key: str, digest: str) -> Claim:
    if not KEY_RE.match(key):
        raise IdempotencyRefused(400, "IDEMPOTENCY_KEY_INVALID")
    try:
        row = await IdempotentRequest.create(scope=scope, key=key, request_hash=digest)
        return Claim(row=row)
    except IntegrityError:
        pass
    existing = await IdempotentRequest.get(scope=scope, key=key)
    if existing.request_hash != digest:
        raise IdempotencyRefused(422, "IDEMPOTENCY_KEY_REUSED")
    if existing.response is not None:
        return Claim(replay=existing.response.encode())
    now = datetime.now(UTC)
    taken = await IdempotentRequest.filter(
        id=existing.id, response=None, created_at__lt=now - STALE_AFTER
    ).update(created_at=now)
    if not taken:
        raise IdempotencyRefused(409, "IDEMPOTENCY_IN_PROGRESS")
    return Claim(row=existing)


async def finish(row: IdempotentRequest, body: bytes, keep: bool) -> None:
    if keep:
        await IdempotentRequest.filter(id=row.id).update(response=body.decode())
    else:  # let a retry run for real
        await IdempotentRequest.filter(id=row.id).delete()


async def purge_expired(now: datetime | None = None) -> int:
    """Forget keys older than a day (run by the scheduler)."""
    cutoff = (now or datetime.now(UTC)) - KEEP_FOR
    return await IdempotentRequest.filter(created_at__lt=cutoff).delete()
