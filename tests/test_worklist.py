"""Work lists through the API: the supervisor's review queue (oldest first, what each item
is, how long it has waited, open risk notes), sending back with a reason, the clerk's list
(drafts, sent back and why, waiting, scheduled, due), and who may read or do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.relay import to_global_id
from models.audit import AuditEntry
from models.disclosures.periods import SHANGHAI
from models.notifications import NotificationEvent
from tests.client import error_codes
from tests.test_attacks import others  # noqa: F401 (a fixture)
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    draft,
    item_id,
    published,
    step,
)
from tests.test_finance import APPROVE, RISKS, upload
from tests.test_import_layouts import STEP_MESSAGE

QUEUE = """query($v: ID!, $first: Int, $after: String) {
  reviewQueue(villageId: $v, first: $first, after: $after) {
    edges { cursor node { kind submittedAt authorName waitedSeconds waitedDays correctionReason
      openRiskHits disclosure { id title status } monthlyAccount { year month status } } }
    pageInfo { hasNextPage endCursor } } }"""
WORK = """query($v: ID!) { myWork(villageId: $v) {
  village { name }
  drafts { id title status }
  returned { kind reason returnedAt returnedByName disclosure { id title status }
    monthlyAccount { year month } }
  waiting { kind authorName openRiskHits disclosure { id } monthlyAccount { month } }
  scheduled { id title publishAt }
  due { item { code } period status dueAt } } }"""
RETURN = """mutation($input: ReturnDisclosureInput!) { returnDisclosure(input: $input) {
  disclosure { id status } errors { code field message } } }"""
RETURN_MONTH = """mutation($input: ReturnMonthlyAccountInput!) { returnMonthlyAccount(input: $input) {
  account { status version } errors { code field message } } }"""
CORRECT = """mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) {
  disclosure { id } errors { code field } } }"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


async def queue(gql, token, village, **args):
    body = await gql(QUEUE, {"v": gid("Region", village.id), **args}, token=token)
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["reviewQueue"]["edges"]]


async def work(gql, token, village):
    return (await gql.data(WORK, {"v": gid("Region", village.id)}, token=token))["myWork"]


async def finance_published(gql, clerk, supervisor, village, period="2026-10"):
    d = await draft(
        gql,
        clerk,
        village,
        category="FINANCE",
        catalogueItemId=await item_id("FIN-2"),
        period=period,
        title=f"{period} 财务收入公开",
        body="本月收到上级专项补助款项三万元。",
    )
    assert (await step(gql, "SubmitDisclosure", clerk, id=d["id"]))["errors"] == []
    assert (await step(gql, "ApproveDisclosure", supervisor, id=d["id"]))["errors"] == []
    assert (await step(gql, "PublishDisclosure", clerk, id=d["id"]))["errors"] == []
    return d


async def test_the_queue_lists_what_waits_oldest_first_with_what_it_is(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    fixed = await finance_published(gql, clerk, supervisor, village)
    first = await draft(gql, clerk, village, title="第一件：道路方案")
    assert (await step(gql, "SubmitDisclosure", clerk, id=first["id"]))["errors"] == []
    assert (await upload(client, clerk, village, "2026-03-gbk.csv"))["data"][
        "importMonthlyAccount"
    ]["errors"] == []
    correction = await gql.mutate(
        "correctDisclosure",
        CORRECT,
        {"id": fixed["id"], "reason": "补助金额写错", "body": "本月收到补助款两万元。"},
        token=clerk,
    )
    assert correction["errors"] == []
    await draft(gql, clerk, village, title="还在写的草稿")  # not submitted: not waiting

    items = await queue(gql, supervisor, village)
    assert [i["kind"] for i in items] == ["DISCLOSURE", "MONTH", "DISCLOSURE_CORRECTION"]
    assert [i["submittedAt"] for i in items] == sorted(i["submittedAt"] for i in items)
    assert all(i["authorName"] == "村文书 刘芳" for i in items)
    assert all(0 <= i["waitedSeconds"] < 600 and i["waitedDays"] == 0 for i in items)
    assert items[0]["disclosure"]["title"] == "第一件：道路方案"
    assert items[0]["openRiskHits"] is None
    hits = await gql.data(RISKS, {"v": gid("Region", village.id)}, token=supervisor)
    open_hits = [h for h in hits["monthlyAccount"]["riskHits"] if h["status"] == "OPEN"]
    assert items[1]["monthlyAccount"] == {"year": 2026, "month": 3, "status": "DRAFT"}
    assert items[1]["openRiskHits"] == len(open_hits) == 1
    assert items[2]["disclosure"]["id"] == fixed["id"]
    assert items[2]["correctionReason"] == "补助金额写错"

    # Paged: the same items, two then one.
    page = await gql.data(QUEUE, {"v": gid("Region", village.id), "first": 2}, token=supervisor)
    info = page["reviewQueue"]["pageInfo"]
    assert info["hasNextPage"] is True
    rest = await queue(gql, supervisor, village, first=2, after=info["endCursor"])
    assert [i["kind"] for i in rest] == ["DISCLOSURE_CORRECTION"]
    bad = await gql(QUEUE, {"v": gid("Region", village.id), "after": "bm9wZQ"}, token=supervisor)
    assert error_codes(bad) == ["BAD_USER_INPUT"]

    # The staff above read it; risk notes only for those who see them (not admins).
    for phone, sees_hits in ((OFFICIAL, True), (INSPECTOR, True), (ADMIN, False)):
        theirs = await queue(gql, await gql.login(phone), village)
        assert [i["kind"] for i in theirs] == [i["kind"] for i in items]
        assert (theirs[1]["openRiskHits"] == 1) is sees_hits


async def test_only_the_villages_supervisors_and_the_staff_above_read_the_queue(
    gql,
    demo,
    others,  # noqa: F811
):
    village = demo.villages[0]
    variables = {"v": gid("Region", village.id)}
    assert error_codes(await gql(QUEUE, variables)) == ["UNAUTHENTICATED"]
    for phone in (VILLAGER, CLERK, others["SUPERVISOR2"], others["OFFICIAL2"], others["VILLAGER2"]):
        body = await gql(QUEUE, variables, token=await gql.login(phone))
        assert error_codes(body) == ["FORBIDDEN"], phone
        assert body["data"] is None
    township = await gql(
        QUEUE, {"v": gid("Region", demo.townships[0].id)}, token=await gql.login(OFFICIAL)
    )
    assert error_codes(township) == ["BAD_USER_INPUT"]
    missing = await gql(QUEUE, {"v": gid("Region", 99999)}, token=await gql.login(SUPERVISOR))
    assert error_codes(missing) == ["NOT_FOUND"]


async def test_only_those_who_write_the_villages_disclosures_read_the_clerks_list(
    gql,
    demo,
    others,  # noqa: F811
):
    village = demo.villages[0]
    clerk = await gql.login(CLERK)
    await draft(gql, clerk, village, title="草稿不外泄")
    variables = {"v": gid("Region", village.id)}
    assert error_codes(await gql(WORK, variables)) == ["UNAUTHENTICATED"]
    for phone in (VILLAGER, SUPERVISOR, INSPECTOR, others["CLERK2"], others["OFFICIAL2"]):
        body = await gql(WORK, variables, token=await gql.login(phone))
        assert error_codes(body) == ["FORBIDDEN"], phone
        assert "草稿不外泄" not in str(body)
    for phone in (CLERK, OFFICIAL, ADMIN):
        assert [
            d["title"] for d in (await work(gql, await gql.login(phone), village))["drafts"]
        ] == ["草稿不外泄"]


async def test_a_disclosure_sent_back_returns_to_draft_with_the_reason(gql, demo, others):  # noqa: F811
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    d = await draft(gql, clerk, village, title="低保名单公示")
    assert (await step(gql, "SubmitDisclosure", clerk, id=d["id"]))["errors"] == []

    # Who may not send it back: its clerk, another village's supervisor (as if no such id).
    body = await gql(
        RETURN, {"input": {"id": d["id"], "reason": "名单缺身份证号遮挡"}}, token=clerk
    )
    assert error_codes(body) == ["FORBIDDEN"]
    for phone in (OFFICIAL, ADMIN):  # the staff above read the queue, they do not decide
        body = await gql(
            RETURN, {"input": {"id": d["id"], "reason": "乡镇退回"}}, token=await gql.login(phone)
        )
        assert error_codes(body) == ["FORBIDDEN"], phone
    outsider = await gql.mutate(
        "returnDisclosure",
        RETURN,
        {"id": d["id"], "reason": "随便退回"},
        token=await gql.login(others["SUPERVISOR2"]),
    )
    assert outsider["errors"][0]["code"] == "NOT_FOUND"
    short = await gql.mutate(
        "returnDisclosure", RETURN, {"id": d["id"], "reason": "x"}, token=supervisor
    )
    assert short["errors"][0]["code"] == "REASON_REQUIRED"
    assert [i["kind"] for i in await queue(gql, supervisor, village)] == ["DISCLOSURE"]

    out = await gql.mutate(
        "returnDisclosure",
        RETURN,
        {"id": d["id"], "reason": "名单缺身份证号遮挡"},
        token=supervisor,
    )
    assert out["errors"] == [] and out["disclosure"]["status"] == "DRAFT"
    assert await queue(gql, supervisor, village) == []
    mine = await work(gql, clerk, village)
    [returned] = mine["returned"]
    assert (returned["kind"], returned["reason"], returned["returnedByName"]) == (
        "DISCLOSURE",
        "名单缺身份证号遮挡",
        "监委会 陈刚",
    )
    assert returned["disclosure"] == {"id": d["id"], "title": "低保名单公示", "status": "DRAFT"}
    assert mine["drafts"] == [] and mine["waiting"] == []
    [event] = await NotificationEvent.filter(kind="REVIEW_RETURNED")
    assert (event.user_id, event.subject_type) == (demo.users["CLERK"].id, "Disclosure")
    [entry] = await AuditEntry.filter(action="disclosure.return")
    assert entry.actor_id == demo.users["SUPERVISOR"].id
    assert entry.after["reason"] == "名单缺身份证号遮挡"

    again = await gql.mutate(
        "returnDisclosure", RETURN, {"id": d["id"], "reason": "再退一次"}, token=supervisor
    )
    assert again["errors"][0]["code"] == "NOT_WAITING"
    approve = await gql(
        STEP_MESSAGE % ("ApproveDisclosure", "approveDisclosure"),
        {"input": {"id": d["id"]}},
        token=supervisor,
    )
    [refused] = approve["data"]["approveDisclosure"]["errors"]
    assert refused["code"] == "WRONG_STATUS" and "草稿" in refused["message"]

    # Fixed and submitted again: the note is answered, the item waits again.
    assert (await step(gql, "SubmitDisclosure", clerk, id=d["id"]))["errors"] == []
    mine = await work(gql, clerk, village)
    assert mine["returned"] == [] and [w["disclosure"]["id"] for w in mine["waiting"]] == [d["id"]]
    assert [i["kind"] for i in await queue(gql, supervisor, village)] == ["DISCLOSURE"]
    # Withdrawn by the clerk: a draft again, and the old note stays answered.
    withdrawn = await step(gql, "WithdrawDisclosure", clerk, id=d["id"])
    assert withdrawn["disclosure"]["status"] == "DRAFT"
    mine = await work(gql, clerk, village)
    assert mine["returned"] == [] and [x["id"] for x in mine["drafts"]] == [d["id"]]
    twice = await step(gql, "WithdrawDisclosure", clerk, id=d["id"])
    assert twice["errors"] == [{"code": "WRONG_STATUS", "field": "id"}]


async def test_a_staged_correction_sent_back_cannot_be_approved_until_redone(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    d = await finance_published(gql, clerk, supervisor, village)
    fix = {"id": d["id"], "reason": "补助金额写错", "body": "本月收到补助款两万元。"}
    assert (await gql.mutate("correctDisclosure", CORRECT, fix, token=clerk))["errors"] == []
    out = await gql.mutate(
        "returnDisclosure", RETURN, {"id": d["id"], "reason": "请附拨款文件"}, token=supervisor
    )
    assert out["errors"] == [] and out["disclosure"]["status"] == "PUBLISHED"
    assert await queue(gql, supervisor, village) == []
    [returned] = (await work(gql, clerk, village))["returned"]
    assert (returned["kind"], returned["reason"]) == ("CORRECTION", "请附拨款文件")
    approve = await gql(
        STEP_MESSAGE % ("ApproveDisclosure", "approveDisclosure"),
        {"input": {"id": d["id"]}},
        token=supervisor,
    )
    [refused] = approve["data"]["approveDisclosure"]["errors"]
    assert refused["code"] == "RETURNED" and "请附拨款文件" in refused["message"]
    public = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { body version } }", {"id": d["id"]}
    )
    assert public["disclosure"] == {"body": "本月收到上级专项补助款项三万元。", "version": 1}

    assert (await gql.mutate("correctDisclosure", CORRECT, fix, token=clerk))["errors"] == []
    assert (await work(gql, clerk, village))["returned"] == []
    assert [i["kind"] for i in await queue(gql, supervisor, village)] == ["DISCLOSURE_CORRECTION"]
    assert (await step(gql, "ApproveDisclosure", supervisor, id=d["id"]))["errors"] == []


async def test_a_month_sent_back_waits_for_a_new_upload(client, gql, demo, others):  # noqa: F811
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    assert (await upload(client, clerk, village, "2026-03.xlsx"))["data"]["importMonthlyAccount"][
        "errors"
    ] == []
    month = {"villageId": gid("Region", village.id), "year": 2026, "month": 3}
    reason = {**month, "reason": "保洁费缺合同"}
    body = await gql(RETURN_MONTH, {"input": reason}, token=clerk)
    assert error_codes(body) == ["FORBIDDEN"]
    body = await gql(RETURN_MONTH, {"input": reason}, token=await gql.login(others["SUPERVISOR2"]))
    assert error_codes(body) == ["FORBIDDEN"]
    out = await gql.mutate("returnMonthlyAccount", RETURN_MONTH, reason, token=supervisor)
    assert out["errors"] == [] and out["account"]["status"] == "DRAFT"
    assert await queue(gql, supervisor, village) == []
    [returned] = (await work(gql, clerk, village))["returned"]
    assert (returned["kind"], returned["reason"], returned["monthlyAccount"]) == (
        "MONTH",
        "保洁费缺合同",
        {"year": 2026, "month": 3},
    )
    refused = await gql.mutate("approveMonthlyAccount", APPROVE, month, token=supervisor)
    assert refused["errors"] == [{"code": "RETURNED", "field": "month"}]
    again = await gql.mutate("returnMonthlyAccount", RETURN_MONTH, reason, token=supervisor)
    assert again["errors"][0]["code"] == "NOT_WAITING"
    [event] = await NotificationEvent.filter(kind="REVIEW_RETURNED")
    assert (event.user_id, event.subject_type) == (demo.users["CLERK"].id, "MonthlyAccount")
    assert await AuditEntry.filter(action="accounts.return").count() == 1

    assert (await upload(client, clerk, village, "2026-03.xlsx"))["data"]["importMonthlyAccount"][
        "errors"
    ] == []
    assert (await work(gql, clerk, village))["returned"] == []
    [waiting] = await queue(gql, supervisor, village)
    assert waiting["kind"] == "MONTH"
    after = await gql.mutate("approveMonthlyAccount", APPROVE, month, token=supervisor)
    assert after["errors"] == [{"code": "RISK_HITS_OPEN", "field": "month"}]  # no longer RETURNED
    # The clerk's list shows the month waiting, without the supervisor's risk notes.
    [mine] = (await work(gql, clerk, village))["waiting"]
    assert mine["monthlyAccount"] == {"month": 3} and mine["openRiskHits"] is None


async def test_the_clerks_list_has_scheduled_and_due_items(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    d = await draft(gql, clerk, village, title="停水通知")
    scheduled = await step(gql, "PublishDisclosure", clerk, id=d["id"], publishAt=later)
    assert scheduled["disclosure"]["status"] == "SCHEDULED"
    await published(gql, clerk, village, title="已公开的不在清单里")

    local = datetime.now(UTC).astimezone(SHANGHAI)
    last_month = (
        f"{local.year - 1}-12" if local.month == 1 else f"{local.year}-{local.month - 1:02d}"
    )
    mine = await work(gql, clerk, village)
    assert mine["village"]["name"] == village.name
    assert [s["id"] for s in mine["scheduled"]] == [d["id"]]
    assert mine["drafts"] == []
    monthly = {(x["item"]["code"], x["period"]): x for x in mine["due"]}
    assert ("FIN-2", last_month) in monthly
    assert all(x["status"] in ("PENDING", "MISSING") for x in mine["due"])
    due_times = [x["dueAt"] for x in mine["due"]]
    assert due_times == sorted(due_times)

    await finance_published(gql, clerk, supervisor, village, period=last_month)
    mine = await work(gql, clerk, village)
    assert ("FIN-2", last_month) not in {(x["item"]["code"], x["period"]) for x in mine["due"]}


async def test_sending_back_or_approving_a_month_out_of_range_is_a_user_error(gql, demo):
    supervisor = await gql.login(SUPERVISOR)
    village = gid("Region", demo.villages[0].id)
    for year, month in ((40_000, 3), (-1, 3), (2026, 13)):
        data = {"villageId": village, "year": year, "month": month}
        out = await gql.mutate(
            "returnMonthlyAccount", RETURN_MONTH, {**data, "reason": "不对"}, token=supervisor
        )
        assert out["errors"][0]["code"] == "INVALID_MONTH", out
        approve = await gql.mutate("approveMonthlyAccount", APPROVE, data, token=supervisor)
        assert approve["errors"] == [{"code": "INVALID_MONTH", "field": "month"}]
    missing = {"villageId": village, "year": 2026, "month": 3, "reason": "没有这个月"}
    out = await gql.mutate("returnMonthlyAccount", RETURN_MONTH, missing, token=supervisor)
    assert out["errors"][0] == {"code": "NOT_FOUND", "field": "month", "message": "找不到该对象"}
