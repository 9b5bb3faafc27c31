"""我的补贴: a villager's own rows in published tables, found by the keyed hash (HMAC-SHA256)
of their ID number: their own, entered once (`User.id_number_hash`), and the one in each
published table row (`models.disclosures.SubsidyEntry`, written on publication). The number
itself is never stored. Here: the key and the hash (imported by the table cleaning);
operations.py sets the number and lists the rows.

Keyed, not a plain hash: a county, a birthday and three digits are few enough to try them
all, so a plain hash of an ID number is as good as the number to whoever reads the table.
The key is the process's (`configure`, called when the database is opened). Rotating it
orphans every stored hash: villagers enter their number again, and rows published before
keep the old hash (the numbers are gone, nothing can recompute them).
"""

from __future__ import annotations

import hashlib
import hmac
import re

# Binds the derived key to this one use of SECRET_KEY (tokens, codes and live messages use
# it with labels of their own).
DERIVATION_LABEL = b"cunwu id-number key v1\0"

_key: bytes | None = None
FULL_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ\u3000－", "0123456789Xx -")


def derive_key(secret_key: str) -> str:
    """The ID-number key when ID_NUMBER_KEY is unset: SECRET_KEY under a label of its own."""
    return hmac.new(secret_key.encode(), DERIVATION_LABEL, hashlib.sha256).hexdigest()


def configure(key: str) -> None:
    """For the whole process: one database, one key."""
    global _key
    if not key:
        raise ValueError("the ID-number key is empty")
    _key = key.encode()


def normalise(raw: str) -> str:
    """Spaces and hyphens gone, full-width digits folded, the check digit X upper-case: the
    same number hashes the same however it was typed (in a table or by its holder)."""
    folded = raw.translate(FULL_WIDTH)
    return re.sub(r"[\s-]", "", folded).upper()


def id_hash(number: str) -> str:
    """The keyed hash of an ID number (hex). Check it with `is_id_number` first."""
    if _key is None:
        raise RuntimeError("the ID-number key is not configured (api.database.open_db)")
    return hmac.new(_key, normalise(number).encode(), hashlib.sha256).hexdigest()
