"""What anyone reads is what the chain covers: every served column of a published disclosure
and of a published month, tampered in the database, breaks `verifyLedger` at that entry (and
`scripts.verify_ledger` agrees); a truncated chain is told to a client holding the old head;
staged corrections (a month's, a FINANCE item's) reach the public only through a supervisor."""

from __future__ import annotations

import orjson
import pytest
from tortoise import Tortoise

from api.relay import from_global_id, to_global_id
from models.disclosures import CatalogueItem, Disclosure, LedgerEntry
from models.finance import MonthlyAccount
from models.finance.image import head_label
from models.finance.summary import picture_content
from scripts import verify_ledger
from tests import media_files
from tests.client import error_codes
from tests.test_disclosures import CLERK, STEP, SUPERVISOR, published, step
from tests.test_finance import APPROVE, SAVE, line, receipt
from tests.test_media import uploaded

MONTH = """query($v: ID!) { monthlyAccount(villageId: $v, year: 2026, month: 5) {
  status version openingBalanceFen incomeFen expenseFen closingBalanceFen lineCount } }"""
VERIFY = """query($v: ID!, $head: LedgerHeadInput) { verifyLedger(villageId: $v, knownHead: $head) {
  ok length headHash firstBrokenAt containsKnownHead } }"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


def pk(global_id: str) -> int:
    return int(from_global_id(global_id)[1])


async def tokens(gql, *phones):
    return [await gql.login(p) for p in phones]


async def sql(statement: str) -> None:
    await Tortoise.get_connection("default").execute_script(statement)


async def verdict(gql, village, head=None) -> dict:
    result = (await gql.data(VERIFY, {"v": gid("Region", village.id), "head": head}))[
        "verifyLedger"
    ]
    # The command line reads the same rows and must say the same.
    _, _, offline = await verify_ledger.load_checked(village.code)
    assert (offline.ok, offline.first_broken_at) == (result["ok"], result["firstBrokenAt"])
    return result


async def approved_month(gql, village, lines, opening=10_000_000) -> dict:
    clerk, supervisor = await tokens(gql, CLERK, SUPERVISOR)
    v = gid("Region", village.id)
    data = {"villageId": v, "year": 2026, "month": 5, "openingBalanceFen": opening, "lines": lines}
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    out = await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    assert out["errors"] == [], out
    return out["account"]


# --- the attacker's three holes ------------------------------------------------------------


async def test_a_staged_month_correction_does_not_change_the_public_figures(gql, demo):
    """The first month's opening balance is restaged by a correction awaiting review: the
    public must keep seeing the approved opening and closing balances."""
    clerk, supervisor = await tokens(gql, CLERK, SUPERVISOR)
    v = gid("Region", demo.villages[0].id)
    lines = [line(3, 120, "东溪文具店"), line(8, 60, "村卫生保洁队")]
    data = {
        "villageId": v,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 10_000_000,
        "lines": lines,
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    approved = await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    assert approved["errors"] == []
    before = (await gql.data(MONTH, {"v": v}))["monthlyAccount"]
    staged = {**data, "openingBalanceFen": 90_000_000, "reason": "月初余额录错"}
    assert (await gql.mutate("saveMonthlyAccount", SAVE, staged, token=clerk))["errors"] == []
    after = (await gql.data(MONTH, {"v": v}))["monthlyAccount"]
    for key in ("openingBalanceFen", "incomeFen", "expenseFen", "closingBalanceFen"):
        assert after[key] == before[key], (key, before, after)
    assert after["version"] == before["version"] == 1  # the published version, not the staged
    # Staff see what is being prepared.
    staff = (await gql.data(MONTH, {"v": v}, token=supervisor))["monthlyAccount"]
    assert (staff["version"], int(staff["openingBalanceFen"])) == (2, 90_000_000)


async def test_the_shared_picture_shows_the_published_totals_not_a_staged_correction(gql, demo):
    clerk, supervisor = await tokens(gql, CLERK, SUPERVISOR)
    village = demo.villages[0]
    v = gid("Region", village.id)
    data = {
        "villageId": v,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 10_000_000,
        "lines": [line(3, 120, "东溪文具店"), line(8, 60, "村卫生保洁队")],
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    approved = await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    assert approved["errors"] == [], approved
    account = await MonthlyAccount.get(village_id=village.id, year=2026, month=5)
    published = await picture_content(village, account)
    staged = {
        **data,
        "lines": [line(3, 120, "东溪文具店"), line(8, 1, "村卫生保洁队")],
        "reason": "保洁费录错",
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, staged, token=clerk))["errors"] == []
    account = await MonthlyAccount.get(village_id=village.id, year=2026, month=5)
    shown = await picture_content(village, account)
    for key in ("opening", "income", "expense", "closing", "subjects"):
        assert shown[key] == published[key], (key, published[key], shown[key])


async def test_a_finance_item_is_not_corrected_past_the_supervisor(gql, demo):
    """The two-person rule: a FINANCE disclosure (here the one a month's approval made) gets
    no new public version without a second person; the clerk alone must not correct it."""
    clerk, supervisor = await tokens(gql, CLERK, SUPERVISOR)
    v = gid("Region", demo.villages[0].id)
    data = {
        "villageId": v,
        "year": 2026,
        "month": 5,
        "openingBalanceFen": 10_000_000,
        "lines": [line(3, 120, "东溪文具店")],
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    approved = await gql.mutate(
        "approveMonthlyAccount",
        APPROVE,
        {"villageId": v, "year": 2026, "month": 5},
        token=supervisor,
    )
    assert approved["errors"] == [], approved
    disclosure_id = approved["account"]["disclosureId"]
    before = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { version body } }", {"id": disclosure_id}
    )
    await gql(
        STEP % ("CorrectDisclosure", "correctDisclosure"),
        {"input": {"id": disclosure_id, "reason": "笔误", "body": "本月支出 0 元。"}},
        token=clerk,
    )
    after = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { version body } }", {"id": disclosure_id}
    )
    assert after == before, (before, after)


async def test_a_month_disclosure_is_corrected_only_through_its_month(gql, demo):
    account = await approved_month(gql, demo.villages[0], [line(3, 120, "东溪文具店")])
    out = await step(
        gql,
        "CorrectDisclosure",
        await gql.login(CLERK),
        id=account["disclosureId"],
        reason="笔误",
        body="本月支出 0 元。",
    )
    assert out["errors"] == [{"code": "CORRECT_THROUGH_MONTH", "field": "id"}]


async def test_a_finance_correction_waits_for_a_supervisor_who_did_not_make_it(gql, demo):
    clerk, supervisor = await tokens(gql, CLERK, SUPERVISOR)
    village = demo.villages[0]
    d = await published_finance(gql, clerk, supervisor, village)
    read = "query($id: ID!) { disclosure(id: $id) { version body versions { version reason } } }"
    before = await gql.data(read, {"id": d})
    staged = await step(
        gql, "CorrectDisclosure", clerk, id=d, reason="金额笔误", body="本月收到补助四万元。"
    )
    assert staged["errors"] == [] and staged["disclosure"]["version"] == 1
    assert await gql.data(read, {"id": d}) == before  # the public sees no change
    pending = "query($id: ID!) { disclosure(id: $id) { stagedCorrection { body reason } } }"
    assert (await gql.data(pending, {"id": d}))["disclosure"]["stagedCorrection"] is None
    assert (await gql.data(pending, {"id": d}, token=supervisor))["disclosure"][
        "stagedCorrection"
    ] == {"body": "本月收到补助四万元。", "reason": "金额笔误"}
    feed = await gql.data('query { disclosures(search: "四万元") { edges { node { id } } } }')
    assert feed["disclosures"]["edges"] == []
    # The clerk cannot approve it (not a supervisor); the supervisor can.
    assert error_codes(
        await gql(
            STEP % ("ApproveDisclosure", "approveDisclosure"), {"input": {"id": d}}, token=clerk
        )
    ) == ["FORBIDDEN"]
    out = await step(gql, "ApproveDisclosure", supervisor, id=d)
    assert out["errors"] == [] and out["disclosure"]["version"] == 2
    after = await gql.data(read, {"id": d})
    assert after["disclosure"]["body"] == "本月收到补助四万元。"
    assert after["disclosure"]["versions"][-1] == {"version": 2, "reason": "金额笔误"}
    done = await gql.data(pending, {"id": d}, token=supervisor)
    assert done["disclosure"]["stagedCorrection"] is None
    assert (await verdict(gql, village))["ok"]


async def published_finance(gql, clerk, supervisor, village) -> str:
    from tests.test_disclosures import draft, item_id

    d = await draft(
        gql,
        clerk,
        village,
        category="FINANCE",
        catalogueItemId=await item_id("FIN-2"),
        period="2026-10",
        title="2026年10月财务收入公开",
        body="本月收到上级专项补助款项三万元。",
    )
    await step(gql, "SubmitDisclosure", clerk, id=d["id"])
    await step(gql, "ApproveDisclosure", supervisor, id=d["id"])
    assert (await step(gql, "PublishDisclosure", clerk, id=d["id"]))["errors"] == []
    return d["id"]


# --- every served column of a published disclosure ---------------------------------------

TABLE = {
    "title": "误工补贴",
    "columns": [
        {"key": "name", "label": "姓名", "kind": "NAME"},
        {"key": "amount", "label": "金额（分）", "kind": "MONEY_FEN"},
    ],
    "rows": [["王秀英", "45000"]],
}

DISCLOSURE_TAMPERING = {
    "title": "UPDATE disclosure SET title = '修路预算八万元' WHERE id = {d}",
    "body": "UPDATE disclosure SET body = '修路预算八万元。' WHERE id = {d}",
    "tables": "UPDATE disclosure SET tables = '[]' WHERE id = {d}",
    "table cell": "UPDATE disclosure SET tables = '{cell_changed}' WHERE id = {d}",
    "period": "UPDATE disclosure SET period = '2026-Q2' WHERE id = {d}",
    "category": "UPDATE disclosure SET category = 'PARTY' WHERE id = {d}",
    "catalogue item": "UPDATE disclosure SET catalogue_item_id = {other_item} WHERE id = {d}",
    "region": "UPDATE disclosure SET region_id = {other_village} WHERE id = {d}",
    "region path": "UPDATE disclosure SET region_path = '{other_path}' WHERE id = {d}",
    "attachments": "UPDATE disclosure SET attachment_ids = '[]' WHERE id = {d}",
    "attachment file": "UPDATE media SET sha256 = '{fake_sha}' WHERE id = {media}",
    "version": "UPDATE disclosure SET version = 2 WHERE id = {d}",
    "published at": (
        "UPDATE disclosure SET published_at = '2020-01-01 00:00:00+00:00' WHERE id = {d}"
    ),
    "first published at": (
        "UPDATE disclosure SET first_published_at = '2020-01-01 00:00:00+00:00' WHERE id = {d}"
    ),
    "author": "UPDATE disclosure SET author_id = {admin} WHERE id = {d}",
    "must read": "UPDATE disclosure SET must_read = NOT must_read WHERE id = {d}",
    "approved by": "UPDATE disclosure SET approved_by_id = {admin} WHERE id = {d}",
    "approved at": (
        "UPDATE disclosure SET approved_at = '2020-01-01 00:00:00+00:00' WHERE id = {d}"
    ),
    "version's approval": (
        "UPDATE disclosure_version SET approved_at = '2020-01-01 00:00:00+00:00'"
        " WHERE disclosure_id = {d}"
    ),
    "status": "UPDATE disclosure SET status = 'RETRACTED' WHERE id = {d}",
    "retracted at": (
        "UPDATE disclosure SET retracted_at = '2026-01-01 00:00:00+00:00' WHERE id = {d}"
    ),
    "retraction reason": "UPDATE disclosure SET retraction_reason = '已撤回' WHERE id = {d}",
    "version's body": "UPDATE disclosure_version SET body = '改' WHERE disclosure_id = {d}",
}


@pytest.mark.parametrize("column", list(DISCLOSURE_TAMPERING))
async def test_each_served_column_of_a_published_disclosure_is_covered(client, gql, demo, column):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    photo = (await uploaded(client, clerk, media_files.phone_jpeg()))["media"]["id"]
    await published(gql, clerk, village, title="第一号公告")
    d = await published(
        gql,
        clerk,
        village,
        catalogueItemId=gid("CatalogueItem", (await CatalogueItem.get(code="CW-09")).id),
        period="2026-Q3",
        tables=[TABLE],
        attachmentIds=[photo],
    )
    await published(gql, clerk, village, title="第三号公告")
    assert (await verdict(gql, village))["ok"]
    await sql(
        DISCLOSURE_TAMPERING[column].format(
            d=pk(d["id"]),
            media=pk(photo),
            other_item=(await CatalogueItem.get(code="CW-03")).id,
            other_village=demo.villages[1].id,
            other_path=demo.villages[1].path,
            fake_sha="f" * 64,
            admin=demo.users["ADMIN"].id,
            cell_changed=orjson.dumps((await Disclosure.get(id=pk(d["id"]))).tables)
            .decode()
            .replace("45000", "95000"),
        )
    )
    broken = await verdict(gql, village)
    assert (broken["ok"], broken["firstBrokenAt"], broken["length"]) == (False, 2, 3), broken


async def test_a_retraction_is_covered_too(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    d = await published(gql, clerk, village, title="低保名单公示")
    out = await step(gql, "RetractDisclosure", clerk, id=d["id"], reason="名单有误，核实后重新公示")
    assert out["errors"] == [] and (await verdict(gql, village))["ok"]
    for statement in (
        "UPDATE disclosure SET retraction_reason = '没有原因' WHERE id = {d}",
        "UPDATE disclosure SET status = 'PUBLISHED' WHERE id = {d}",
        "UPDATE disclosure SET title = '低保名单' WHERE id = {d}",  # its last version
    ):
        original = await Disclosure.get(id=pk(d["id"]))
        await sql(statement.format(d=pk(d["id"])))
        broken = await verdict(gql, village)
        assert broken["ok"] is False and broken["firstBrokenAt"] in (1, 2), statement
        await original.save()  # put it back
        assert (await verdict(gql, village))["ok"], statement


# --- every served column of a published month ---------------------------------------------

MONTH_TAMPERING = {
    # the attack: 50,000 yuan more at the start of the month
    "opening": "UPDATE monthly_account SET opening_balance_fen = opening_balance_fen + 5000000",
    "income": "UPDATE monthly_account SET income_fen = income_fen + 1",
    "expense": "UPDATE monthly_account SET expense_fen = expense_fen - 1",
    "closing": "UPDATE monthly_account SET closing_balance_fen = closing_balance_fen + 1",
    "chart": "UPDATE monthly_account SET chart_version = '2004'",
    "source": "UPDATE monthly_account SET source = 'CSV'",
    "published version": "UPDATE monthly_account SET published_version = 7",
    "year": "UPDATE monthly_account SET year = 2025",
    "month": "UPDATE monthly_account SET month = 4",
    "village": "UPDATE monthly_account SET village_id = {other_village}",
    "disclosure": "UPDATE monthly_account SET disclosure_id = NULL",
    "published opening": (
        "UPDATE account_version SET opening_balance_fen = opening_balance_fen + 5000000"
    ),
    "published income": "UPDATE account_version SET income_fen = income_fen + 1",
    "published expense": "UPDATE account_version SET expense_fen = expense_fen + 1",
    "published closing": "UPDATE account_version SET closing_balance_fen = 1",
    "published chart": "UPDATE account_version SET chart_version = '2004'",
    "published source": "UPDATE account_version SET source = 'XLSX'",
    "line amount": "UPDATE account_line SET amount_fen = amount_fen + 1 WHERE line_no = 2",
    "line date": "UPDATE account_line SET date = '2026-05-09' WHERE line_no = 2",
    "line direction": "UPDATE account_line SET direction = 'INCOME' WHERE line_no = 2",
    "line subject": "UPDATE account_line SET subject_code = '514' WHERE line_no = 2",
    "line payee": "UPDATE account_line SET counterparty = '某某' WHERE line_no = 2",
    "line summary": "UPDATE account_line SET summary = '某某' WHERE line_no = 2",
    "line voucher": "UPDATE account_line SET voucher_no = '记-99' WHERE line_no = 2",
    "line receipt": "UPDATE account_line SET receipt_id = NULL WHERE line_no = 1",
    "line number": "UPDATE account_line SET line_no = 9 WHERE line_no = 2",
    "line deleted": "DELETE FROM account_line WHERE line_no = 2",
    "receipt file": "UPDATE media SET sha256 = '{fake_sha}' WHERE id = {receipt}",
    "title": "UPDATE disclosure SET title = '改过' WHERE id = {d}",
    "body": "UPDATE disclosure SET body = '月初余额 950,000.00 元' WHERE id = {d}",
}


@pytest.mark.parametrize("column", list(MONTH_TAMPERING))
async def test_each_served_column_of_a_published_month_is_covered(client, gql, demo, column):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    await published(gql, clerk, village, title="第一号公告")
    paper = await receipt(client, clerk, 1)
    account = await approved_month(
        gql, village, [line(3, 120, "东溪文具店", paper), line(8, 60, "村卫生保洁队")]
    )
    assert (await verdict(gql, village))["ok"]
    await sql(
        MONTH_TAMPERING[column].format(
            other_village=demo.villages[1].id,
            fake_sha="e" * 64,
            receipt=pk(paper),
            d=pk(account["disclosureId"]),
        )
    )
    broken = await verdict(gql, village)
    assert (broken["ok"], broken["firstBrokenAt"], broken["length"]) == (False, 2, 2), broken


# --- truncation ---------------------------------------------------------------------------


async def test_deleting_the_last_entry_is_told_to_a_client_holding_the_old_head(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    first = await published(gql, clerk, village, title="第一号公告")
    second = await published(gql, clerk, village, title="第二号公告")
    seen = await verdict(gql, village)
    head = {"length": seen["length"], "hash": seen["headHash"]}
    older = {"length": 1, "hash": (await LedgerEntry.get(region_id=village.id, seq=1)).hash}
    assert (await verdict(gql, village, head))["containsKnownHead"] is True
    assert (await verdict(gql, village))["containsKnownHead"] is None

    await sql(f"DELETE FROM ledger_entry WHERE region_id = {village.id} AND seq = 2")
    told = await verdict(gql, village, head)
    assert told["containsKnownHead"] is False and told["length"] == 1
    # The second item is still served without an entry: the chain is broken after its end.
    assert (told["ok"], told["firstBrokenAt"]) == (False, 2)
    assert (await verdict(gql, village, older))["containsKnownHead"] is True

    # Covering it up (the item made a draft again) leaves a consistent chain — but not the
    # head the client saw.
    await sql(
        "UPDATE disclosure SET status = 'DRAFT', published_at = NULL, first_published_at = NULL "
        f"WHERE id = {pk(second['id'])}"
    )
    covered = await verdict(gql, village, head)
    assert (covered["ok"], covered["containsKnownHead"]) == (True, False)
    # A forged head of the right length is no better.
    forged = await verdict(gql, village, {"length": 1, "hash": "0" * 64})
    assert forged["containsKnownHead"] is False
    assert first["id"]


async def test_deleting_a_correction_entry_is_caught(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    d = await published(gql, clerk, village)
    fixed = await step(
        gql, "CorrectDisclosure", clerk, id=d["id"], reason="预算笔误", body="十五万"
    )
    assert fixed["errors"] == []
    await sql(f"DELETE FROM ledger_entry WHERE region_id = {village.id} AND seq = 2")
    broken = await verdict(gql, village)
    assert (broken["ok"], broken["firstBrokenAt"]) == (False, 1)  # it serves version 2


async def test_the_picture_and_the_export_name_the_head_they_were_made_from(
    gql, demo, tmp_path, capsys
):
    village = demo.villages[0]
    clerk = await gql.login(CLERK)
    await published(gql, clerk, village, title="第一号公告")
    await approved_month(gql, village, [line(3, 120, "东溪文具店")])
    head = await LedgerEntry.get(region_id=village.id, seq=2)
    account = await MonthlyAccount.get(village_id=village.id, year=2026, month=5)
    content = await picture_content(village, account)
    assert content["head"] == {"length": 2, "hash": head.hash}
    assert head_label(content["head"]) == f"链头 2:{head.hash[:12]}"

    export = tmp_path / "ledger.json"
    region, entries = await verify_ledger.load_entries(village.code)
    verify_ledger.write_export(export, region, entries)
    assert f"made from head 2:{head.hash[:12]}" in capsys.readouterr().out
    document = orjson.loads(export.read_bytes())
    assert document["head"] == {"length": 2, "hash": head.hash}
    assert verify_ledger.main(["--file", str(export), "--known-head", f"2:{head.hash}"]) == 0
    assert verify_ledger.main(["--file", str(export), "--known-head", "3:abc"]) == 1
    assert "KNOWN HEAD MISSING" in capsys.readouterr().out
    # An export cut short no longer matches the head it names.
    document["entries"] = document["entries"][:1]
    export.write_bytes(orjson.dumps(document))
    assert verify_ledger.main(["--file", str(export)]) == 1
