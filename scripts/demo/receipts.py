"""Receipt photos for the demo months: a plain paper slip drawn with Pillow, different for
every line (a repeated image would be a DUPLICATE_RECEIPT risk hit)."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image, ImageDraw, ImageFont

from models.finance.image import FontMissing, find_font

SIZE = (640, 400)
PAPER, INK, STAMP = (250, 248, 240), (40, 40, 48), (200, 40, 40)


class ReceiptPainter:
    """Chinese text when a CJK font is found (as for the summary picture), else ASCII."""

    def __init__(self, font_path: str | None = None) -> None:
        self.big: ImageFont.FreeTypeFont | ImageFont.ImageFont
        self.small: ImageFont.FreeTypeFont | ImageFont.ImageFont
        try:
            path = find_font(font_path)
            self.big = ImageFont.truetype(path, 30)
            self.small = ImageFont.truetype(path, 22)
            self.chinese = True
        except (FontMissing, OSError):  # Pillow's own font: Latin letters and digits only
            self.big, self.small = ImageFont.load_default(36), ImageFont.load_default(26)
            self.chinese = False

    def jpeg(
        self, number: str, day: date, payee: str, summary: str, amount_fen: int, payer: str
    ) -> bytes:
        img = Image.new("RGB", SIZE, PAPER)
        draw = ImageDraw.Draw(img)
        draw.rectangle((12, 12, SIZE[0] - 12, SIZE[1] - 12), outline=INK, width=2)
        amount = f"{amount_fen / 100:,.2f}"
        if self.chinese:
            rows = [
                ("收  款  收  据", self.big),
                (f"编号 {number}    日期 {day.isoformat()}", self.small),
                (f"付款单位：{payer}", self.small),
                (f"收款单位：{payee}", self.small),
                (f"事由：{summary}", self.small),
                (f"金额：人民币 {amount} 元", self.big),
            ]
        else:
            rows = [
                ("RECEIPT", self.big),
                (f"No. {number}", self.small),
                (f"Date {day.isoformat()}", self.small),
                (f"Amount CNY {amount}", self.small),
            ]
        y = 40
        for text, font in rows:
            draw.text((40, y), text, fill=INK, font=font)
            y += 56
        draw.ellipse((470, 250, 600, 380), outline=STAMP, width=4)
        draw.text((500, 305), "PAID" if not self.chinese else "已付讫", fill=STAMP, font=self.small)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=80)
        return out.getvalue()
