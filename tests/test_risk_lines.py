"""Risk hits people can read and decide in batches; a confirmed problem shown on its line,
chained, and raised as the supervision committee's flag; account lines as nodes villagers
flag and comment one by one. Each hostile attempt is a test."""

from __future__ import annotations

from tortoise import Tortoise

from models.audit import AuditEntry
from models.finance import RiskHit
from models.flags import Flag
from tests import test_attacks
from tests.client import error_codes
from tests.test_attacks import gid
from tests.test_comments import ADD, resident
from tests.test_disclosures import CLERK, INSPECTOR, OFFICIAL, SUPERVISOR, VILLAGER
from tests.test_finance import APPROVE, DECIDE, SAVE, line, receipt, save_month
from tests.test_flags import FLAG_ISSUE

others = test_attacks.others  # the same outsiders as the attack tests

HITS = """query($v: ID!, $m: Int!) { monthlyAccount(villageId: $v, year: 2026, month: $m) {
  riskHits { id lineNo version rule status message note } } }"""
DECIDE_MANY = """mutation($input: DecideRiskHitsInput!) { decideRiskHits(input: $input) {
  accounts { month riskHits { id status note } } errors { code field } } }"""
LINES = """query($v: ID!, $m: Int!) { monthlyAccount(villageId: $v, year: 2026, month: $m) {
  status lines(first: 50) { edges { node { id lineNo amountFen counterparty
    confirmedProblems { rule message note decidedAt flag { id } } } } } } }"""
NODE = """query($id: ID!) { node(id: $id) { id ... on AccountLine { lineNo amountFen
  counterparty version monthlyAccount { year month status }
  confirmedProblems { rule message note decidedAt flag { id byCommittee } }
  flagCounts { total open } flags { id byCommittee raisedBy anonymous flagger { id } }
  commentCount comments(first: 10) { edges { node { id body } } } } } }"""
QUEUE = """query($r: ID!) { flags(regionId: $r, first: 50) { edges { node { id targetId
  byCommittee raisedBy reasonCode body status region { id } flagger { name } } } } }"""
VERIFY = "query($v: ID!) { verifyLedger(villageId: $v) { ok length firstBrokenAt } }"
ACCEPT = """mutation($input: AcceptFlagInput!) { acceptFlag(input: $input) {
  flag { status } errors { code } } }"""


def month_input(village, month=5):
    return {"villageId": gid("Region", village.id), "year": 2026, "month": month}


async def hits(gql, village, token, month=5, lang=None):
    v = gid("Region", village.id)
    return (await gql.data(HITS, {"v": v, "m": month}, token=token, lang=lang))["monthlyAccount"][
        "riskHits"
    ]


async def lines_of(gql, village, token=None, month=5):
    v = gid("Region", village.id)
    data = await gql.data(LINES, {"v": v, "m": month}, token=token)
    return [e["node"] for e in data["monthlyAccount"]["lines"]["edges"]]


async def decide_all(gql, token, village, confirmed=False, note="经查无问题", month=5):
    ids = [h["id"] for h in await hits(gql, village, token, month)]
    if not ids:
        return ids
    out = await gql.mutate(
        "decideRiskHits",
        DECIDE_MANY,
        {"ids": ids, "confirmed": confirmed, "note": note},
        token=token,
    )
    assert out["errors"] == [], out
    return ids


async def published_month(gql, village, lines, month=5):
    """A month saved by the clerk, its hits cleared and approved by the supervisor."""
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    await save_month(gql, clerk, village, lines, month=month)
    await decide_all(gql, supervisor, village, month=month)
    out = await gql.mutate(
        "approveMonthlyAccount", APPROVE, month_input(village, month), token=supervisor
    )
    assert out["errors"] == [], out


# --- 1. sentences ---


async def test_each_rule_reads_as_a_sentence_in_chinese_and_english(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = [await receipt(client, clerk, n) for n in range(5)]
    cases = [
        (
            [line(3, 1200, "张三", r[0]), line(20, 1200, "张三", r[1])],
            "第1行和第2行向同一收款人“张三”各支付 ¥1,200.00",
            "Lines 1 and 2 each pay 张三 ¥1,200.00",
        ),
        (
            [line(3, 120, "甲", r[2]), line(4, 130, "乙", r[2])],
            "第1行和第2行使用了同一张凭证图片",
            "Lines 1 and 2 use the same receipt image",
        ),
        (
            [line(5, 5200.5, "丁工程队")],
            "第1行向“丁工程队”支付 ¥5,200.50，达到 ¥5,000.00，却没有凭证",
            "Line 1 pays 丁工程队 ¥5,200.50, at least ¥5,000.00, without a receipt",
        ),
        (
            [line(6, 9500, "戊建材", r[3]), line(7, 9800, "戊建材", r[4])],
            "第1行和第2行分2笔向“戊建材”共支付 ¥19,300.00，每笔都略低于须经会议决定的 ¥10,000.00",
            "Lines 1 and 2 pay 戊建材 ¥19,300.00 in 2 payments, each just under the ¥10,000.00"
            " that needs a meeting's decision",
        ),
        (
            [line(9, 300, "刘芳", r[0])],
            "第1行向本村干部“刘芳”支付 ¥300.00",
            "Line 1 pays ¥300.00 to 刘芳, who holds a role in this village",
        ),
    ]
    for lines, zh, en in cases:
        await save_month(gql, clerk, village, lines)
        assert {h["message"] for h in await hits(gql, village, supervisor)} == {zh}
        assert {h["message"] for h in await hits(gql, village, supervisor, lang="en")} == {en}
    # A receipt used again in June names the month it was used in first.
    await save_month(gql, clerk, village, [line(3, 120, "甲", r[0], month=6)], month=6)
    [hit] = await hits(gql, village, supervisor, month=6)
    assert hit["message"] == "第1行的凭证图片已在2026-05的账目中使用过"
    # The clerk still reads no risk hit, sentence or not.
    data = await gql.data(HITS, {"v": gid("Region", village.id), "m": 5}, token=clerk)
    assert data["monthlyAccount"]["riskHits"] is None


# --- 2. deciding several at once ---


async def test_a_supervisor_decides_a_whole_month_in_one_request(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    lines = [
        line(3, 1200, "张三"),
        line(4, 1200, "张三"),
        line(5, 5200, "丁工程队"),
        line(9, 300, "刘芳"),
    ]
    await save_month(gql, clerk, village, lines)
    found = await hits(gql, village, supervisor)
    assert len(found) == 4  # two duplicate payments, one without a receipt, one officer
    ids = [h["id"] for h in found]
    out = await gql.mutate(
        "decideRiskHits",
        DECIDE_MANY,
        {"ids": ids + ids[:1], "confirmed": False, "note": "合同和收条已补交存档"},
        token=supervisor,
    )
    assert out["errors"] == []
    [account] = out["accounts"]
    assert {(h["status"], h["note"]) for h in account["riskHits"]} == {
        ("CLEARED", "合同和收条已补交存档")
    }
    # One audit entry per hit: each hit's history reads whole.
    entries = await AuditEntry.filter(action="accounts.risk_decide").values_list(
        "object_id", flat=True
    )
    assert sorted(entries) == sorted(str(int(gid_pk(i))) for i in ids)
    approved = await gql.mutate(
        "approveMonthlyAccount", APPROVE, month_input(village), token=supervisor
    )
    assert approved["errors"] == []
    # decideRiskHit keeps working (the single form).
    await save_month(gql, clerk, village, [line(5, 5200, "丁工程队", month=6)], month=6)
    [hit] = await hits(gql, village, supervisor, month=6)
    single = await gql.mutate(
        "decideRiskHit",
        DECIDE,
        {"id": hit["id"], "confirmed": False, "note": "已补"},
        token=supervisor,
    )
    assert single["errors"] == []


def gid_pk(global_id: str) -> int:
    from api.relay import from_global_id

    return int(from_global_id(global_id)[1])


async def test_a_batch_is_all_or_nothing_and_capped(gql, demo, others):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village, neighbour = demo.villages[0], demo.villages[1]
    await save_month(gql, clerk, village, [line(5, 5200, "丁工程队"), line(6, 5300, "己")])
    ids = [h["id"] for h in await hits(gql, village, supervisor)]
    # The neighbour village's clerk and supervisor make a month with a hit of their own.
    clerk2, supervisor2 = await gql.login(others["CLERK2"]), await gql.login(others["SUPERVISOR2"])
    await save_month(gql, clerk2, neighbour, [line(5, 5200, "外村工程队")])
    [theirs] = [h["id"] for h in await hits(gql, neighbour, supervisor2)]

    def attempt(ids_, note="经查无问题"):
        return {"input": {"ids": ids_, "confirmed": True, "note": note}}

    # A hit of another village in the batch: refused, and nothing of the batch decided.
    assert error_codes(await gql(DECIDE_MANY, attempt(ids + [theirs]), token=supervisor)) == [
        "FORBIDDEN"
    ]
    for outsider in (supervisor2, await gql.login(others["OFFICIAL2"])):
        assert error_codes(await gql(DECIDE_MANY, attempt(ids), token=outsider)) == ["FORBIDDEN"]
    for phone in (CLERK, VILLAGER, INSPECTOR):
        body = await gql(DECIDE_MANY, attempt(ids), token=await gql.login(phone))
        assert error_codes(body) == ["FORBIDDEN"], phone
    assert error_codes(await gql(DECIDE_MANY, attempt(ids))) == ["UNAUTHENTICATED"]
    refusals = [
        (ids + [gid("RiskHit", 999_999)], "经查无问题", "NOT_FOUND"),
        ([], "经查无问题", "NOT_FOUND"),
        (ids, " ", "REASON_REQUIRED"),
        (ids + [gid("Flag", 1)], "经查无问题", "WRONG_KIND"),
        (ids + ["not-an-id"], "经查无问题", "INVALID_ID"),
        ([gid("RiskHit", n) for n in range(1, 202)], "经查无问题", "TOO_MANY_ITEMS"),
    ]
    for batch, note, code in refusals:
        out = await gql.mutate(
            "decideRiskHits", DECIDE_MANY, attempt(batch, note)["input"], token=supervisor
        )
        assert [e["code"] for e in out["errors"]] == [code], (code, out)
        assert out["accounts"] is None
    assert {h["status"] for h in await hits(gql, village, supervisor)} == {"OPEN"}
    assert {h["status"] for h in await hits(gql, neighbour, supervisor2)} == {"OPEN"}
    assert not await AuditEntry.filter(action="accounts.risk_decide").exists()


async def test_a_published_decision_is_final(gql, demo):
    supervisor = await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await published_month(gql, village, [line(5, 5200, "丁工程队")])
    [hit] = await hits(gql, village, supervisor)
    assert hit["status"] == "CLEARED"
    single = await gql.mutate(
        "decideRiskHit",
        DECIDE,
        {"id": hit["id"], "confirmed": True, "note": "改主意"},
        token=supervisor,
    )
    assert single["errors"] == [{"code": "RISK_HIT_PUBLISHED"}]
    many = await gql.mutate(
        "decideRiskHits",
        DECIDE_MANY,
        {"ids": [hit["id"]], "confirmed": True, "note": "改主意"},
        token=supervisor,
    )
    assert many["errors"] == [{"code": "RISK_HIT_PUBLISHED", "field": "ids"}]
    official = await gql.login(OFFICIAL)  # the township may not re-decide it either
    again = await gql.mutate(
        "decideRiskHit",
        DECIDE,
        {"id": hit["id"], "confirmed": True, "note": "改主意"},
        token=official,
    )
    assert again["errors"] == [{"code": "RISK_HIT_PUBLISHED"}]
    [after] = await hits(gql, village, supervisor)
    assert (after["status"], after["note"]) == ("CLEARED", "经查无问题")


# --- 3. a confirmed problem is not silent ---


async def test_a_confirmed_problem_is_public_on_its_line_and_flagged_to_the_township(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    official = await gql.login(OFFICIAL)
    village = demo.villages[0]
    v = gid("Region", village.id)
    await save_month(gql, clerk, village, [line(3, 120, "文具店"), line(5, 5200, "丁工程队")])
    [hit] = await hits(gql, village, supervisor)
    note = "无发票，已责令补交并退回多付款项"
    for _ in range(2):  # confirming twice raises one flag
        out = await gql.mutate(
            "decideRiskHits",
            DECIDE_MANY,
            {"ids": [hit["id"]], "confirmed": True, "note": note},
            token=supervisor,
        )
        assert out["errors"] == []
    # Before publication: nothing public, no flag yet, and the staff's draft lines show none.
    assert await Flag.all().count() == 0
    body = await gql(LINES, {"v": v, "m": 5}, token=await gql.login(VILLAGER))
    assert error_codes(body) == ["FORBIDDEN"]
    staff_view = await lines_of(gql, village, supervisor)
    assert all(n["confirmedProblems"] == [] for n in staff_view)

    approved = await gql.mutate(
        "approveMonthlyAccount", APPROVE, month_input(village), token=supervisor
    )
    assert approved["errors"] == []
    public = {n["lineNo"]: n for n in await lines_of(gql, village)}
    [problem] = public[2]["confirmedProblems"]
    assert problem["rule"] == "NO_RECEIPT_ABOVE_THRESHOLD"
    assert problem["message"] == "第2行向“丁工程队”支付 ¥5,200.00，达到 ¥5,000.00，却没有凭证"
    assert problem["note"] == note and problem["decidedAt"]
    assert public[1]["confirmedProblems"] == []
    line_id = public[2]["id"]

    # One flag, on the line, raised by the committee, in the township's queue.
    assert await Flag.all().count() == 1
    queue = await gql.data(QUEUE, {"r": gid("Region", demo.townships[0].id)}, token=official)
    [flag] = [e["node"] for e in queue["flags"]["edges"]]
    assert flag["id"] == problem["flag"]["id"]
    assert flag["targetId"] == line_id and flag["region"]["id"] == v
    assert flag["byCommittee"] is True and flag["raisedBy"] == "村务监督委员会"
    assert flag["status"] == "SUBMITTED" and flag["reasonCode"] == "RECEIPT_MISSING"
    assert "丁工程队" in flag["body"] and note in flag["body"]
    # The public sees it on the line as the committee's, not anonymous and naming nobody.
    node = (await gql.data(NODE, {"id": line_id}))["node"]
    [shown] = node["flags"]
    assert shown == {
        "id": flag["id"],
        "byCommittee": True,
        "raisedBy": "村务监督委员会",
        "anonymous": False,
        "flagger": None,
    }
    assert node["flagCounts"] == {"total": 1, "open": 1}
    english = await gql.data(NODE, {"id": line_id}, lang="en")
    assert english["node"]["flags"][0]["raisedBy"] == "Village supervision committee"
    assert english["node"]["confirmedProblems"][0]["message"].startswith("Line 2 pays 丁工程队")
    # It follows the normal workflow: an official must answer it.
    accepted = await gql(ACCEPT, {"input": {"id": flag["id"], "note": "已受理"}}, token=official)
    assert accepted["data"]["acceptFlag"]["flag"]["status"] == "ACCEPTED"

    # The chain covers it: the note or the decision changed behind the API's back breaks it.
    assert (await gql.data(VERIFY, {"v": v}))["verifyLedger"]["ok"] is True
    pk = gid_pk(hit["id"])
    for change, undo in [
        (
            f"UPDATE risk_hit SET note = '无问题' WHERE id = {pk}",
            f"UPDATE risk_hit SET note = '{note}' WHERE id = {pk}",
        ),
        (
            f"UPDATE risk_hit SET status = 'CLEARED' WHERE id = {pk}",
            f"UPDATE risk_hit SET status = 'CONFIRMED' WHERE id = {pk}",
        ),
    ]:
        await Tortoise.get_connection("default").execute_script(change)
        broken = (await gql.data(VERIFY, {"v": v}))["verifyLedger"]
        assert broken == {"ok": False, "length": 1, "firstBrokenAt": 1}, change
        await Tortoise.get_connection("default").execute_script(undo)
        assert (await gql.data(VERIFY, {"v": v}))["verifyLedger"]["ok"] is True
    # …and so is a problem invented for a cleared line.
    await RiskHit.filter(id=pk).update(status="CLEARED")
    assert (await gql.data(VERIFY, {"v": v}))["verifyLedger"]["ok"] is False


async def test_a_correction_keeps_the_published_problem_and_raises_no_second_flag(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    v = gid("Region", village.id)
    await save_month(gql, clerk, village, [line(5, 5200, "丁工程队")])
    await decide_all(gql, supervisor, village, confirmed=True, note="确无凭证")
    await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    [old] = await lines_of(gql, village)
    # A correction is staged: the rules run on its lines; the published problem stays.
    data = {
        **month_input(village),
        "openingBalanceFen": 10_000_000,
        "reason": "补记一笔收入",
        "lines": [
            line(5, 5200, "丁工程队"),
            line(6, 100, "合作社", direction="INCOME", subject="501"),
        ],
    }
    staged = await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk)
    assert staged["errors"] == []
    assert [p["note"] for p in (await lines_of(gql, village))[0]["confirmedProblems"]] == [
        "确无凭证"
    ]
    # Staff see the staged lines, and their new hit, still open; nobody may re-decide the old one.
    found = await hits(gql, village, supervisor)
    assert sorted((h["version"], h["status"]) for h in found) == [(1, "CONFIRMED"), (2, "OPEN")]
    staged_ids = [h["id"] for h in found if h["status"] == "OPEN"]
    # Confirming a quiet "cleared" on the staged version then approving is public as well.
    await gql.mutate(
        "decideRiskHits",
        DECIDE_MANY,
        {"ids": staged_ids, "confirmed": False, "note": "已补凭证"},
        token=supervisor,
    )
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == []
    assert await Flag.filter(by_committee=True).count() == 1
    # The old line keeps its problem and its flag, readable by id; the chain verifies.
    node = (await gql.data(NODE, {"id": old["id"]}))["node"]
    assert node["version"] == 1 and [p["note"] for p in node["confirmedProblems"]] == ["确无凭证"]
    assert node["flagCounts"]["total"] == 1
    assert (await gql.data(VERIFY, {"v": v}))["verifyLedger"] == {
        "ok": True,
        "length": 2,
        "firstBrokenAt": None,
    }


# --- 4. account lines as nodes, flagged and commented ---


async def test_the_public_reads_a_line_by_id_and_a_villager_flags_and_comments_on_it(
    gql, demo, others
):
    village = demo.villages[0]
    await published_month(gql, village, [line(3, 120, "文具店"), line(4, 680, "保洁队")])
    lines = await lines_of(gql, village)
    target = lines[1]["id"]
    node = (await gql.data(NODE, {"id": target}))["node"]
    assert (node["lineNo"], node["amountFen"], node["counterparty"]) == (2, 68_000, "保洁队")
    assert node["monthlyAccount"] == {"year": 2026, "month": 5, "status": "PUBLISHED"}
    assert node["flags"] == [] and node["commentCount"] == 0

    villager = await gql.login(VILLAGER)
    flagged = await gql.mutate(
        "flagIssue",
        FLAG_ISSUE,
        {"targetId": target, "reasonCode": "AMOUNT_QUESTIONED", "body": "保洁费比上月多了一倍"},
        token=villager,
    )
    assert flagged["errors"] == []
    comment = await gql.mutate(
        "addComment", ADD, {"targetId": target, "body": "请说明保洁费明细"}, token=villager
    )
    assert comment["errors"] == []
    reply = await gql.mutate(
        "addComment",
        ADD,
        {"targetId": target, "body": "按合同每月结算", "parentId": comment["comment"]["id"]},
        token=await gql.login(CLERK),
    )
    assert reply["errors"] == []
    node = (await gql.data(NODE, {"id": target}))["node"]
    assert [f["id"] for f in node["flags"]] == [flagged["flag"]["id"]]
    assert node["flags"][0]["byCommittee"] is False and node["flags"][0]["raisedBy"] is None
    assert node["flagCounts"] == {"total": 1, "open": 1}
    assert node["commentCount"] == 2
    assert [e["node"]["body"] for e in node["comments"]["edges"]] == ["请说明保洁费明细"]
    other = (await gql.data(NODE, {"id": lines[0]["id"]}))["node"]
    assert other["flags"] == [] and other["commentCount"] == 0
    # In the township's usual queue, with the month's village as its region.
    queue = await gql.data(
        QUEUE, {"r": gid("Region", demo.townships[0].id)}, token=await gql.login(OFFICIAL)
    )
    [row] = [e["node"] for e in queue["flags"]["edges"]]
    assert row["targetId"] == target and row["region"]["id"] == gid("Region", village.id)

    # A villager of another village may neither flag nor comment; an unverified one is told.
    outsider = await gql.login(others["VILLAGER2"])
    flag_body = {"targetId": target, "reasonCode": "OTHER", "body": "外村村民的质疑"}
    assert error_codes(await gql(FLAG_ISSUE, {"input": flag_body}, token=outsider)) == ["FORBIDDEN"]
    body = await gql(ADD, {"input": {"targetId": target, "body": "外村的看法"}}, token=outsider)
    assert error_codes(body) == ["FORBIDDEN"]
    newcomer = await resident(gql, demo, "13700000077", verify=False)
    body = await gql(ADD, {"input": {"targetId": target, "body": "新来的"}}, token=newcomer)
    assert body["data"]["addComment"]["errors"] == [
        {"code": "RESIDENCY_REQUIRED", "field": "targetId"}
    ]
    # A reply must belong to the same line.
    body = await gql(
        ADD,
        {
            "input": {
                "targetId": lines[0]["id"],
                "body": "回复",
                "parentId": comment["comment"]["id"],
            }
        },
        token=villager,
    )
    assert [e["code"] for e in body["data"]["addComment"]["errors"]] == ["NOT_FOUND"]


async def test_a_draft_months_line_answers_like_a_missing_id(gql, demo, others):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(3, 120, "文具店")])
    [draft_line] = await lines_of(gql, village, clerk)
    missing = gid("AccountLine", 999_999)
    outsiders = [None, await gql.login(VILLAGER)] + [
        await gql.login(others[k]) for k in ("CLERK2", "SUPERVISOR2", "VILLAGER2", "OFFICIAL2")
    ]
    for token in outsiders:
        for target in (draft_line["id"], missing):
            body = await gql(NODE, {"id": target}, token=token)
            assert error_codes(body) == ["NOT_FOUND"] and body["data"]["node"] is None, token
    # The village's own staff see the line being prepared.
    for token in (clerk, supervisor, await gql.login(OFFICIAL)):
        assert (await gql.data(NODE, {"id": draft_line["id"]}, token=token))["node"]["lineNo"] == 1
    # Flagging or commenting on it: NOT_FOUND for the public, NOT_COMMENTABLE for staff.
    villager = await gql.login(VILLAGER)
    flag_body = {"targetId": draft_line["id"], "reasonCode": "OTHER", "body": "草稿里的一行"}
    out = await gql.mutate("flagIssue", FLAG_ISSUE, flag_body, token=villager)
    assert out["errors"] == [{"code": "NOT_FOUND", "field": "targetId"}]
    out = await gql.mutate(
        "addComment", ADD, {"targetId": draft_line["id"], "body": "偷看"}, token=villager
    )
    assert [e["code"] for e in out["errors"]] == ["NOT_FOUND"]
    out = await gql.mutate("flagIssue", FLAG_ISSUE, flag_body, token=supervisor)
    assert out["errors"] == [{"code": "NOT_COMMENTABLE", "field": "targetId"}]
    out = await gql.mutate(
        "flagIssue", FLAG_ISSUE, {**flag_body, "targetId": missing}, token=villager
    )
    assert out["errors"] == [{"code": "NOT_FOUND", "field": "targetId"}]
    assert await Flag.all().count() == 0

    # Once published, a staged correction's lines are again for staff only.
    await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    data = {**month_input(village), "reason": "改正金额", "lines": [line(3, 125, "文具店")]}
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    staged = [n for n in await lines_of(gql, village, clerk) if n["id"] != draft_line["id"]]
    [staged_line] = staged
    assert error_codes(await gql(NODE, {"id": staged_line["id"]}, token=villager)) == ["NOT_FOUND"]
    assert (await gql.data(NODE, {"id": draft_line["id"]}, token=villager))["node"][
        "amountFen"
    ] == 12_000
    out = await gql.mutate(
        "flagIssue", FLAG_ISSUE, {**flag_body, "targetId": staged_line["id"]}, token=villager
    )
    assert out["errors"] == [{"code": "NOT_FOUND", "field": "targetId"}]


async def test_other_kinds_of_ids_are_not_commentable(gql, demo):
    supervisor, villager = await gql.login(SUPERVISOR), await gql.login(VILLAGER)
    village = demo.villages[0]
    await save_month(gql, await gql.login(CLERK), village, [line(5, 5200, "丁工程队")])
    [hit] = await hits(gql, village, supervisor)
    for target in (hit["id"], gid("Region", village.id)):
        out = await gql.mutate(
            "addComment", ADD, {"targetId": target, "body": "评论"}, token=villager
        )
        assert [e["code"] for e in out["errors"]] == ["NOT_COMMENTABLE"]


async def test_a_decision_racing_the_approval_is_either_published_or_refused(gql, demo):
    import asyncio

    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    official = await gql.login(OFFICIAL)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(5, 5200, "丁工程队")])
    [hit] = await hits(gql, village, supervisor)
    await decide_all(gql, supervisor, village)
    approved, decided = await asyncio.gather(
        gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor),
        gql.mutate(
            "decideRiskHit",
            DECIDE,
            {"id": hit["id"], "confirmed": True, "note": "其实没有凭证"},
            token=official,
        ),
    )
    assert approved["errors"] == []
    [public] = await lines_of(gql, village)
    shown = [p["note"] for p in public["confirmedProblems"]]
    if decided["errors"]:  # the approval came first: the decision is refused, nothing shown
        assert decided["errors"] == [{"code": "RISK_HIT_PUBLISHED"}] and shown == []
    else:  # the decision came first: it is published with the month and flagged
        assert shown == ["其实没有凭证"]
    assert await Flag.filter(by_committee=True).count() == len(shown)
    v = gid("Region", village.id)
    assert (await gql.data(VERIFY, {"v": v}))["verifyLedger"]["ok"] is True
