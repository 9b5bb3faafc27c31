"""A shareable picture of a published month (1080 px wide PNG) for villagers' chat groups:
balances, a bar chart of income and expense by subject, and the chain hash that proves it.

Chinese text is drawn with the font shipped in `fonts/` (a GB2312 subset of Noto Sans CJK SC,
OFL); `FONT_PATH` may name another. Images are cached by the sha256 of what they show.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import orjson
from PIL import Image, ImageDraw, ImageFont

WIDTH = 1080
BUNDLED_FONT = str(Path(__file__).resolve().parent / "fonts" / "NotoSansSC-Regular-subset.otf")
FONT_CANDIDATES = (
    BUNDLED_FONT,
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
INK, MUTED, INCOME, EXPENSE, PAPER = (
    (33, 37, 41),
    (110, 117, 125),
    (46, 125, 50),
    (198, 40, 40),
    (255, 255, 255),
)


class FontMissing(RuntimeError):
    pass


def find_font(configured: str | None = None) -> str:
    for candidate in (configured, *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    raise FontMissing(f"no CJK font: {BUNDLED_FONT} is missing and FONT_PATH is not set")


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def head_label(head: dict[str, Any] | None) -> str:
    """The chain head a picture or an export was made from: length and short hash."""
    if not head or not head.get("length"):
        return "链头 0"
    return f"链头 {head['length']}:{head['hash'][:12]}"


def content_key(content: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def render(content: dict[str, Any], font_path: str) -> bytes:
    """content: village, year, month, opening/income/expense/closing (fen), subjects
    [(name, direction, fen)], chain_hash, head {length, hash} of the chain it was made from."""

    def font(size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(font_path, size)

    subjects = content["subjects"][:12]
    height = 504 + 64 * max(1, len(subjects)) + 120  # header, balances, bars, footer
    img = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(img)
    draw.text((60, 50), content["village"], font=font(56), fill=INK)
    draw.text(
        (60, 125), f"{content['year']}年{content['month']}月 财务收支公开", font=font(40), fill=INK
    )
    y = 210
    for label, key, colour in (
        ("月初余额", "opening", INK),
        ("本月收入", "income", INCOME),
        ("本月支出", "expense", EXPENSE),
        ("月末余额", "closing", INK),
    ):
        draw.text((60, y), label, font=font(34), fill=MUTED)
        draw.text((360, y), f"{yuan(content[key])} 元", font=font(34), fill=colour)
        y += 52
    y += 30
    draw.text((60, y), "按科目（元）", font=font(32), fill=INK)
    y += 56
    largest = max((s[2] for s in subjects), default=1) or 1
    for name, direction, fen in subjects:
        colour = INCOME if direction == "INCOME" else EXPENSE
        draw.text((60, y + 6), name[:8], font=font(28), fill=INK)
        length = int(560 * fen / largest)
        draw.rectangle((300, y + 8, 300 + max(4, length), y + 44), fill=colour)
        draw.text((300 + max(4, length) + 12, y + 8), yuan(fen), font=font(26), fill=MUTED)
        y += 64
    draw.line((60, height - 90, WIDTH - 60, height - 90), fill=MUTED, width=2)
    draw.text(
        (60, height - 72),
        f"哈希链 {content['chain_hash'][:16]} · {head_label(content.get('head'))} · 村务公开 cunwu",
        font=font(26),
        fill=MUTED,
    )
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def has_glyphs(font_path: str, text: str) -> bool:
    """Whether the font draws these characters rather than its missing-glyph box."""
    font = ImageFont.truetype(font_path, 40)
    missing = font.getmask("\U0010fffd").getbbox()
    return all(font.getmask(ch).getbbox() not in (None, missing) for ch in text if not ch.isspace())
