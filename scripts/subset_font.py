"""Rebuild the CJK font shipped for summary pictures (models/finance/fonts/).

    python -m scripts.subset_font NotoSansCJK-Regular.ttc

The source is Noto Sans CJK Regular (OFL 1.1; Debian's fonts-noto-cjk ships it as
/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc, whose face 2 is SC). The subset keeps
what a picture can show: every GB2312 character (6,763 hanzi and its symbols), ASCII, CJK
and full-width punctuation, and every character of the charts of accounts. Needs fontTools
(a dev dependency); the running app only reads the result.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

from models.chart_data import CHART_2004, CHART_2023

OUT = Path(__file__).resolve().parent.parent / "models/finance/fonts/NotoSansSC-Regular-subset.otf"
SC_FACE = 2  # NotoSansCJK-Regular.ttc: JP, KR, SC, TC, HK, ...


def gb2312() -> set[str]:
    chars = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def characters() -> set[str]:
    chars = gb2312()
    chars |= {chr(c) for c in range(0x20, 0x7F)}  # ASCII
    chars |= {chr(c) for c in range(0xA0, 0x100)}  # Latin-1: ¥ · × ÷ and friends
    chars |= {chr(c) for c in range(0x2010, 0x2060)}  # dashes, quotes, …, ‰
    chars |= {chr(c) for c in range(0x3000, 0x3040)}  # CJK punctuation
    chars |= {chr(c) for c in range(0xFF01, 0xFF66)}  # full-width forms
    for _, name, _ in (*CHART_2004, *CHART_2023):
        chars |= set(name)
    return chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="NotoSansCJK-Regular.ttc or an SC .otf")
    args = parser.parse_args()
    if args.source.suffix.lower() == ".ttc":
        font: TTFont = TTCollection(str(args.source)).fonts[SC_FACE]
    else:
        font = TTFont(str(args.source))
    options = subset.Options()
    options.hinting = False  # pictures are drawn large; hints only add bytes
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(characters())))
    subsetter.subset(font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(OUT))
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
