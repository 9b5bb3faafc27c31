"""Media URLs: plain for public files, signed and short-lived for restricted ones."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNED_SECONDS = 3600


def signature(secret: str, sha256: str, variant: str, expires: int) -> str:
    message = f"{sha256}/{variant}/{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def media_url(sha256: str, variant: str, secret: str | None = None) -> str:
    """`secret` given: a signed URL that works for an hour, for restricted files."""
    url = f"/media/{sha256}/{variant}"
    if secret is None:
        return url
    expires = int(time.time()) + SIGNED_SECONDS
    return f"{url}?exp={expires}&sig={signature(secret, sha256, variant, expires)}"


def signature_valid(secret: str, sha256: str, variant: str, exp: str, sig: str) -> bool:
    if not exp.isdigit() or int(exp) < time.time():
        return False
    return hmac.compare_digest(signature(secret, sha256, variant, int(exp)), sig)
