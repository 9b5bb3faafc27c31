"""ID numbers and mobile numbers are masked wherever they appear in a table or a body, not
only in the columns declared as such (GB 11643 check digits tell an ID from other numbers)."""

from __future__ import annotations

from models.disclosures import Disclosure, DisclosureVersion
from tests.test_disclosures import CLERK, FEED, _pk, published

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(first17: str) -> str:
    """An ID number as the public security bureau issues it (ISO 7064 MOD 11-2)."""
    return (
        first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]
    )


def wrong_check_digit(first17: str) -> str:
    right = with_check_digit(first17)[-1]
    return first17 + next(c for c in "0123456789" if c != right)


ID_A = with_check_digit("43012419780512163")  # a Hunan village's resident
ID_B = with_check_digit("51342519600101881")
NOT_AN_ID = wrong_check_digit("62010219851230001")  # e.g. a bank reference: left alone
MOBILE = "13987654321"


def masked(id_number: str) -> str:
    return id_number[:6] + "********" + id_number[-4:]


async def test_id_and_mobile_numbers_are_masked_in_every_cell_and_ids_in_the_body(gql, demo):
    table = {
        "title": "2026年危房改造补助名单",
        "columns": [
            {"key": "name", "label": "户主", "kind": "NAME"},
            {"key": "note", "label": "备注", "kind": "TEXT"},
            {"key": "ref", "label": "编号", "kind": "NUMBER"},
        ],
        "rows": [
            [f"李桂兰 {ID_A}", f"联系电话 {MOBILE}，备用 +86 139-8765-4321", ID_B],
            ["周建国", f"转账流水 {NOT_AN_ID}", "12"],
        ],
    }
    body = f"经公示无异议。户主身份证号 {ID_A}；银行流水号 {NOT_AN_ID}。"
    d = await published(
        gql,
        await gql.login(CLERK),
        demo.villages[0],
        title="危房改造补助公示",
        body=body,
        tables=[table],
    )
    rows = d["tables"][0]["rows"]
    assert rows[0] == [
        f"李桂兰 {masked(ID_A)}",
        "联系电话 139****4321，备用 139****4321",
        masked(ID_B),
    ]
    assert rows[1] == ["周建国", f"转账流水 {NOT_AN_ID}", "12"]
    assert d["body"] == f"经公示无异议。户主身份证号 {masked(ID_A)}；银行流水号 {NOT_AN_ID}。"
    # nothing in clear anywhere it is stored
    stored = await Disclosure.get(id=_pk(d["id"]))
    versions = await DisclosureVersion.filter(disclosure_id=stored.id)
    for text in [str(stored.tables), stored.body, *(v.body for v in versions)]:
        assert ID_A not in text and ID_B not in text and MOBILE not in text
    assert (await gql.data(FEED, {"search": "李桂兰"}))["disclosures"]["edges"]
