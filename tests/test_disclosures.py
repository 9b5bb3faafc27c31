"""The disclosure workflow through the API: draft, review, publish, correct, retract, feeds,
search, the hash chain and compliance."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from tortoise import Tortoise

from api.relay import to_global_id
from models.disclosures import CatalogueItem, Disclosure, DisclosureVersion, LedgerEntry
from models.disclosures.publishing import publish_due
from tests import media_files
from tests.client import error_codes
from tests.test_media import uploaded

ADMIN, INSPECTOR, OFFICIAL = "13800000001", "13800000002", "13800000003"
CLERK, SUPERVISOR, VILLAGER = "13800000004", "13800000005", "13800000006"
FIELDS = """id status version title body period category mustRead publishedAt retractionReason
  catalogueItem { code name } region { name } author { name }
  attachments { id thumbnailUrl } tables { title columns { key kind } rows }
  versions { version title body reason attachments { sha256 } }"""
CREATE = f"""mutation($input: CreateDisclosureInput!) {{ createDisclosure(input: $input) {{
  disclosure {{ {FIELDS} }} errors {{ code field message }} }} }}"""
STEP = """mutation($input: %sInput!) { %s(input: $input) {
  disclosure { id status version publishedAt } errors { code field } } }"""
FEED = """query($region: ID, $search: String, $category: Category, $first: Int, $after: String) {
  disclosures(regionId: $region, search: $search, category: $category, first: $first, after: $after) {
    edges { cursor node { id title category status region { name } author { name }
      attachments { thumbnailUrl } } }
    pageInfo { hasNextPage endCursor } } }"""
VERIFY = "query($v: ID!) { verifyLedger(villageId: $v) { ok length headHash firstBrokenAt } }"


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


async def item_id(code: str) -> str:
    return gid("CatalogueItem", (await CatalogueItem.get(code=code)).id)


async def step(gql, name: str, token: str, **data):
    mutation = name[0].lower() + name[1:]
    return await gql.mutate(mutation, STEP % (name, mutation), data, token=token)


async def draft(gql, token, region, **overrides):
    data = {
        "regionId": gid("Region", region.id),
        "category": "VILLAGE_AFFAIRS",
        "title": "2026年第三季度村民代表会议决定事项",
        "body": "修路方案已通过，预算十二万元。",
    }
    data.update(overrides)
    payload = await gql.mutate("createDisclosure", CREATE, data, token=token)
    assert payload["errors"] == [], payload
    return payload["disclosure"]


async def published(gql, token, region, **overrides):
    d = await draft(gql, token, region, **overrides)
    out = await step(gql, "PublishDisclosure", token, id=d["id"])
    assert out["errors"] == [], out
    return d


async def test_finance_goes_from_draft_through_approval_to_the_public(client, gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    photos = [
        (await uploaded(client, clerk, media_files.phone_jpeg(orientation=o)))["media"]["id"]
        for o in (1, 6)
    ]
    village = demo.villages[0]
    d = await draft(
        gql,
        clerk,
        village,
        category="FINANCE",
        catalogueItemId=await item_id("FIN-2"),
        period="2026-10",
        title="2026年10月财务收入公开",
        body="本月收到上级专项补助款项三万元。",
        attachmentIds=photos,
    )
    assert d["status"] == "DRAFT" and len(d["attachments"]) == 2
    # The public cannot see the draft; a villager neither.
    assert error_codes(await gql("query($id: ID!) { node(id: $id) { id } }", {"id": d["id"]})) == [
        "NOT_FOUND"
    ]
    body = await gql(
        "query($id: ID!) { disclosure(id: $id) { id } }",
        {"id": d["id"]},
        token=await gql.login(VILLAGER),
    )
    assert error_codes(body) == ["NOT_FOUND"]

    not_yet = await step(gql, "PublishDisclosure", clerk, id=d["id"])
    assert not_yet["errors"] == [{"code": "NEEDS_APPROVAL", "field": "id"}]
    assert (await step(gql, "SubmitDisclosure", clerk, id=d["id"]))["disclosure"]["status"] == (
        "PENDING_REVIEW"
    )
    approved = await step(gql, "ApproveDisclosure", supervisor, id=d["id"])
    assert approved["disclosure"]["status"] == "APPROVED"
    out = await step(gql, "PublishDisclosure", clerk, id=d["id"])
    assert out["errors"] == [] and out["disclosure"]["status"] == "PUBLISHED"

    village_feed = await gql.data(FEED, {"region": gid("Region", village.id)})
    township_feed = await gql.data(FEED, {"region": gid("Region", demo.townships[0].id)})
    search = await gql.data(FEED, {"search": "补助"})
    for feed in (village_feed, township_feed, search):
        nodes = [e["node"] for e in feed["disclosures"]["edges"]]
        assert [n["id"] for n in nodes] == [d["id"]]
        assert nodes[0]["author"]["name"] == "村文书 刘芳"
        assert all(a["thumbnailUrl"] for a in nodes[0]["attachments"])
    other_village = await gql.data(FEED, {"region": gid("Region", demo.villages[1].id)})
    assert other_village["disclosures"]["edges"] == []
    ok = await gql.data(VERIFY, {"v": gid("Region", village.id)})
    assert ok["verifyLedger"] == {
        "ok": True,
        "length": 1,
        "headHash": ok["verifyLedger"]["headHash"],
        "firstBrokenAt": None,
    }


async def test_a_correction_adds_a_version_and_keeps_the_first(gql, demo):
    clerk = await gql.login(CLERK)
    d = await published(gql, clerk, demo.villages[0])
    fixed = await gql.mutate(
        "correctDisclosure",
        f"""mutation($input: CorrectDisclosureInput!) {{ correctDisclosure(input: $input) {{
          disclosure {{ {FIELDS} }} errors {{ code field }} }} }}""",
        {"id": d["id"], "body": "修路方案已通过，预算十五万元。", "reason": "预算数字录入错误"},
        token=clerk,
    )
    assert fixed["errors"] == []
    current = fixed["disclosure"]
    assert current["version"] == 2 and current["body"].endswith("十五万元。")
    versions = current["versions"]
    assert [(v["version"], v["reason"]) for v in versions] == [(1, None), (2, "预算数字录入错误")]
    assert versions[0]["body"].endswith("十二万元。")
    no_reason = await gql.mutate(
        "correctDisclosure",
        "mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) { errors { code } } }",
        {"id": d["id"], "body": "x", "reason": " "},
        token=clerk,
    )
    assert no_reason["errors"] == [{"code": "REASON_REQUIRED"}]
    check = await gql.data(VERIFY, {"v": gid("Region", demo.villages[0].id)})
    assert check["verifyLedger"]["ok"] is True and check["verifyLedger"]["length"] == 2


async def test_tampering_in_the_database_breaks_the_chain_at_that_entry(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    ids = [(await published(gql, clerk, village, title=f"第{i}号公告"))["id"] for i in range(1, 4)]
    target = await DisclosureVersion.get(disclosure_id=int(_pk(ids[1])))
    entry = await LedgerEntry.get(version_id=target.id)
    conn = Tortoise.get_connection("default")
    await conn.execute_script(
        f"UPDATE disclosure_version SET body = '修路预算八万元。' WHERE id = {target.id}"
    )
    broken = await gql.data(VERIFY, {"v": gid("Region", village.id)})
    assert broken["verifyLedger"]["ok"] is False
    assert broken["verifyLedger"]["firstBrokenAt"] == entry.seq == 2
    assert broken["verifyLedger"]["length"] == 3


async def test_retraction_keeps_the_record_with_its_reason_and_is_chained(gql, demo):
    clerk = await gql.login(CLERK)
    d = await published(gql, clerk, demo.villages[0], title="低保名单公示")
    out = await gql.mutate(
        "retractDisclosure",
        "mutation($input: RetractDisclosureInput!) { retractDisclosure(input: $input) { disclosure { status retractionReason } errors { code } } }",
        {"id": d["id"], "reason": "名单有误，核实后重新公示"},
        token=clerk,
    )
    assert out["disclosure"] == {
        "status": "RETRACTED",
        "retractionReason": "名单有误，核实后重新公示",
    }
    read = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { status title retractionReason } }", {"id": d["id"]}
    )
    assert read["disclosure"]["title"] == "低保名单公示"
    assert (await gql.data(FEED, {"search": "低保"}))["disclosures"]["edges"] == []
    chain = await gql.data(VERIFY, {"v": gid("Region", demo.villages[0].id)})
    assert chain["verifyLedger"]["ok"] and chain["verifyLedger"]["length"] == 2


@pytest.mark.parametrize(
    ("phone", "code"),
    [
        (VILLAGER, "FORBIDDEN"),
        (SUPERVISOR, "FORBIDDEN"),
        (INSPECTOR, "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ],
)
async def test_who_may_not_draft(gql, demo, phone, code):
    token = await gql.login(phone) if phone else None
    data = {
        "regionId": gid("Region", demo.villages[0].id),
        "category": "PARTY",
        "title": "党费收缴情况",
        "body": "……",
    }
    body = await gql(CREATE, {"input": data}, token=token)
    assert error_codes(body) == [code]
    assert await Disclosure.all().count() == 0


async def test_forbidden_workflow_steps(gql, demo):
    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    d = await draft(
        gql,
        clerk,
        demo.villages[0],
        category="FINANCE",
        title="10月支出",
        body="管理费支出",
        catalogueItemId=await item_id("FIN-3"),
        period="2026-10",
    )
    await step(gql, "SubmitDisclosure", clerk, id=d["id"])
    # The clerk cannot approve; the supervisor cannot publish or edit.
    for token, name in [
        (clerk, "ApproveDisclosure"),
        (supervisor, "PublishDisclosure"),
        (supervisor, "SubmitDisclosure"),
    ]:
        body = await gql(
            STEP % (name, name[0].lower() + name[1:]), {"input": {"id": d["id"]}}, token=token
        )
        assert error_codes(body) == ["FORBIDDEN"], name
    # A clerk of another village can do nothing with it, nor learn that it exists.
    other_clerk = await _clerk_elsewhere(gql, demo)
    body = await gql(
        STEP % ("PublishDisclosure", "publishDisclosure"),
        {"input": {"id": d["id"]}},
        token=other_clerk,
    )
    assert body["data"]["publishDisclosure"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    # A supervisor who drafted it himself may not approve it: the two-person rule.
    await _grant(gql, demo, "13800000005", "CLERK", demo.villages[0])
    supervisor = await gql.login(SUPERVISOR)
    own = await draft(
        gql,
        supervisor,
        demo.villages[0],
        category="FINANCE",
        title="11月收入",
        body="……",
        catalogueItemId=await item_id("FIN-2"),
        period="2026-11",
    )
    await step(gql, "SubmitDisclosure", supervisor, id=own["id"])
    body = await gql(
        STEP % ("ApproveDisclosure", "approveDisclosure"),
        {"input": {"id": own["id"]}},
        token=supervisor,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await Disclosure.filter(status="PUBLISHED").count() == 0


async def test_published_items_cannot_be_edited_in_place(gql, demo):
    clerk = await gql.login(CLERK)
    d = await published(gql, clerk, demo.villages[0])
    out = await gql.mutate(
        "updateDisclosure",
        "mutation($input: UpdateDisclosureInput!) { updateDisclosure(input: $input) { errors { code } } }",
        {"id": d["id"], "title": "改个标题"},
        token=clerk,
    )
    assert out["errors"] == [{"code": "WRONG_STATUS"}]
    assert (await Disclosure.get(id=_pk(d["id"]))).title == d["title"]


async def test_bad_drafts_are_refused_and_change_nothing(gql, demo):
    clerk = await gql.login(CLERK)
    township = gid("Region", demo.townships[0].id)
    cases = [
        ({"title": ""}, "INVALID_TITLE"),
        ({"category": "FINANCE", "regionId": township}, None),  # FORBIDDEN? clerk: no grant
        ({"catalogueItemId": None, "period": "2026-13"}, "INVALID_PERIOD"),
        (
            {"category": "PARTY", "catalogueItemId": "FIN-2", "period": "2026-10"},
            "CATALOGUE_MISMATCH",
        ),
        (
            {"category": "FINANCE", "catalogueItemId": "FIN-2", "period": "2026-Q1"},
            "PERIOD_REQUIRED",
        ),
        ({"attachmentIds": [gid("Media", 4242)]}, "NOT_FOUND"),
    ]
    for overrides, code in cases:
        if overrides.get("catalogueItemId") and not overrides["catalogueItemId"].startswith("Q"):
            overrides["catalogueItemId"] = await item_id(overrides["catalogueItemId"])
        overrides = {k: v for k, v in overrides.items() if v is not None}
        data = {
            "regionId": gid("Region", demo.villages[0].id),
            "category": "VILLAGE_AFFAIRS",
            "title": "标题",
            "body": "正文",
        }
        data.update(overrides)
        body = await gql(CREATE, {"input": data}, token=clerk)
        if code is None:
            assert error_codes(body) == ["FORBIDDEN"]
        else:
            errors = body["data"]["createDisclosure"]["errors"]
            assert [e["code"] for e in errors] == [code], overrides
            if code == "PERIOD_REQUIRED":  # says which form of period, in Chinese
                assert errors[0]["message"] == "该目录项目须填写相应期间，如 2026-03"
    assert await Disclosure.all().count() == 0


async def test_an_official_drafts_a_finance_item_only_on_a_village(gql, demo):
    official = await gql.login(OFFICIAL)
    data = {
        "regionId": gid("Region", demo.townships[0].id),
        "category": "FINANCE",
        "title": "镇财务",
        "body": "……",
    }
    payload = (await gql(CREATE, {"input": data}, token=official))["data"]["createDisclosure"]
    assert payload["errors"][0]["code"] == "CATEGORY_REGION_KIND"


async def test_tables_are_masked_on_the_server(gql, demo):
    clerk = await gql.login(CLERK)
    table = {
        "title": "2026年第三季度低保对象名单",
        "columns": [
            {"key": "name", "label": "姓名", "kind": "NAME"},
            {"key": "id", "label": "身份证号", "kind": "ID_NUMBER"},
            {"key": "phone", "label": "电话", "kind": "PHONE"},
            {"key": "amount", "label": "金额（分）", "kind": "MONEY_FEN"},
        ],
        "rows": [["王秀英", "110101195003071234", "13912345678", "45000"]],
    }
    d = await published(gql, clerk, demo.villages[0], title="低保对象名单", tables=[table])
    row = d["tables"][0]["rows"][0]
    assert row == ["王秀英", "110101********1234", "139****5678", "45000"]
    stored = await Disclosure.get(id=_pk(d["id"]))
    assert "195003071234" not in str(stored.tables) and "12345678" not in str(stored.tables)
    found = await gql.data(FEED, {"search": "王秀英"})
    assert len(found["disclosures"]["edges"]) == 1
    bad = dict(table, rows=[["王", "1", "2", "4.5元"]])
    body = await gql(
        CREATE,
        {
            "input": {
                "regionId": gid("Region", demo.villages[0].id),
                "category": "VILLAGE_AFFAIRS",
                "title": "t",
                "body": "b",
                "tables": [bad],
            }
        },
        token=clerk,
    )
    assert body["data"]["createDisclosure"]["errors"][0]["code"] == "INVALID_TABLE_CELL"


async def test_search_finds_two_character_words_and_ranks_titles_first(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    body_hit = await published(
        gql, clerk, village, title="村委会工作报告", body="今年发放低保金与各类补助。"
    )
    title_hit = await published(gql, clerk, village, title="补助资金发放明细", body="详见附件。")
    await published(gql, clerk, village, title="修路进度", body="东段已完工。")
    found = await gql.data(FEED, {"search": "补助"})
    assert [e["node"]["id"] for e in found["disclosures"]["edges"]] == [
        title_hit["id"],
        body_hit["id"],
    ]
    road = await gql.data(FEED, {"search": "修路"})
    assert [e["node"]["title"] for e in road["disclosures"]["edges"]] == ["修路进度"]
    page = await gql.data(FEED, {"search": "补助", "first": 1})
    rest = await gql.data(
        FEED, {"search": "补助", "first": 1, "after": page["disclosures"]["pageInfo"]["endCursor"]}
    )
    assert rest["disclosures"]["edges"][0]["node"]["id"] == body_hit["id"]
    assert error_codes(await gql(FEED, {"search": "补"})) == ["BAD_USER_INPUT"]
    # Narrowed to a village, and a three-character query (two bigrams, both required).
    elsewhere = await published(gql, await gql.login(OFFICIAL), demo.villages[1], title="补助标准")
    scoped = await gql.data(FEED, {"search": "补助", "region": gid("Region", village.id)})
    assert [e["node"]["id"] for e in scoped["disclosures"]["edges"]] == [
        title_hit["id"],
        body_hit["id"],
    ]
    everywhere = await gql.data(FEED, {"search": "补助"})
    assert elsewhere["id"] in [e["node"]["id"] for e in everywhere["disclosures"]["edges"]]
    three = await gql.data(FEED, {"search": "低保金"})
    assert [e["node"]["id"] for e in three["disclosures"]["edges"]] == [body_hit["id"]]


async def test_township_notices_reach_every_village_below(gql, demo):
    official = await gql.login(OFFICIAL)
    notice = await published(
        gql,
        official,
        demo.townships[0],
        category="NOTICE",
        title="关于秋季防火的通知",
        body="禁止野外用火。",
        mustRead=True,
    )
    assert notice["mustRead"] is True
    for village in demo.villages[:4]:
        feed = await gql.data(FEED, {"region": gid("Region", village.id)})
        assert [e["node"]["id"] for e in feed["disclosures"]["edges"]] == [notice["id"]]
    elsewhere = await gql.data(FEED, {"region": gid("Region", demo.villages[5].id)})
    assert elsewhere["disclosures"]["edges"] == []


async def test_feeds_page_newest_first_with_stable_cursors(gql, demo):
    clerk = await gql.login(CLERK)
    ids = [
        (await published(gql, clerk, demo.villages[0], title=f"公告{i}"))["id"] for i in range(5)
    ]
    await Disclosure.all().update(published_at=datetime(2026, 11, 1, tzinfo=UTC))  # ties
    seen, after = [], None
    while True:
        page = (
            await gql.data(
                FEED, {"region": gid("Region", demo.villages[0].id), "first": 2, "after": after}
            )
        )["disclosures"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(ids))


async def test_feed_filters_comment_counts_and_authors(gql, demo):
    clerk = await gql.login(CLERK)
    village, other = demo.villages[0], demo.villages[1]
    party = await published(gql, clerk, village, category="PARTY", title="党员大会决定")
    land = await published(
        gql, clerk, village, catalogueItemId=await item_id("CW-03"), period="2026-Q3"
    )
    await published(gql, await gql.login(OFFICIAL), other, title="别村的事")
    add = """mutation($input: AddCommentInput!) { addComment(input: $input) { errors { code } } }"""
    for body in ("什么时候开工？", "预算明细在哪里？"):
        out = await gql.mutate(
            "addComment", add, {"targetId": land["id"], "body": body}, token=clerk
        )
        assert out["errors"] == []
    cut = datetime.now(UTC)
    await Disclosure.filter(id=_pk(party["id"])).update(updated_at=cut + timedelta(seconds=1))
    await Disclosure.filter(id=_pk(land["id"])).update(updated_at=cut - timedelta(days=1))
    query = """query($r: ID, $c: Category, $i: ID, $u: DateTime) {
      disclosures(regionId: $r, category: $c, catalogueItemId: $i, updatedSince: $u) {
        edges { node { id commentCount author { name } region { name } } } } }"""

    async def ids(**variables):
        data = await gql.data(query, {"r": gid("Region", village.id), **variables})
        return [e["node"] for e in data["disclosures"]["edges"]]

    everything = await ids()
    assert [n["id"] for n in everything] == [land["id"], party["id"]]
    assert [n["commentCount"] for n in everything] == [2, 0]
    assert {n["author"]["name"] for n in everything} == {party["author"]["name"]}
    assert {n["region"]["name"] for n in everything} == {village.name}
    assert [n["id"] for n in await ids(c="PARTY")] == [party["id"]]
    assert [n["id"] for n in await ids(i=await item_id("CW-03"))] == [land["id"]]
    assert [n["id"] for n in await ids(u=cut.isoformat())] == [party["id"]]


async def test_county_and_township_feeds_merge_their_villages_newest_first(gql, demo):
    official = await gql.login(OFFICIAL)
    clerk = await gql.login(CLERK)
    made = [
        await published(gql, clerk, demo.villages[0], title="一村事项"),
        await published(gql, official, demo.villages[1], title="二村事项"),
        await published(gql, official, demo.townships[0], category="NOTICE", title="镇通知"),
        await published(gql, clerk, demo.villages[0], title="一村又一事项", category="PARTY"),
    ]
    # distinct publication times, oldest first as made
    for i, d in enumerate(made):
        at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=i)
        await Disclosure.filter(id=_pk(d["id"])).update(published_at=at)
    newest_first = [d["id"] for d in reversed(made)]
    for region in (demo.county, demo.townships[0]):
        feed = await gql.data(FEED, {"region": gid("Region", region.id)})
        assert [e["node"]["id"] for e in feed["disclosures"]["edges"]] == newest_first
    party = await gql.data(FEED, {"region": gid("Region", demo.county.id), "category": "PARTY"})
    assert [e["node"]["id"] for e in party["disclosures"]["edges"]] == [made[3]["id"]]
    page = await gql.data(FEED, {"region": gid("Region", demo.county.id), "first": 3})
    after = page["disclosures"]["pageInfo"]["endCursor"]
    rest = await gql.data(
        FEED, {"region": gid("Region", demo.county.id), "first": 3, "after": after}
    )
    assert [e["node"]["id"] for e in rest["disclosures"]["edges"]] == [made[0]["id"]]


async def test_scheduled_publication_waits_for_its_time(gql, demo):
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0])
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    out = await gql.mutate(
        "publishDisclosure",
        STEP % ("PublishDisclosure", "publishDisclosure"),
        {"id": d["id"], "publishAt": later},
        token=clerk,
    )
    assert out["disclosure"]["status"] == "SCHEDULED" and out["disclosure"]["publishedAt"] is None
    assert await publish_due() == 0
    assert await publish_due(datetime.now(UTC) + timedelta(hours=3)) == 1
    read = await gql.data(
        "query($id: ID!) { disclosure(id: $id) { status version } }", {"id": d["id"]}
    )
    assert read["disclosure"] == {"status": "PUBLISHED", "version": 1}


async def test_compliance_shows_published_late_and_missing_items(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    d = await draft(
        gql,
        clerk,
        village,
        category="VILLAGE_AFFAIRS",
        catalogueItemId=await item_id("CW-03"),
        period="2026-Q2",
        title="宅基地审批情况",
    )
    await step(gql, "PublishDisclosure", clerk, id=d["id"])
    # It went out on 2026-07-15 (before the default 20th) in this story.
    await Disclosure.filter(id=_pk(d["id"])).update(
        first_published_at=datetime(2026, 7, 15, 2, tzinfo=UTC)
    )
    query = """query($r: ID!, $p: String!) { disclosureCompliance(regionId: $r, period: $p, first: 50) {
      edges { node { village { name } onTime late missing pending
        items { item { code } status dueAt } } } } }"""
    report = await gql.data(query, {"r": gid("Region", demo.townships[0].id), "p": "2026-Q2"})
    villages = [e["node"] for e in report["disclosureCompliance"]["edges"]]
    assert len(villages) == 4
    first = next(v for v in villages if v["village"]["name"] == village.name)
    statuses = {i["item"]["code"]: i["status"] for i in first["items"]}
    assert statuses["CW-03"] == "ON_TIME" and statuses["CW-01"] == "MISSING"
    assert first["onTime"] == 1 and first["missing"] == len(statuses) - 1
    other = villages[1]
    assert other["onTime"] == 0 and other["missing"] == len(other["items"])
    assert first["items"][0]["dueAt"].startswith("2026-07-20T16:00:00")  # 21st 00:00 Beijing


async def test_a_township_due_day_is_inherited_by_its_villages(gql, demo):
    admin = await gql.login(ADMIN)
    out = await gql.mutate(
        "setDueDay",
        "mutation($input: SetDueDayInput!) { setDueDay(input: $input) { errors { code } } }",
        {"regionId": gid("Region", demo.townships[0].id), "frequency": "QUARTERLY", "day": 15},
        token=admin,
    )
    assert out["errors"] == []
    query = """query($r: ID!) { disclosureCompliance(regionId: $r, period: "2026-Q2", first: 1) {
      edges { node { items { dueAt } } } } }"""
    report = await gql.data(query, {"r": gid("Region", demo.villages[0].id)})
    assert report["disclosureCompliance"]["edges"][0]["node"]["items"][0]["dueAt"].startswith(
        "2026-07-15T16:00:00"
    )
    body = await gql(
        "mutation($input: SetDueDayInput!) { setDueDay(input: $input) { errors { code } } }",
        {
            "input": {
                "regionId": gid("Region", demo.townships[0].id),
                "frequency": "MONTHLY",
                "day": 5,
            }
        },
        token=await gql.login(CLERK),
    )
    assert error_codes(body) == ["FORBIDDEN"]


async def test_follow_read_marks_and_view_counts(app, gql, demo):
    clerk, villager = await gql.login(CLERK), await gql.login(VILLAGER)
    d = await published(gql, clerk, demo.villages[0])
    follow = "mutation($input: FollowRegionInput!) { followRegion(input: $input) { following errors { code } } }"
    for _ in range(2):  # idempotent
        out = await gql.mutate(
            "followRegion",
            follow,
            {"regionId": gid("Region", demo.townships[0].id)},
            token=villager,
        )
        assert out["following"] is True
    feed = await gql.data("{ following { edges { node { id readByMe } } } }", token=villager)
    assert feed["following"]["edges"] == [{"node": {"id": d["id"], "readByMe": False}}]
    mark = "mutation($input: MarkDisclosureReadInput!) { markDisclosureRead(input: $input) { disclosure { readByMe } } }"
    out = await gql.mutate("markDisclosureRead", mark, {"id": d["id"]}, token=villager)
    assert out["disclosure"]["readByMe"] is True
    for _ in range(3):
        await gql.data("query($id: ID!) { disclosure(id: $id) { id } }", {"id": d["id"]})
    assert await app.state.services.views.flush() == 3
    assert (await Disclosure.get(id=_pk(d["id"]))).view_count == 3
    assert error_codes(await gql("{ following { edges { cursor } } }")) == ["UNAUTHENTICATED"]


async def test_a_feed_page_costs_the_same_queries_whatever_its_size(gql, demo, caplog):
    official = await gql.login(OFFICIAL)
    for i in range(12):
        await published(gql, official, demo.villages[i % 4], title=f"公告{i}")
    query = """query($r: ID!, $n: Int) { disclosures(regionId: $r, first: $n) { edges { node {
      id title region { name } author { name } attachments { thumbnailUrl } catalogueItem { code }
      commentCount
    } } } }"""
    await gql.data(query, {"r": gid("Region", demo.townships[0].id), "n": 1})  # warm caches
    counts = []
    for size in (2, 12):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
            data = await gql.data(query, {"r": gid("Region", demo.townships[0].id), "n": size})
        assert len(data["disclosures"]["edges"]) == size
        counts.append(sum(1 for r in caplog.records if r.name == "tortoise.db_client"))
    assert 0 < counts[0] == counts[1] <= 8, counts


async def _grant(gql, demo, phone, role, region):
    from models.accounts import User
    from tests.client import GRANT_ROLE

    user = await User.get(phone=phone)
    admin = await gql.login(ADMIN)
    out = await gql.mutate(
        "grantRole",
        GRANT_ROLE,
        {"userId": gid("User", user.id), "role": role, "regionId": gid("Region", region.id)},
        token=admin,
    )
    assert out["errors"] == []


async def _clerk_elsewhere(gql, demo) -> str:
    from tests.client import REGISTER

    await gql.mutate(
        "register",
        REGISTER,
        {
            "phone": "13911112222",
            "password": "elsewhere-pass",
            "name": "外村文书",
            "villageId": gid("Region", demo.villages[5].id),
        },
    )
    await _grant(gql, demo, "13911112222", "CLERK", demo.villages[5])
    return await gql.login("13911112222", "elsewhere-pass")


def _pk(global_id: str) -> int:
    from api.relay import from_global_id

    return int(from_global_id(global_id)[1])


async def test_the_ledger_script_checks_the_database_and_an_exported_file(
    gql, demo, tmp_path, capsys
):
    import orjson

    from scripts import verify_ledger

    clerk = await gql.login(CLERK)
    for i in range(3):
        await published(gql, clerk, demo.villages[0], title=f"公告{i}")
    code = demo.villages[0].code
    export = tmp_path / "ledger.json"
    region, entries = await verify_ledger.load_entries(code)
    verify_ledger.write_export(export, region, entries)
    assert verify_ledger.main(["--file", str(export)]) == 0
    assert "OK: 3 entries" in capsys.readouterr().out
    document = orjson.loads(export.read_bytes())
    document["entries"][1]["content"]["body"] = "被改过的正文"
    export.write_bytes(orjson.dumps(document))
    assert verify_ledger.main(["--file", str(export)]) == 1
    assert "BROKEN at entry 2 of 3" in capsys.readouterr().out


SAVE_ITEM = """mutation($input: CatalogueItemInput!) { saveCatalogueItem(input: $input) {
  catalogueItem { id code name frequency required active } errors { code field } } }"""


async def test_only_a_system_admin_edits_the_catalogue(gql, demo, settings):
    from scripts.create_admin import create_admin

    county_admin = await gql.login(ADMIN)
    body = await gql(
        SAVE_ITEM,
        {
            "input": {
                "code": "CW-50",
                "category": "VILLAGE_AFFAIRS",
                "name": "秸秆禁烧",
                "frequency": "QUARTERLY",
            }
        },
        token=county_admin,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    await create_admin(settings, "13700000008", "operator-password", "运维")
    operator = await gql.login("13700000008", "operator-password")
    made = await gql.mutate(
        "saveCatalogueItem",
        SAVE_ITEM,
        {
            "code": "CW-50",
            "category": "VILLAGE_AFFAIRS",
            "name": "秸秆禁烧工作情况",
            "frequency": "QUARTERLY",
            "required": True,
        },
        token=operator,
    )
    assert made["errors"] == [] and made["catalogueItem"]["required"] is True
    again = await gql.mutate(
        "saveCatalogueItem",
        SAVE_ITEM,
        {"code": "CW-50", "category": "VILLAGE_AFFAIRS", "name": "x", "frequency": "YEARLY"},
        token=operator,
    )
    assert again["errors"] == [{"code": "CODE_TAKEN", "field": "code"}]
    query = """query($r: ID!) { disclosureCompliance(regionId: $r, period: "2026-Q3", first: 1) {
      edges { node { items { item { code } status } } } } }"""
    report = await gql.data(query, {"r": gid("Region", demo.villages[0].id)})
    codes = [i["item"]["code"] for i in report["disclosureCompliance"]["edges"][0]["node"]["items"]]
    assert "CW-50" in codes
    off = await gql.mutate(
        "saveCatalogueItem",
        SAVE_ITEM,
        {"id": made["catalogueItem"]["id"], "active": False},
        token=operator,
    )
    assert off["catalogueItem"]["active"] is False
    catalogue = await gql.data("{ catalogue(category: VILLAGE_AFFAIRS) { code } }")
    assert "CW-50" not in [c["code"] for c in catalogue["catalogue"]]
    finance = await gql.data("{ catalogue(category: FINANCE) { code parent { code } } }")
    groups = [c for c in finance["catalogue"] if c["parent"] is None and c["code"].count("-") == 1]
    items = [c for c in finance["catalogue"] if c["parent"] is not None]
    assert len([g for g in groups if not g["code"].startswith("FIN-S")]) == 8 and len(items) == 44
