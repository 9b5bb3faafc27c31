"""Decoding what clients send: graphene's input values into the plain values operations take."""

from __future__ import annotations

from typing import Any


def enum_value(value: Any) -> Any:
    """graphene hands enum arguments over as members; the ORM wants the plain value."""
    return getattr(value, "value", value)
