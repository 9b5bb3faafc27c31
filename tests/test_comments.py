"""Comments through the API: who may comment, edits, tombstones, reports and moderation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.relay import to_global_id
from models.audit import AuditEntry
from models.comments import Comment
from tests.client import REGISTER, VERIFY_RESIDENCY, error_codes
from tests.test_disclosures import (
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    draft,
    published,
)

ADD = """mutation($input: AddCommentInput!) { addComment(input: $input) {
  comment { id body official status author { name } parentId } errors { code field } } }"""
COMMENTS = """query($t: ID!) { comments(targetId: $t) { edges { node {
  id body status hiddenReason official author { name }
  replies { id body official } } } } }"""


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


async def add(gql, token, target, body, parent=None):
    data = {"targetId": target, "body": body}
    if parent:
        data["parentId"] = parent
    return await gql.mutate("addComment", ADD, data, token=token)


async def resident(gql, demo, phone, village=0, verify=True):
    out = await gql.mutate(
        "register",
        REGISTER,
        {
            "phone": phone,
            "password": "resident-pass",
            "name": f"村民{phone[-2:]}",
            "villageId": gid("Region", demo.villages[village].id),
        },
    )
    if verify:
        official = await gql.login(OFFICIAL) if village < 4 else None
        ok = await gql.mutate(
            "verifyResidency", VERIFY_RESIDENCY, {"userId": out["user"]["id"]}, token=official
        )
        assert ok["errors"] == []
    return out["accessToken"]


@pytest.fixture
async def item(gql, demo):
    return (await published(gql, await gql.login(CLERK), demo.villages[0], title="修路方案公示"))[
        "id"
    ]


async def test_villagers_comment_and_staff_replies_are_official(gql, demo, item):
    villager = await gql.login(VILLAGER)
    question = await add(gql, villager, item, "预算里的材料费为什么这么高？")
    assert question["errors"] == [] and question["comment"]["official"] is False
    answer = await add(
        gql,
        await gql.login(CLERK),
        item,
        "材料费含运费，明细见附件。",
        parent=question["comment"]["id"],
    )
    assert answer["comment"]["official"] is True
    assert answer["comment"]["parentId"] == question["comment"]["id"]
    thread = await gql.data(COMMENTS, {"t": item})
    node = thread["comments"]["edges"][0]["node"]
    assert (
        node["body"] == "预算里的材料费为什么这么高？" and node["author"]["name"] == "村民 赵大山"
    )
    assert [r["official"] for r in node["replies"]] == [True]
    feed = await gql.data(
        "query($r: ID!) { disclosures(regionId: $r) { edges { node { commentCount } } } }",
        {"r": gid("Region", demo.villages[0].id)},
    )
    assert feed["disclosures"]["edges"][0]["node"]["commentCount"] == 2
    nested = await add(gql, villager, item, "再追问", parent=answer["comment"]["id"])
    assert nested["errors"] == [{"code": "REPLY_DEPTH", "field": "parentId"}]


async def test_who_may_not_comment(gql, demo, item):
    assert error_codes(await gql(ADD, {"input": {"targetId": item, "body": "x"}})) == [
        "UNAUTHENTICATED"
    ]
    newcomer = await resident(gql, demo, "13911113301", verify=False)
    out = await add(gql, newcomer, item, "我也想问")
    assert out["errors"] == [{"code": "RESIDENCY_REQUIRED", "field": "targetId"}]
    outsider = await resident(gql, demo, "13911113302", village=5, verify=False)
    body = await gql(ADD, {"input": {"targetId": item, "body": "外村的看法"}}, token=outsider)
    assert error_codes(body) == ["FORBIDDEN"]  # not this village's item, verified or not
    draft_item = await draft(gql, await gql.login(CLERK), demo.villages[0])
    out = await add(gql, await gql.login(VILLAGER), draft_item["id"], "草稿？")
    assert out["errors"] == [{"code": "NOT_FOUND", "field": "targetId"}]  # like a missing id
    for text in ("", "长" * 1001):
        out = await add(gql, await gql.login(VILLAGER), item, text)
        assert out["errors"] == [{"code": "INVALID_COMMENT", "field": "body"}]
    assert await Comment.all().count() == 0


async def test_a_verified_villager_of_another_village_may_not_comment(gql, demo, item):
    from models.accounts import User

    await resident(gql, demo, "13911113303", village=5, verify=False)
    await User.filter(phone="13911113303").update(residency_verified_at=datetime.now(UTC))
    token = await gql.login("13911113303", "resident-pass")
    body = await gql(ADD, {"input": {"targetId": item, "body": "隔壁村的看法"}}, token=token)
    assert error_codes(body) == ["FORBIDDEN"]


async def test_edits_within_ten_minutes_keep_history(gql, demo, item):
    villager = await gql.login(VILLAGER)
    c = (await add(gql, villager, item, "初稿"))["comment"]
    edit = """mutation($input: EditCommentInput!) { editComment(input: $input) {
      comment { body editedAt } errors { code } } }"""
    out = await gql.mutate("editComment", edit, {"id": c["id"], "body": "改过的"}, token=villager)
    assert out["comment"]["body"] == "改过的" and out["comment"]["editedAt"]
    stored = await Comment.get(body="改过的").prefetch_related("revisions")
    assert [r.body for r in stored.revisions] == ["初稿"]
    body = await gql(
        edit, {"input": {"id": c["id"], "body": "别人改"}}, token=await gql.login(CLERK)
    )
    assert error_codes(body) == ["FORBIDDEN"]
    await Comment.all().update(created_at=datetime.now(UTC) - timedelta(minutes=11))
    late = await gql.mutate("editComment", edit, {"id": c["id"], "body": "太晚了"}, token=villager)
    assert late["errors"] == [{"code": "EDIT_WINDOW_CLOSED"}]


async def test_deleting_leaves_a_tombstone(gql, demo, item):
    villager = await gql.login(VILLAGER)
    c = (await add(gql, villager, item, "说错了"))["comment"]
    delete = """mutation($input: DeleteCommentInput!) { deleteComment(input: $input) {
      comment { status body } errors { code } } }"""
    out = await gql.mutate("deleteComment", delete, {"id": c["id"]}, token=villager)
    assert out["comment"] == {"status": "DELETED", "body": None}
    thread = await gql.data(COMMENTS, {"t": item})
    assert thread["comments"]["edges"][0]["node"]["status"] == "DELETED"
    entry = await AuditEntry.get(action="comment.delete")
    assert entry.before["body"] == "说错了"


async def test_three_reports_hide_a_comment_until_an_official_decides(gql, demo, item):
    villager = await gql.login(VILLAGER)
    c = (await add(gql, villager, item, "某某干部贪污！"))["comment"]
    report = """mutation($input: ReportCommentInput!) { reportComment(input: $input) {
      comment { status } errors { code } } }"""
    own = await gql.mutate(
        "reportComment", report, {"id": c["id"], "reason": "自己举报"}, token=villager
    )
    assert own["errors"] == [{"code": "OWN_COMMENT"}]
    reporters = [await resident(gql, demo, f"139111134{i:02d}") for i in range(3)]
    out = await gql.mutate(
        "reportComment", report, {"id": c["id"], "reason": "人身攻击"}, token=reporters[0]
    )
    again = await gql.mutate(
        "reportComment", report, {"id": c["id"], "reason": "人身攻击"}, token=reporters[0]
    )
    assert out["comment"]["status"] == again["comment"]["status"] == "VISIBLE"
    await gql.mutate("reportComment", report, {"id": c["id"], "reason": "不实"}, token=reporters[1])
    third = await gql.mutate(
        "reportComment", report, {"id": c["id"], "reason": "诽谤"}, token=reporters[2]
    )
    assert third["comment"]["status"] == "REPORTED"
    public = (await gql.data(COMMENTS, {"t": item}))["comments"]["edges"][0]["node"]
    assert public["body"] is None and public["hiddenReason"]
    official = await gql.login(OFFICIAL)
    seen = (await gql.data(COMMENTS, {"t": item}, token=official))["comments"]["edges"][0]["node"]
    assert seen["body"] == "某某干部贪污！"

    restore = """mutation($input: ModerateCommentInput!) { restoreComment(input: $input) {
      comment { status body hiddenReason } errors { code } } }"""
    out = await gql.mutate(
        "restoreComment", restore, {"id": c["id"], "reason": "经核实属正常监督意见"}, token=official
    )
    assert out["comment"]["status"] == "VISIBLE" and out["comment"]["body"] == "某某干部贪污！"


async def test_only_township_officials_hide_and_always_with_a_public_reason(gql, demo, item):
    c = (await add(gql, await gql.login(VILLAGER), item, "广告：低价出售化肥"))["comment"]
    hide = """mutation($input: ModerateCommentInput!) { hideComment(input: $input) {
      comment { status body hiddenReason } errors { code } } }"""
    for phone in (VILLAGER, CLERK, SUPERVISOR, INSPECTOR):
        body = await gql(
            hide, {"input": {"id": c["id"], "reason": "广告"}}, token=await gql.login(phone)
        )
        assert error_codes(body) == ["FORBIDDEN"], phone
    official = await gql.login(OFFICIAL)
    no_reason = await gql.mutate("hideComment", hide, {"id": c["id"], "reason": ""}, token=official)
    assert no_reason["errors"] == [{"code": "REASON_REQUIRED"}]
    out = await gql.mutate(
        "hideComment", hide, {"id": c["id"], "reason": "商业广告"}, token=official
    )
    assert out["comment"]["status"] == "HIDDEN" and out["comment"]["hiddenReason"] == "商业广告"
    public = (await gql.data(COMMENTS, {"t": item}))["comments"]["edges"][0]["node"]
    assert public["body"] is None and public["hiddenReason"] == "商业广告"
    entry = await AuditEntry.get(action="comment.hide")
    assert entry.before["body"] == "广告：低价出售化肥" and entry.after["reason"] == "商业广告"


async def test_comments_are_rate_limited(gql, demo, item):
    villager = await gql.login(VILLAGER)
    for i in range(10):
        assert (await add(gql, villager, item, f"第{i}条"))["errors"] == []
    body = await gql(ADD, {"input": {"targetId": item, "body": "第11条"}}, token=villager)
    assert error_codes(body) == ["RATE_LIMITED"]
    assert await Comment.all().count() == 10
