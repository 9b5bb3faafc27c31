"""Price units: a price per one weight unit becomes a price per another by exact integer
arithmetic, rounded half up to the fen (3.33 yuan/公斤 is 1.665 yuan/斤, stored as 167 fen).
Units that are not weights (个, 头, 袋) are only ever the commodity's own."""

from __future__ import annotations

# grams per unit; the keys are the spellings read from a sheet or an input, lower-cased
GRAMS: dict[str, int] = {
    "斤": 500,
    "市斤": 500,
    "公斤": 1000,
    "千克": 1000,
    "kg": 1000,
    "克": 1,
    "g": 1,
    "吨": 1_000_000,
    "t": 1_000_000,
}


def normalized(unit: str | None) -> str:
    """`元/公斤`, ` KG ` and `/kg` all read as `kg`; what is left is compared as it is."""
    text = (unit or "").strip().lower().replace(" ", "")
    for prefix in ("元/", "元每", "/", "每"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


def converted(price_fen: int, unit: str | None, target: str) -> int | None:
    """The price per `target` (the commodity's unit) of `price_fen` per `unit`: unchanged when
    no unit is given or it is the same one, None when the two cannot be converted."""
    given, wanted = normalized(unit), normalized(target)
    if not given or given == wanted:
        return price_fen
    if given not in GRAMS or wanted not in GRAMS:
        return None
    num = price_fen * GRAMS[wanted]
    den = GRAMS[given]
    if num % den == 0:
        return num // den
    return (2 * num + den) // (2 * den)  # half up (prices are positive)
