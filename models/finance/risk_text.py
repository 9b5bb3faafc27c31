"""A risk hit as a sentence a supervisor (or, once confirmed and published, a villager) can
read: one template per rule, naming the lines, payees and amounts of the hit's detail and
nothing else. Amounts are stored in fen and shown as yuan."""

from __future__ import annotations

from typing import Any

from models.messages import EN

# rule → (zh, en); a hit stored before its detail named an amount uses the short pair.
TEMPLATES: dict[str, tuple[str, str]] = {
    "DUPLICATE_RECEIPT": ("{lines}使用了同一张凭证图片", "{Lines} use the same receipt image"),
    "DUPLICATE_RECEIPT_EARLIER": (
        "{line}的凭证图片已在{earlier}的账目中使用过",
        "The receipt of {line_en} was already used in the accounts of {earlier}",
    ),
    "DUPLICATE_PAYMENT": (
        "{lines}向同一收款人“{payee}”各支付 ¥{amount}",
        "{Lines} each pay {payee} ¥{amount}",
    ),
    "NO_RECEIPT_ABOVE_THRESHOLD": (
        "{line}向“{payee}”支付 ¥{amount}，达到 ¥{threshold}，却没有凭证",
        "{Line_en} pays {payee} ¥{amount}, at least ¥{threshold}, without a receipt",
    ),
    "NO_RECEIPT_ABOVE_THRESHOLD_SHORT": (
        "{line}的支出达到 ¥{threshold}，却没有凭证",
        "{Line_en} is an expense of at least ¥{threshold} without a receipt",
    ),
    "SPLIT_PAYMENTS": (
        "{lines}分{count}笔向“{payee}”共支付 ¥{total}，每笔都略低于须经会议决定的 ¥{threshold}",
        "{Lines} pay {payee} ¥{total} in {count} payments, each just under the ¥{threshold} "
        "that needs a meeting's decision",
    ),
    "SPLIT_PAYMENTS_SHORT": (
        "{lines}分{count}笔向“{payee}”付款，每笔都略低于须经会议决定的 ¥{threshold}",
        "{Lines} pay {payee} in {count} payments, each just under the ¥{threshold} "
        "that needs a meeting's decision",
    ),
    "PAYEE_IS_OFFICER": (
        "{line}向本村干部“{payee}”支付 ¥{amount}",
        "{Line_en} pays ¥{amount} to {payee}, who holds a role in this village",
    ),
    "PAYEE_IS_OFFICER_SHORT": (
        "{line}的收款人“{payee}”是本村干部",
        "The payee of {line_en}, {payee}, holds a role in this village",
    ),
}


def yuan(fen: Any) -> str:
    """Integer fen as yuan with two decimals and thousands separators: 120000 → 1,200.00."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def zh_lines(numbers: list[int]) -> str:
    """[3, 7] → 第3行和第7行; [3, 5, 7] → 第3、5、7行."""
    if len(numbers) == 1:
        return f"第{numbers[0]}行"
    if len(numbers) == 2:
        return f"第{numbers[0]}行和第{numbers[1]}行"
    return "第" + "、".join(str(n) for n in numbers) + "行"


def en_lines(numbers: list[int]) -> str:
    """[3, 7] → Lines 3 and 7; [3, 5, 7] → Lines 3, 5 and 7."""
    if len(numbers) == 1:
        return f"Line {numbers[0]}"
    return "Lines " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


def hit_message(rule: str, line_no: int, detail: dict[str, Any] | None, lang: str) -> str:
    """The sentence for a hit on `line_no` with its stored `detail`, in `lang`."""
    d = detail or {}
    numbers = [n for n in d.get("lines") or [] if isinstance(n, int)] or [line_no]
    key = rule
    if rule == "DUPLICATE_RECEIPT" and "earlier" in d:
        key = "DUPLICATE_RECEIPT_EARLIER"
    elif rule in ("NO_RECEIPT_ABOVE_THRESHOLD", "PAYEE_IS_OFFICER") and "amountFen" not in d:
        key = f"{rule}_SHORT"
    elif rule == "SPLIT_PAYMENTS" and "totalFen" not in d:
        key = "SPLIT_PAYMENTS_SHORT"
    zh, en = TEMPLATES.get(key, ("{line}：{rule}", "{Line_en}: {rule}"))
    params = {
        "rule": rule,
        "line": zh_lines([line_no]),
        "line_en": f"line {line_no}",
        "Line_en": f"Line {line_no}",
        "lines": zh_lines(numbers),
        "Lines": en_lines(numbers),
        "count": len(numbers),
        "payee": d.get("payee", ""),
        "earlier": d.get("earlier", ""),
        "amount": yuan(d.get("amountFen", 0)),
        "total": yuan(d.get("totalFen", 0)),
        "threshold": yuan(d.get("thresholdFen", 0)),
    }
    return (en if lang == EN else zh).format(**params)
