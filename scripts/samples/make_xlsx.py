"""Rebuild 2026-03.xlsx from the UTF-8 sample: `python -m scripts.samples.make_xlsx`.

Numbers and dates are written as real spreadsheet cells, as a clerk's export would have.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent


def main() -> None:
    rows = list(csv.reader((HERE / "2026-03-utf8.csv").open(encoding="utf-8")))
    book = Workbook()
    sheet = book.active
    sheet.title = "2026年3月"
    sheet.append(rows[0])
    amounts = [30000, 1280.5, 8600, 1200.5]
    days = [date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 12), date(2026, 3, 20)]
    for row, amount, day in zip(rows[1:], amounts, days, strict=True):
        sheet.append([day, row[1], int(row[2]), amount, row[4], row[5]])
    book.save(HERE / "2026-03.xlsx")


if __name__ == "__main__":
    main()
