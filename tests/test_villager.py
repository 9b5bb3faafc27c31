"""A villager's own lists (issue 12): "my flags" and "my comments" over HTTP, and a flagger
who chooses not to stay anonymous shown to the public by display name only, while an
anonymous flagger stays unnamed on every public path."""

from __future__ import annotations

import pytest

from models.flags import IdentityView
from tests.client import error_codes
from tests.test_comments import add, resident
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    published,
)
from tests.test_flags import gid, raise_flag, step

MY_FLAGS = """query($status: FlagStatus, $first: Int, $after: String) {
  myFlags(status: $status, first: $first, after: $after) {
    edges { cursor node { id status dueAt targetId target { ... on Disclosure { title } }
      anonymous flaggerName flagger { name } } }
    pageInfo { hasNextPage endCursor } } }"""
MY_COMMENTS = """query($first: Int, $after: String) { myComments(first: $first, after: $after) {
  edges { node { id body status hiddenReason parentId target { ... on Disclosure { title } } } }
  pageInfo { hasNextPage endCursor } } }"""
PUBLIC_FLAG = """query($id: ID!) { flag(id: $id) { anonymous flaggerName
  flagger { id name phone } supporters { name } events { actor { name } } } }"""


@pytest.fixture
async def items(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    return [
        (await published(gql, clerk, village, title=title))["id"]
        for title in ("修路工程决算公示", "低保名单公示")
    ]


async def all_pages(gql, query, token, **variables) -> list[dict]:
    nodes, after = [], None
    while True:
        data = await gql.data(query, {**variables, "first": 2, "after": after}, token=token)
        page = next(iter(data.values()))
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_my_flags_lists_only_my_own_newest_first_with_status_and_deadline(gql, demo, items):
    villager = await gql.login(VILLAGER)
    other = await resident(gql, demo, "13911120001")
    mine = [await raise_flag(gql, villager, target) for target in (*items, items[0])]
    theirs = await raise_flag(gql, other, items[0])
    official = await gql.login(OFFICIAL)
    accepted = await step(gql, "AcceptFlag", official, id=mine[0]["id"], note="已受理")
    assert accepted["data"]["acceptFlag"]["errors"] == []

    listed = await all_pages(gql, MY_FLAGS, villager)
    assert [f["id"] for f in listed] == [f["id"] for f in reversed(mine)]
    assert theirs["id"] not in {f["id"] for f in listed}
    assert [f["status"] for f in listed] == ["SUBMITTED", "SUBMITTED", "ACCEPTED"]
    assert all(f["dueAt"] and f["targetId"] in items for f in listed)
    assert listed[-1]["target"] == {"title": "修路工程决算公示"}
    # The flagger always sees their own flag fully, anonymous or not.
    assert {f["flagger"]["name"] for f in listed} == {"村民 赵大山"}
    assert all(f["anonymous"] and f["flaggerName"] is None for f in listed)

    only_accepted = await gql.data(MY_FLAGS, {"status": "ACCEPTED"}, token=villager)
    assert [e["node"]["id"] for e in only_accepted["myFlags"]["edges"]] == [mine[0]["id"]]
    their_list = await all_pages(gql, MY_FLAGS, other)
    assert [f["id"] for f in their_list] == [theirs["id"]]
    # An official submitted none: their list is empty, not the flags they handle.
    assert (await gql.data(MY_FLAGS, token=official))["myFlags"]["edges"] == []


async def test_an_officials_my_flags_holds_only_what_they_submitted(gql, demo, items):
    official = await gql.login(OFFICIAL)
    own = await raise_flag(gql, official, items[1], body="镇里核对时发现名单缺两户。")
    await raise_flag(gql, await gql.login(VILLAGER), items[1])
    listed = await all_pages(gql, MY_FLAGS, official)
    assert [f["id"] for f in listed] == [own["id"]]


async def test_my_lists_need_a_sign_in_and_check_their_paging(gql, demo, items):
    for query in (MY_FLAGS, MY_COMMENTS):
        assert error_codes(await gql(query)) == ["UNAUTHENTICATED"]
    villager = await gql.login(VILLAGER)
    for query in (MY_FLAGS, MY_COMMENTS):
        for variables in ({"first": 51}, {"first": -1}, {"after": "bm9wZQ"}, {"after": "??"}):
            body = await gql(query, variables, token=villager)
            assert error_codes(body) == ["BAD_USER_INPUT"], (query[:20], variables)
    body = await gql(MY_FLAGS, {"status": "LOST"}, token=villager)
    assert error_codes(body) == ["BAD_USER_INPUT"]  # a bad enum value


async def test_my_comments_include_hidden_and_deleted_ones_marked_as_such(gql, demo, items):
    villager = await gql.login(VILLAGER)
    other = await resident(gql, demo, "13911120002")
    first = (await add(gql, villager, items[0], "材料费为什么这么高？"))["comment"]
    hidden = (await add(gql, villager, items[1], "广告：低价出售化肥"))["comment"]
    gone = (await add(gql, villager, items[1], "说错了"))["comment"]
    theirs = (await add(gql, other, items[0], "我也想知道", parent=first["id"]))["comment"]
    reply = (await add(gql, villager, items[0], "谢谢答复", parent=first["id"]))["comment"]
    official = await gql.login(OFFICIAL)
    hide = """mutation($input: ModerateCommentInput!) { hideComment(input: $input) {
      errors { code } } }"""
    out = await gql.mutate(
        "hideComment", hide, {"id": hidden["id"], "reason": "商业广告"}, token=official
    )
    assert out["errors"] == []
    delete = """mutation($input: DeleteCommentInput!) { deleteComment(input: $input) {
      errors { code } } }"""
    assert (await gql.mutate("deleteComment", delete, {"id": gone["id"]}, token=villager))[
        "errors"
    ] == []

    listed = await all_pages(gql, MY_COMMENTS, villager)
    assert [c["id"] for c in listed] == [reply["id"], gone["id"], hidden["id"], first["id"]]
    by_id = {c["id"]: c for c in listed}
    assert by_id[hidden["id"]]["status"] == "HIDDEN"
    assert by_id[hidden["id"]]["hiddenReason"] == "商业广告"
    assert by_id[hidden["id"]]["body"] == "广告：低价出售化肥"  # their own words, to them
    assert (by_id[gone["id"]]["status"], by_id[gone["id"]]["body"]) == ("DELETED", None)
    assert by_id[reply["id"]]["parentId"] == first["id"]
    assert by_id[first["id"]]["target"] == {"title": "修路工程决算公示"}
    assert theirs["id"] not in by_id
    assert [c["id"] for c in await all_pages(gql, MY_COMMENTS, other)] == [theirs["id"]]
    # The hidden text stays hidden from everyone else.
    node = "query($id: ID!) { node(id: $id) { ... on Comment { body hiddenReason } } }"
    for token in (None, other, await gql.login(CLERK)):
        seen = (await gql.data(node, {"id": hidden["id"]}, token=token))["node"]
        assert seen == {"body": None, "hiddenReason": "商业广告"}


# --- standing by a flag -------------------------------------------------------------------


async def test_a_flagger_who_stands_by_a_flag_is_shown_by_name_only(gql, demo, items):
    villager = await gql.login(VILLAGER)
    named = await raise_flag(gql, villager, items[0], anonymous=False)
    hidden = await raise_flag(gql, villager, items[1])  # anonymous by default
    supporter = await resident(gql, demo, "13911120003")
    support = (
        "mutation($input: SupportFlagInput!) { supportFlag(input: $input) { errors { code } } }"
    )
    assert (await gql.mutate("supportFlag", support, {"id": named["id"]}, token=supporter))[
        "errors"
    ] == []
    viewers = {
        "public": None,
        "clerk": await gql.login(CLERK),
        "supervisor": await gql.login(SUPERVISOR),
        "admin": await gql.login(ADMIN),
        "another villager": await resident(gql, demo, "13911120004"),
    }
    for who, token in viewers.items():
        views_before = await IdentityView.all().count()
        shown = (await gql.data(PUBLIC_FLAG, {"id": named["id"]}, token=token))["flag"]
        assert shown["anonymous"] is False and shown["flaggerName"] == "村民 赵大山", who
        # the name only: no user id or phone, and the supporters stay anonymous
        assert shown["flagger"] is None and shown["supporters"] == [], who
        assert all(e["actor"] is None for e in shown["events"]), who
        body = await gql(PUBLIC_FLAG, {"id": named["id"]}, token=token)
        assert "13800000006" not in str(body) and "0006" not in str(body), who
        anonymous = (await gql.data(PUBLIC_FLAG, {"id": hidden["id"]}, token=token))["flag"]
        assert anonymous["flaggerName"] is None and anonymous["flagger"] is None, who
        assert "赵大山" not in str(await gql(PUBLIC_FLAG, {"id": hidden["id"]}, token=token))
        assert await IdentityView.all().count() == views_before, who  # nothing was shown
    # The officials and inspectors see who as before, and each showing is recorded.
    for phone in (OFFICIAL, INSPECTOR):
        token = await gql.login(phone)
        before = await IdentityView.all().count()
        for flag in (named, hidden):
            seen = (await gql.data(PUBLIC_FLAG, {"id": flag["id"]}, token=token))["flag"]
            assert seen["flagger"]["name"] == "村民 赵大山", phone
        assert (await gql.data(PUBLIC_FLAG, {"id": named["id"]}, token=token))["flag"][
            "supporters"
        ] == [{"name": "村民03"}]
        assert await IdentityView.all().count() > before, phone
    # The flagger sees their own, both ways.
    own = (await gql.data(PUBLIC_FLAG, {"id": hidden["id"]}, token=villager))["flag"]
    assert own["flagger"]["name"] == "村民 赵大山" and own["flaggerName"] is None


FEEDS = {
    "disclosure flags": (
        """query($id: ID!) { disclosure(id: $id) { flags { id flaggerName anonymous
          flagger { name } supporters { name } } } }""",
        lambda d: d["disclosure"]["flags"],
    ),
    "similar flags": (
        """query($id: ID!) { similarFlags(targetId: $id) { id flaggerName anonymous
          flagger { name } supporters { name } } }""",
        lambda d: d["similarFlags"],
    ),
}


async def test_a_hostile_client_cannot_learn_an_anonymous_flagger(gql, demo, items):
    """Every public path (lists, node, filters, ordering, errors, the audit log) names the
    flagger who chose to, and nobody else."""
    villager = await gql.login(VILLAGER)
    other = await resident(gql, demo, "13911120005")
    await raise_flag(gql, other, items[0], anonymous=False, body="决算说明不清楚，请补充。")
    secret = await raise_flag(gql, villager, items[0])
    hostile = {
        "public": None,
        "clerk": await gql.login(CLERK),
        "other villager": other,
        "admin": await gql.login(ADMIN),
    }
    for who, token in hostile.items():
        for path, (query, pick) in FEEDS.items():
            flags = pick(await gql.data(query, {"id": items[0]}, token=token))
            by_id = {f["id"]: f for f in flags}
            assert by_id[secret["id"]]["flaggerName"] is None, (who, path)
            assert by_id[secret["id"]]["flagger"] is None, (who, path)
            assert "赵大山" not in str(flags), (who, path)
        # my lists are the caller's own, whatever they send
        if token is not None:
            listed = await all_pages(gql, MY_FLAGS, token)
            assert secret["id"] not in {f["id"] for f in listed}, who
        # the flagger's own steps answer FORBIDDEN alike, not "not yours"
        body = await step(gql, "ReopenFlag", token, id=secret["id"], reason="不同意处理结果")
        assert "赵大山" not in str(body)
        assert error_codes(body) == (["UNAUTHENTICATED"] if token is None else ["FORBIDDEN"])
        # the officials' queue and its filters stay closed to them
        queue = await gql(
            "query($r: ID!) { flags(regionId: $r, status: SUBMITTED) { edges { node { id } } } }",
            {"r": gid("Region", demo.villages[0].id)},
            token=token,
        )
        assert error_codes(queue), who
    # The audit log: the flag's actor stays hidden from the admins who read it.
    audit = """query($r: ID!) { auditLog(regionId: $r, action: "flag.submit") {
      edges { node { action actor { name } ip after } } } }"""
    body = await gql(audit, {"r": gid("Region", demo.villages[0].id)}, token=hostile["admin"])
    entries = [e["node"] for e in body["data"]["auditLog"]["edges"]]
    assert len(entries) == 2 and all(e["actor"] is None and e["ip"] is None for e in entries)
    assert "赵大山" not in str(body), body
