"""Attacks on what issue 12 added (work lists, journal imports, risk-hit sentences and batch
decisions, confirmed problems, account lines as nodes, my flags and comments, flaggers who
stand by their flag, redaction of published receipts, the vendored GraphiQL and GET /), as a
hostile client, a curious admin and someone with database access. Each attempt is a test:
where it succeeded, the fix is in the domain layer and the test keeps it fixed."""

from __future__ import annotations

import base64
import json

import pytest

from models.audit import AuditEntry
from models.disclosures import LedgerEntry, ReturnNote
from models.finance import AccountLine, MonthlyAccount, RiskHit
from models.flags import Flag
from tests import media_files, test_attacks
from tests.client import error_codes
from tests.test_attacks import DISCLOSURE
from tests.test_comments import ADD
from tests.test_disclosures import CLERK, OFFICIAL, SUPERVISOR, VILLAGER, published
from tests.test_finance import APPROVE, SAVE, line, receipt, save_month
from tests.test_flags import FLAG_ISSUE, raise_flag
from tests.test_import_layouts import HEADER, IMPORT, csv_bytes, xlsx
from tests.test_integrity import approved_month, gid, verdict
from tests.test_media import REDACT, uploaded
from tests.test_redaction import MONTH, photo, redact
from tests.test_risk_lines import (
    DECIDE_MANY,
    HITS,
    NODE,
    QUEUE,
    decide_all,
    lines_of,
    month_input,
    published_month,
)
from tests.test_risk_lines import hits as risk_hits
from tests.test_villager import MY_COMMENTS, MY_FLAGS
from tests.test_worklist import QUEUE as WORK_QUEUE
from tests.test_worklist import RETURN, RETURN_MONTH
from tests.test_worklist import WORK as MY_WORK

others = test_attacks.others  # the same outsiders as the attack tests


async def month_receipts(gql, village) -> list:
    data = await gql.data(MONTH, {"v": gid("Region", village.id)})
    return [e["node"]["receipt"] for e in data["monthlyAccount"]["lines"]["edges"]]


# --- redaction ---


@pytest.fixture
async def public_receipt(client, gql, demo):
    """A published month of 东溪村 whose first line holds a photo receipt."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    receipt = await photo(client, clerk, (820, 620))
    await approved_month(gql, village, [line(3, 120, "东溪建材店", receipt["id"])])
    [shown] = await month_receipts(gql, village)
    assert shown["id"] == receipt["id"]
    return {"village": village, "receipt": shown}


async def test_another_villages_clerk_cannot_black_out_a_published_receipt_by_its_bytes(
    client, gql, demo, others, public_receipt
):
    """The public receipt, downloaded and uploaded again in another village, is the same
    file: redacting that upload must not replace (or hide) the first village's receipt."""
    village, receipt = public_receipt["village"], public_receipt["receipt"]
    before = await verdict(gql, village)
    data = (await client.get(receipt["url"])).content
    whole = {"x": 0, "y": 0, "w": 820, "h": 620}
    for phone, region in (
        (others["CLERK2"], None),
        (others["SUPERVISOR2"], None),
        (others["OFFICIAL2"], demo.townships[1]),
    ):
        token = await gql.login(phone)
        where = gid("Region", region.id) if region else None
        mine = (await uploaded(client, token, data, region_id=where))["media"]
        assert mine["sha256"] == receipt["sha256"]  # the same file, cleaned again
        body = await gql(
            REDACT,
            {"input": {"mediaId": mine["id"], "rectangles": [whole], "reason": "遮挡"}},
            token=token,
        )
        assert error_codes(body) == ["FORBIDDEN"], (phone, body)
        assert await month_receipts(gql, village) == [receipt], phone
        assert (await client.get(receipt["url"])).status_code == 200
    after = await verdict(gql, village)
    assert after["ok"] and after["length"] == before["length"]
    # The village's own staff, and the township covering both, still may.
    out = await redact(gql, await gql.login(OFFICIAL), receipt["id"])
    assert out["errors"] == [], out
    [shown] = await month_receipts(gql, village)
    assert shown["redacted"] and shown["id"] != receipt["id"]


# --- malformed journals: a clear code each, nothing stored, never an internal error ---

J = HEADER


def voucher(debit_code, debit, credit_code, credit, day="2026-03-02", no="记-1", summary="补助"):
    return [
        [day, no, summary, debit_code, "借", debit, ""],
        [day, no, summary, credit_code, "贷", "", credit],
    ]


BAD_JOURNALS = {
    "giant amount": [J, *voucher("102", "9" * 30, "503", "9" * 30)],
    "exponent": [J, *voucher("102", "1e308", "503", "1e308")],
    "infinity": [J, *voucher("102", "inf", "503", "inf")],
    "not a number": [J, *voucher("102", "NaN", "503", "NaN")],
    "negative both sides": [J, *voucher("102", "-100", "503", "-100")],
    "fractions of a fen": [J, *voucher("102", "100.001", "503", "100.001")],
    "formula cell": [J, *voucher("102", "=100", "503", "=100")],
    "date after the month": [J, *voucher("102", "100", "503", "100", day="2026-04-01")],
    "date before the month": [J, *voucher("102", "100", "503", "100", day="2026-02-28")],
    "impossible date": [J, *voucher("102", "100", "503", "100", day="2026-02-30")],
    "unknown subject": [J, *voucher("102", "100", "999", "100")],
    "only total rows": [J, ["", "", "本月合计", "", "", "100", "100"]],
    "a cell with a NUL": [J, *voucher("102", "100", "503", "100", summary="补\x00助")],
}


def raw_bytes(rows, encoding="gbk") -> bytes:
    return csv_bytes(rows, encoding)


async def import_body(client, token, village, data) -> dict:
    variables = {
        "input": {
            "villageId": gid("Region", village.id),
            "year": 2026,
            "month": 3,
            "file": None,
            "openingBalanceFen": 500_000,
        }
    }
    response = await client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": IMPORT, "variables": variables}),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": ("month", data, "application/octet-stream")},
        headers={"Authorization": f"Bearer {token}", "GraphQL-Preflight": "1"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def assert_refused(body) -> None:
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body
    assert "errors" not in body, body
    payload = body["data"]["importMonthlyAccount"]
    assert payload["account"] is None, payload
    assert payload["errors"] and all(e["code"] and e["message"] for e in payload["errors"])
    assert await MonthlyAccount.all().count() == 0
    assert await AccountLine.all().count() == 0


@pytest.mark.parametrize("case", list(BAD_JOURNALS))
async def test_a_malformed_journal_is_refused_with_a_code(client, gql, demo, case):
    data = csv_bytes(BAD_JOURNALS[case])
    await assert_refused(await import_body(client, await gql.login(CLERK), demo.villages[0], data))


ODD_FILES = {
    "invalid GBK bytes": b"\xff\xfe\x81\x20\xfe\xff," * 50,
    "UTF-16": ("\r\n".join(",".join(r) for r in BAD_JOURNALS["giant amount"])).encode("utf-16"),
    "a GBK header cut in half": csv_bytes([J])[:-3] + b"\xb7",
    "binary junk": bytes(range(256)) * 40,
    "a zip that is not a workbook": b"PK\x03\x04" + b"\x00" * 200,
    "formulas without cached values (xlsx)": xlsx(
        [
            ["日期", "凭证号", "摘要", "科目编码", "科目名称", "借方金额", "贷方金额"],
            ["2026-03-02", "记-1", "补助", "102", "银行存款", "=50+50", None],
            ["2026-03-02", "记-1", "补助", "503", "补助收入", None, "=50+50"],
        ]
    ),
    "header only (xlsx)": xlsx(
        [["日期", "凭证号", "摘要", "科目编码", "科目名称", "借方", "贷方"]]
    ),
}


@pytest.mark.parametrize("case", list(ODD_FILES))
async def test_an_odd_file_is_refused_with_a_code(client, gql, demo, case):
    body = await import_body(client, await gql.login(CLERK), demo.villages[0], ODD_FILES[case])
    await assert_refused(body)


async def test_a_voucher_number_is_never_cut_short(client, gql, demo):
    """Cut to the column's 32 characters, two vouchers could read as one (and balance)."""
    rows = [J, *voucher("102", "100", "503", "100", no="记-" + "1" * 40)]
    body = await import_body(client, await gql.login(CLERK), demo.villages[0], csv_bytes(rows))
    await assert_refused(body)
    errors = body["data"]["importMonthlyAccount"]["errors"]
    assert [(e["code"], e["field"], e["line"]) for e in errors] == [
        ("TOO_LONG", "voucher", 2),
        ("TOO_LONG", "voucher", 3),
    ]


# --- drafts: never shown through a published line, a hit's sentence or a work list ---


async def test_a_confirmed_problem_does_not_reveal_a_later_draft_month(client, gql, demo):
    """A receipt reused in June's draft must not make May's public problem name June: the
    rule speaks of months before this one, and June's own hit names May."""
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = await receipt(client, clerk, 0)
    may = [line(3, 120, "甲", r)]
    await save_month(gql, clerk, village, may)
    await save_month(gql, clerk, village, [line(4, 50, "乙", r, month=6)], month=6)
    await save_month(gql, clerk, village, may)  # May again: its rules run with June present
    await decide_all(gql, supervisor, village, confirmed=True, note="同一凭证重复入账")
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == [], out
    public = await lines_of(gql, village)
    assert "2026-06" not in json.dumps(public, ensure_ascii=False)
    flags = await Flag.all().values_list("body", flat=True)
    assert not any("2026-06" in body for body in flags)
    problems = [p for ln in public for p in ln["confirmedProblems"]]
    assert {p["message"] for p in problems} == {"第1行的凭证图片在本村另一个月的账目中也使用过"}
    # The supervisors' own hits still name the month.
    [june] = await risk_hits(gql, village, supervisor, month=6)
    assert june["message"] == "第1行的凭证图片已在2026-05的账目中使用过"


async def test_a_published_months_lines_answer_as_they_were_after_a_correction(gql, demo):
    """A correction being prepared is not shown through the published lines' ids, and the
    published lines, their flags and problems stay readable as they were."""
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await published_month(gql, village, [line(3, 120, "甲"), line(4, 80, "乙")])
    old = await lines_of(gql, village)
    villager = await gql.login(VILLAGER)
    flag = await gql.mutate(
        "flagIssue",
        FLAG_ISSUE,
        {"targetId": old[0]["id"], "reasonCode": "AMOUNT_QUESTIONED", "body": "这笔钱付给谁了？"},
        token=villager,
    )
    assert flag["errors"] == [], flag
    fix = [line(3, 999, "甲改"), line(4, 80, "乙")]
    data = {
        **month_input(village),
        "openingBalanceFen": 10_000_000,
        "lines": fix,
        "reason": "金额录错",
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    # the public: the month and the old ids as published, the new lines nowhere
    assert await lines_of(gql, village) == old
    staged = await AccountLine.filter(version=2).values_list("id", flat=True)
    for pk in staged:
        for token in (None, villager):
            body = await gql(NODE, {"id": gid("AccountLine", pk)}, token=token)
            assert body["data"]["node"] is None and error_codes(body) == ["NOT_FOUND"]
    node = (await gql.data(NODE, {"id": old[0]["id"]}))["node"]
    assert node["amountFen"] == old[0]["amountFen"] and node["flagCounts"]["total"] == 1
    # the flag is in the township's queue whatever happens to the month
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == [], out
    official = await gql.login(OFFICIAL)
    queue = await gql.data(QUEUE, {"r": gid("Region", demo.townships[0].id)}, token=official)
    ids = [e["node"]["id"] for e in queue["flags"]["edges"]]
    assert flag["flag"]["id"] in ids
    node = (await gql.data(NODE, {"id": old[0]["id"]}))["node"]
    assert node["version"] == 1 and node["flagCounts"]["total"] == 1


async def test_work_lists_and_hits_stay_with_the_villages_staff(gql, demo, others):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(3, 1200, "张三"), line(4, 1200, "张三")])
    v = gid("Region", village.id)
    for phone in (
        VILLAGER,
        others["VILLAGER2"],
        others["CLERK2"],
        others["SUPERVISOR2"],
        others["OFFICIAL2"],
        others["TOWNADMIN2"],
    ):
        token = await gql.login(phone)
        assert error_codes(await gql(WORK_QUEUE, {"v": v}, token=token)) == ["FORBIDDEN"], phone
        body = await gql(MY_WORK, {"v": v}, token=token)
        assert error_codes(body) == ["FORBIDDEN"], phone
        body = await gql(HITS, {"v": v, "m": 5}, token=token)
        assert error_codes(body) == ["NOT_FOUND"], phone  # a draft month: as if missing
        missing = await gql(HITS, {"v": v, "m": 7}, token=token)
        assert error_codes(missing) == ["NOT_FOUND"], phone
    for query in (WORK_QUEUE, MY_WORK):
        assert error_codes(await gql(query, {"v": v})) in (["UNAUTHENTICATED"], ["FORBIDDEN"])
    # A township's or another kind's id is not a village's list.
    for bad in (gid("Region", demo.townships[0].id), gid("Flag", 1), "garbage"):
        body = await gql(WORK_QUEUE, {"v": bad}, token=await gql.login(SUPERVISOR))
        codes = error_codes(body) or [
            e["code"] for e in (body["data"]["reviewQueue"] or {}).get("errors", [])
        ]
        assert "INTERNAL_SERVER_ERROR" not in codes, body


# --- deciding hits: bad batches refused whole, nothing after publication ---


async def test_bad_batches_of_decisions_change_nothing(gql, demo, others):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(3, 1200, "张三"), line(4, 1200, "张三")])
    ids = [h["id"] for h in await risk_hits(gql, village, supervisor)]
    state = await RiskHit.all().order_by("id").values("status", "note", "decided_by_id")

    async def refused(token, hit_ids, note="经查无问题"):
        body = await gql(
            DECIDE_MANY, {"input": {"ids": hit_ids, "confirmed": True, "note": note}}, token=token
        )
        codes = error_codes(body) or [e["code"] for e in body["data"]["decideRiskHits"]["errors"]]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, body
        assert await RiskHit.all().order_by("id").values("status", "note", "decided_by_id") == (
            state
        )
        return codes

    assert await refused(supervisor, ids * 5000) in (["TOO_MANY_ITEMS"], ["BAD_USER_INPUT"])
    many = [gid("RiskHit", n) for n in range(1, 10_001)]
    assert await refused(supervisor, many) in (["TOO_MANY_ITEMS"], ["BAD_USER_INPUT"])
    assert await refused(supervisor, [*ids, gid("Flag", 1)]) in (["WRONG_KIND"], ["INVALID_ID"])
    assert await refused(supervisor, [*ids, "not-an-id"]) in (["INVALID_ID"], ["NOT_FOUND"])
    assert await refused(supervisor, [*ids, gid("RiskHit", 999_999)]) == ["NOT_FOUND"]
    assert await refused(supervisor, [*ids, gid("RiskHit", 2**63)]) in (
        ["INVALID_ID"],
        ["NOT_FOUND"],
    )
    assert await refused(supervisor, []) in (["NOT_FOUND"], ["BAD_USER_INPUT"])
    assert await refused(supervisor, ids, note="") == ["REASON_REQUIRED"]
    assert await refused(supervisor, ids, note="x" * 5000) == ["REASON_REQUIRED"]
    for phone in (CLERK, VILLAGER, others["SUPERVISOR2"], others["OFFICIAL2"], others["CLERK2"]):
        assert await refused(await gql.login(phone), ids) == ["FORBIDDEN"], phone
    assert error_codes(
        await gql(DECIDE_MANY, {"input": {"ids": ids, "confirmed": True, "note": "说明"}})
    ) == ["UNAUTHENTICATED"]


async def test_a_published_months_hits_cannot_be_decided_again_even_in_a_mixed_batch(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await published_month(gql, village, [line(3, 1200, "张三"), line(4, 1200, "张三")])
    published_ids = [h["id"] for h in await risk_hits(gql, village, supervisor)]
    before = await lines_of(gql, village)
    chain = await verdict(gql, village)
    # a correction brings new hits of its own; a batch mixing both is refused whole
    data = {
        **month_input(village),
        "openingBalanceFen": 10_000_000,
        "lines": [line(3, 1200, "张三"), line(4, 1200, "张三"), line(5, 10, "李四")],
        "reason": "补录一笔",
    }
    assert (await gql.mutate("saveMonthlyAccount", SAVE, data, token=clerk))["errors"] == []
    fresh = [h["id"] for h in await risk_hits(gql, village, supervisor)]
    fresh = [i for i in fresh if i not in published_ids]
    assert fresh
    state = await RiskHit.all().order_by("id").values("status", "note")
    out = await gql.mutate(
        "decideRiskHits",
        DECIDE_MANY,
        {"ids": [*fresh, published_ids[0]], "confirmed": True, "note": "改为确认"},
        token=supervisor,
    )
    assert [e["code"] for e in out["errors"]] == ["RISK_HIT_PUBLISHED"]
    assert await RiskHit.all().order_by("id").values("status", "note") == state
    assert await lines_of(gql, village) == before
    assert await verdict(gql, village) == chain


# --- sending back and withdrawing: never a published item ---


async def test_sending_back_or_withdrawing_a_published_item_changes_nothing(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    d = await published(gql, clerk, village, title="修路工程决算公示")
    await published_month(gql, village, [line(3, 120, "甲")])
    chain = await verdict(gql, village)
    lines = await lines_of(gql, village)
    month = {**month_input(village), "reason": "请补充合同"}
    out = await gql.mutate("returnMonthlyAccount", RETURN_MONTH, month, token=supervisor)
    assert [e["code"] for e in out["errors"]] == ["NOT_WAITING"]
    out = await gql.mutate(
        "returnDisclosure", RETURN, {"id": d["id"], "reason": "请补充合同"}, token=supervisor
    )
    assert [e["code"] for e in out["errors"]] == ["NOT_WAITING"]
    withdraw = """mutation($input: WithdrawDisclosureInput!) { withdrawDisclosure(input: $input) {
      disclosure { status } errors { code } } }"""
    for token in (clerk, supervisor):
        body = await gql(withdraw, {"input": {"id": d["id"]}}, token=token)
        codes = error_codes(body) or [
            e["code"] for e in body["data"]["withdrawDisclosure"]["errors"]
        ]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, body
    public = await gql.data(DISCLOSURE, {"id": d["id"]})
    assert public["disclosure"]["status"] == "PUBLISHED"
    assert await lines_of(gql, village) == lines
    assert await verdict(gql, village) == chain
    assert await ReturnNote.all().count() == 0


# --- flaggers: anonymous stays anonymous on a line; the committee never names its member ---


async def test_an_anonymous_line_flag_and_a_committee_flag_name_nobody(gql, demo, others):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(5, 5200, "丁工程队")])
    await decide_all(gql, supervisor, village, confirmed=True, note="无发票，已责令补交")
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == [], out
    [target] = await lines_of(gql, village)
    villager = await gql.login(VILLAGER)
    filed = await gql.mutate(
        "flagIssue",
        FLAG_ISSUE,
        {"targetId": target["id"], "reasonCode": "AMOUNT_QUESTIONED", "body": "工程款太高了"},
        token=villager,
    )
    assert filed["errors"] == [], filed
    me = demo.users["VILLAGER"]
    member = demo.users["SUPERVISOR"]
    names = {me.name, me.phone, member.name, member.phone}
    ids = {gid("User", me.id), gid("User", member.id)}
    readers = [
        None,
        VILLAGER,
        CLERK,
        SUPERVISOR,
        others["VILLAGER2"],
        others["CLERK2"],
        others["SUPERVISOR2"],
        others["TOWNADMIN"],
        others["OFFICIAL2"],
    ]
    for phone in readers:
        token = await gql.login(phone) if phone else None
        node = (await gql.data(NODE, {"id": target["id"]}, token=token))["node"]
        for flag in node["flags"]:
            assert flag["flaggerName"] is None, (phone, flag)
            if phone != VILLAGER or flag["byCommittee"]:
                mine = phone == SUPERVISOR and flag["byCommittee"]
                assert mine or flag["flagger"] is None, (phone, flag)
        text = json.dumps(node, ensure_ascii=False)
        if phone not in (VILLAGER, SUPERVISOR):
            assert not any(n in text for n in names | ids), (phone, text)
        # another's list never holds them
        if phone not in (None, VILLAGER):
            mine = await gql.data(MY_FLAGS, {"status": None, "first": 50}, token=token)
            held = {e["node"]["id"] for e in mine["myFlags"]["edges"]}
            assert filed["flag"]["id"] not in held, phone
    # the audit log names nobody for the villager's flag, to the township's admin too
    log = await gql.data(
        """query($r: ID!) { auditLog(regionId: $r, action: "flag.submit", first: 50) {
          edges { node { actor { id } ip requestId } } } }""",
        {"r": gid("Region", demo.townships[0].id)},
        token=await gql.login(others["TOWNADMIN"]),
    )
    assert log["auditLog"]["edges"]
    assert all(e["node"]["actor"] is None for e in log["auditLog"]["edges"])


# --- the vendored GraphiQL and GET / ---


@pytest.mark.parametrize(
    "path",
    [
        "/static/graphiql/graphiql-3.9.0/../../graphiql.py",
        "/static/graphiql/graphiql-3.9.0/%2e%2e/%2e%2e/%2e%2e/settings.py",
        "/static/graphiql/graphiql-3.9.0%2fgraphiql.min.js%00.py",
        "/static/graphiql/graphiql-3.9.0\\graphiql.min.js",
        "/static/graphiql/GRAPHIQL-3.9.0/graphiql.min.js",
        "/static//graphiql/graphiql-3.9.0/graphiql.min.js",
        "/static/graphiql/graphiql-3.9.0/graphiql.min.js/",
        "/static/%2Fetc%2Fpasswd",
        "/static/" + "a/" * 2000,
        "/static/graphiql/graphiql-3.9.0/graphiql.min.js?../../x",
    ],
)
async def test_nothing_but_the_vendored_files_is_served(client, path):
    response = await client.get(path)
    if path.endswith("?../../x"):  # a query string is not part of the name
        assert response.status_code == 200
        return
    assert response.status_code in (404, 400), (path, response.status_code)
    assert "import" not in response.text and "root:" not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": ""},
        {"Accept": "*/*"},
        {"Accept": "text/html;q=0, application/json"},
        {"Accept": "x" * 8000},
        {"Accept-Language": ("ü" * 200).encode()},
        {"Accept-Language": ",,;q=abc,en;q=NaN"},
        {"Accept-Language": "*"},
        {"Accept": "text/html", "Accept-Language": "en;q=1e999"},
    ],
)
async def test_the_root_answers_any_accept_header(client, headers):
    response = await client.get("/", headers=headers)
    assert response.status_code == 200, response.text
    assert "accept" in response.headers.get("vary", "").lower()
    if response.headers["content-type"].startswith("application/json"):
        assert response.json()["graphql"] == "/graphql"
    else:
        assert "/graphql" in response.text


async def test_the_root_takes_nothing_but_get(client):
    for method in ("POST", "PUT", "DELETE"):
        response = await client.request(method, "/", content=b"{}")
        assert response.status_code in (404, 405), method
        assert "errors" in response.json()


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


CURSORS = [
    "!!!",
    b64("r:"),
    b64("r:2026-01-01T00:00:00+00:00|MONTH|99999999999999999999999999"),
    b64("r:2026-01-01T00:00:00|MONTH|1"),
    b64("r:9999-12-31T23:59:59-14:00|MONTH|1"),
    b64("r:2026-01-01T00:00:00+00:00|NOPE|1"),
    b64("k:99999999999999999999999999"),
    b64("k:-1"),
    b64("k:1e5"),
    b64("\x00"),
]


@pytest.mark.parametrize("cursor", CURSORS)
async def test_forged_cursors_on_the_new_lists_are_refused_cleanly(gql, demo, cursor):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(3, 120, "甲")])
    v = gid("Region", village.id)
    queries = [
        (WORK_QUEUE, {"v": v, "after": cursor}, await gql.login(SUPERVISOR)),
        (MY_FLAGS, {"status": None, "first": 5, "after": cursor}, await gql.login(VILLAGER)),
        (MY_COMMENTS, {"first": 5, "after": cursor}, await gql.login(VILLAGER)),
    ]
    for query, variables, token in queries:
        body = await gql(query, variables, token=token)
        codes = error_codes(body)
        assert "INTERNAL_SERVER_ERROR" not in codes, body
        if codes:
            assert codes == ["BAD_USER_INPUT"], body


async def test_a_confirmed_problem_never_names_an_earlier_draft_month(client, gql, demo):
    """June published while May (whose receipt June reuses) is still a draft: June's public
    problem must not describe May's unpublished lines."""
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    r = await receipt(client, clerk, 0)
    await save_month(gql, clerk, village, [line(3, 120, "甲", r)])
    await save_month(gql, clerk, village, [line(4, 50, "乙", r, month=6)], month=6)
    await decide_all(gql, supervisor, village, confirmed=True, note="同一凭证重复入账", month=6)
    out = await gql.mutate(
        "approveMonthlyAccount", APPROVE, month_input(village, 6), token=supervisor
    )
    if out["errors"]:  # June waits for May: nothing about May can be public
        assert await Flag.all().count() == 0
        return
    public = await lines_of(gql, village, month=6)
    assert "2026-05" not in json.dumps(public, ensure_ascii=False)
    assert not any("2026-05" in body for body in await Flag.all().values_list("body", flat=True))
    # Once May is published, June's problem names it.
    await decide_all(gql, supervisor, village)
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == [], out
    [problem] = (await lines_of(gql, village, month=6))[0]["confirmedProblems"]
    assert problem["message"] == "第1行的凭证图片已在2026-05的账目中使用过"


async def test_a_redaction_with_bad_rectangles_changes_nothing(client, gql, demo, public_receipt):
    village, receipt_ = public_receipt["village"], public_receipt["receipt"]
    chain = await verdict(gql, village)
    clerk = await gql.login(CLERK)
    for rects in (
        [],
        [{"x": 0, "y": 0, "w": 0, "h": 10}],
        [{"x": -1, "y": 0, "w": 10, "h": 10}],
        [{"x": 0, "y": 0, "w": 821, "h": 620}],
        [{"x": 2**31, "y": 0, "w": 10, "h": 10}],
        [{"x": 10, "y": 10, "w": 10, "h": 10}] * 1000,
    ):
        body = await gql(
            REDACT,
            {"input": {"mediaId": receipt_["id"], "rectangles": rects, "reason": "遮挡"}},
            token=clerk,
        )
        codes = error_codes(body) or [e["code"] for e in body["data"]["redactMedia"]["errors"]]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, (rects[:1], body)
    assert await month_receipts(gql, village) == [receipt_]
    assert await verdict(gql, village) == chain
    # no reason: a published receipt is not replaced quietly
    out = await redact(gql, clerk, receipt_["id"], reason=None)
    assert [e["code"] for e in out["errors"]] == ["REASON_REQUIRED"]
    assert await month_receipts(gql, village) == [receipt_]


async def test_blacking_out_a_whole_receipt_is_never_quiet(client, gql, demo, public_receipt):
    """The village's own clerk may black out all of it (a receipt that is all ID card), but
    the public sees a redacted copy and the chain says who changed it, when and why."""
    village, receipt_ = public_receipt["village"], public_receipt["receipt"]
    before = await verdict(gql, village)
    out = await redact(
        gql,
        await gql.login(CLERK),
        receipt_["id"],
        reason="整张为身份证复印件",
        rect={"x": 0, "y": 0, "w": 820, "h": 620},
    )
    assert out["errors"] == [], out
    [shown] = await month_receipts(gql, village)
    assert shown["redacted"] and shown["sha256"] != receipt_["sha256"]
    after = await verdict(gql, village)
    assert after["ok"] and after["length"] == before["length"] + 1
    entry = await LedgerEntry.filter(kind="REDACT").first()
    assert entry is not None and entry.reason == "整张为身份证复印件"


async def test_the_village_cannot_black_out_the_evidence_of_a_flag_against_it(
    client, gql, demo, others
):
    """A flag's evidence is public from submission and lies in the village's region: the
    village's own clerk and supervisors (whom flags are about) must not replace it with a
    black copy; the township that handles the flag may redact it (a face, an ID number)."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    item = (await published(gql, clerk, village, title="修路工程决算公示"))["id"]
    villager = await gql.login(VILLAGER)
    data = media_files.phone_jpeg(orientation=1, size=(800, 600), quality=80)
    evidence = (await uploaded(client, villager, data, purpose="EVIDENCE"))["media"]
    flag = await raise_flag(gql, villager, item, mediaIds=[evidence["id"]])
    query = "query($id: ID!) { flag(id: $id) { attachments { id sha256 redacted } } }"
    before = (await gql.data(query, {"id": flag["id"]}))["flag"]["attachments"]
    whole = {"x": 0, "y": 0, "w": 800, "h": 600}
    for phone in (CLERK, SUPERVISOR, others["CLERK2"], others["TOWNADMIN"]):
        token = await gql.login(phone)
        body = await gql(
            REDACT,
            {"input": {"mediaId": evidence["id"], "rectangles": [whole], "reason": "遮挡"}},
            token=token,
        )
        assert error_codes(body) == ["FORBIDDEN"], (phone, body)
        assert (await gql.data(query, {"id": flag["id"]}))["flag"]["attachments"] == before
        assert (await client.get(evidence["url"])).status_code == 200
    assert not await AuditEntry.exists(action="flag.redact_evidence")
    out = await redact(gql, await gql.login(OFFICIAL), evidence["id"], "遮挡照片中的人脸")
    assert out["errors"] == [], out
    [shown] = (await gql.data(query, {"id": flag["id"]}))["flag"]["attachments"]
    assert shown["redacted"]


async def test_outsiders_cannot_flag_or_comment_a_line_and_similar_flags_name_nobody(
    gql, demo, others
):
    village = demo.villages[0]
    await published_month(gql, village, [line(3, 120, "甲")])
    [target] = await lines_of(gql, village)
    attempt = {"targetId": target["id"], "reasonCode": "AMOUNT_QUESTIONED", "body": "这笔钱？"}
    for phone in (others["VILLAGER2"], others["CLERK2"]):
        token = await gql.login(phone)
        out = await gql(FLAG_ISSUE, {"input": attempt}, token=token)
        codes = error_codes(out) or [e["code"] for e in out["data"]["flagIssue"]["errors"]]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, (phone, out)
        comment = await gql(
            ADD, {"input": {"targetId": target["id"], "body": "外村人评论"}}, token=token
        )
        codes = error_codes(comment) or [e["code"] for e in comment["data"]["addComment"]["errors"]]
        assert codes, (phone, comment)
    assert await Flag.all().count() == 0
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, target["id"])
    similar = """query($t: ID!) { similarFlags(targetId: $t) { id anonymous flaggerName
      flagger { id } supporters { id } } }"""
    for phone in (None, VILLAGER, others["VILLAGER2"], CLERK, SUPERVISOR):
        token = await gql.login(phone) if phone else None
        body = await gql(similar, {"t": target["id"]}, token=token)
        for found in (body.get("data") or {}).get("similarFlags") or []:
            assert found["flaggerName"] is None and found["supporters"] == []
            if phone != VILLAGER:
                assert found["flagger"] is None, (phone, found)
    assert flag["id"]
