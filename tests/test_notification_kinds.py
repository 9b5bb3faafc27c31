"""Who hears about what, over HTTP: approvals waiting for a supervisor, risk hits, replies
to a comment, must-read notices; and, for every flag event, nothing in anyone's inbox that
names a flagger to someone who may not know them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from api.relay import from_global_id
from models.accounts import User
from models.flags import Flag, IdentityView
from models.flags.escalation import escalate_overdue_flags
from models.flags.reminders import remind_flags_due
from models.notifications import NotificationEvent
from tests.client import REGISTER, error_codes
from tests.test_comments import ADD, add, resident
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    _grant,
    draft,
    gid,
    published,
    step,
)
from tests.test_finance import line, save_month
from tests.test_flags import raise_flag
from tests.test_flags import step as flag_step

INBOX = """query { notifications(first: 50) { edges { node { id kind text seq
  target { id
    ... on Flag { anonymous flaggerName raisedBy flagger { id name phone }
      supporters { id name phone } events { actor { id name phone } } }
    ... on Comment { body author { name } }
    ... on Disclosure { title mustRead } } } } } }"""
SUPPORT = """mutation($input: SupportFlagInput!) { supportFlag(input: $input) {
  flag { supportCount } errors { code } } }"""
HIDE = """mutation($input: ModerateCommentInput!) { hideComment(input: $input) {
  comment { status } errors { code } } }"""
FOLLOW = """mutation($input: FollowRegionInput!) { followRegion(input: $input) {
  following errors { code } } }"""


def pk(global_id: str) -> int:
    return int(from_global_id(global_id)[1])


FLAG_KINDS = {"FLAG_STATUS", "FLAG_ASSIGNED", "FLAG_ESCALATED", "FLAG_DUE_SOON"}


async def inbox(gql, token, lang=None) -> list[dict]:
    body = await gql(INBOX, token=token, lang=lang)
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["notifications"]["edges"]]


async def kinds(gql, token) -> list[str]:
    return [n["kind"] for n in await inbox(gql, token)]


async def outsider(gql, phone: str, village) -> str:
    """A registered user of `village` whose residency nobody verified."""
    out = await gql.mutate(
        "register",
        REGISTER,
        {
            "phone": phone,
            "password": "outsider-pass",
            "name": f"外村{phone[-2:]}",
            "villageId": gid("Region", village.id),
        },
    )
    return out["accessToken"]


# --- APPROVAL_NEEDED ---


async def test_a_submitted_disclosure_reaches_its_villages_supervisors_only(gql, demo):
    # a supervisor of another village must not hear of this one
    await outsider(gql, "13911117701", demo.villages[5])
    await _grant(gql, demo, "13911117701", "SUPERVISOR", demo.villages[5])
    elsewhere = await gql.login("13911117701", "outsider-pass")
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0], category="FINANCE", title="三月财务公开")
    out = await step(gql, "SubmitDisclosure", clerk, id=d["id"])
    assert out["errors"] == [], out

    supervisor = await gql.login(SUPERVISOR)
    notes = await inbox(gql, supervisor)
    assert [(n["kind"], n["text"]) for n in notes] == [
        ("APPROVAL_NEEDED", "有一项公开内容等待您审核")
    ]
    assert notes[0]["target"] == {"id": d["id"], "title": "三月财务公开", "mustRead": False}
    en = await inbox(gql, supervisor, lang="en")
    assert en[0]["text"] == "An item waits for your approval"
    for phone in (CLERK, OFFICIAL, INSPECTOR, VILLAGER, ADMIN):
        assert "APPROVAL_NEEDED" not in await kinds(gql, await gql.login(phone)), phone
    assert await kinds(gql, elsewhere) == []

    # the supervisor approves and publishes; a correction then waits for them again
    assert (await step(gql, "ApproveDisclosure", supervisor, id=d["id"]))["errors"] == []
    assert (await step(gql, "PublishDisclosure", clerk, id=d["id"]))["errors"] == []
    correct = """mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) {
      disclosure { id } errors { code field } } }"""
    fixed = await gql.mutate(
        "correctDisclosure",
        correct,
        {"id": d["id"], "reason": "金额笔误", "body": "更正后的金额。"},
        token=clerk,
    )
    assert fixed["errors"] == [], fixed
    notes = await inbox(gql, supervisor)
    assert notes[0]["kind"] == "APPROVAL_NEEDED"
    assert notes[0]["text"] == "一项已公开内容的更正等待您审核"
    assert "APPROVAL_NEEDED" not in await kinds(gql, clerk)


async def test_nobody_is_asked_to_approve_what_they_wrote(gql, demo):
    supervisor = await gql.login(SUPERVISOR)
    official = await gql.login(OFFICIAL)
    d = await draft(gql, official, demo.villages[0])
    assert (await step(gql, "SubmitDisclosure", official, id=d["id"]))["errors"] == []
    assert await kinds(gql, supervisor) == ["APPROVAL_NEEDED"]
    assert await kinds(gql, official) == []
    # a clerk who also sits on the supervision committee is not asked about their own draft
    await _grant(gql, demo, CLERK, "SUPERVISOR", demo.villages[0])
    clerk = await gql.login(CLERK)
    own = await draft(gql, clerk, demo.villages[0], title="文书兼监委会成员")
    assert (await step(gql, "SubmitDisclosure", clerk, id=own["id"]))["errors"] == []
    assert await kinds(gql, clerk) == []
    assert await kinds(gql, supervisor) == ["APPROVAL_NEEDED", "APPROVAL_NEEDED"]


# --- APPROVAL_NEEDED and RISK_HITS for a month ---


async def test_an_uploaded_month_waits_for_the_supervisor_and_its_hits_for_the_reviewers(gql, demo):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    # 6,000 yuan without a receipt, twice to the same payee: rules hit
    lines = [line(3, 6000, "某建材店"), line(4, 6000, "某建材店"), line(5, 100, "文具店")]
    saved = await save_month(gql, clerk, village, lines)
    count = len(saved["account"]["riskHits"] or [])
    stored_hits = await NotificationEvent.filter(kind="RISK_HITS").values_list("payload", flat=True)
    hits = stored_hits[0]["count"]
    assert hits >= 2 and count in (0, hits)  # the clerk reads no hit; the count is all of them

    supervisor, official = await gql.login(SUPERVISOR), await gql.login(OFFICIAL)
    mine = await inbox(gql, supervisor)
    assert sorted((n["kind"], n["text"]) for n in mine) == [
        ("APPROVAL_NEEDED", "2026-05 账目等待您审核"),
        ("RISK_HITS", f"2026-05 账目有 {hits} 处风险提示待核查"),
    ]
    assert all(n["target"] == {"id": gid("Region", village.id)} for n in mine)
    theirs = await inbox(gql, official, lang="en")
    assert [(n["kind"], n["text"]) for n in theirs] == [
        ("RISK_HITS", f"{hits} risk notes on the 2026-05 accounts wait for review")
    ]
    for phone in (CLERK, INSPECTOR, VILLAGER, ADMIN):
        assert await kinds(gql, await gql.login(phone)) == [], phone

    # one event per month version: saved again, told again; a month without hits, no RISK_HITS
    await save_month(gql, clerk, village, lines)
    assert await NotificationEvent.filter(kind="RISK_HITS").count() == 4
    versions = await NotificationEvent.filter(
        kind="RISK_HITS", user_id=demo.users["SUPERVISOR"].id
    ).values_list("payload", flat=True)
    assert sorted(p["version"] for p in versions) == [1, 2]
    await save_month(gql, clerk, village, [line(2, 100, "文具店", month=6)], month=6)
    june = [e.kind for e in await NotificationEvent.all() if e.payload.get("month") == "2026-06"]
    assert june == ["APPROVAL_NEEDED"]


# --- COMMENT_REPLY ---


async def test_a_reply_reaches_the_comments_author_and_says_nothing_of_its_text(gql, demo):
    clerk = await gql.login(CLERK)
    item = (await published(gql, clerk, demo.villages[0], title="修路方案公示"))["id"]
    villager = await gql.login(VILLAGER)
    neighbour = await resident(gql, demo, "13911117702")
    top = (await add(gql, villager, item, "路线为什么绕开村东？"))["comment"]

    await add(gql, villager, item, "补充：村东有二十户。", parent=top["id"])  # to oneself
    assert await kinds(gql, villager) == []
    reply = (await add(gql, neighbour, item, "我也想知道，某某家的地在那边。", parent=top["id"]))[
        "comment"
    ]
    answer = (await add(gql, clerk, item, "村东路段明年另行立项。", parent=top["id"]))["comment"]
    notes = await inbox(gql, villager)
    assert [(n["kind"], n["text"]) for n in notes] == [
        ("COMMENT_REPLY", "工作人员回复了您的评论（官方答复）"),
        ("COMMENT_REPLY", "有人回复了您的评论"),
    ]
    assert [n["target"]["id"] for n in notes] == [answer["id"], reply["id"]]
    en = await inbox(gql, villager, lang="en")
    assert [n["text"] for n in en] == [
        "An official answered your comment",
        "Someone replied to your comment",
    ]
    for token in (neighbour, clerk, await gql.login(OFFICIAL), await gql.login(SUPERVISOR)):
        assert "COMMENT_REPLY" not in await kinds(gql, token)

    # hidden after the event was recorded: the inbox shows neither its text nor any other
    official = await gql.login(OFFICIAL)
    hidden = await gql.mutate(
        "hideComment", HIDE, {"id": reply["id"], "reason": "涉及他人隐私"}, token=official
    )
    assert hidden["errors"] == []
    for lang in (None, "en"):
        body = await gql(INBOX, token=villager, lang=lang)
        assert "某某家的地" not in str(body)
        nodes = [e["node"] for e in body["data"]["notifications"]["edges"]]
        assert nodes[1]["target"]["body"] is None
    for payload in await NotificationEvent.filter(kind="COMMENT_REPLY").values_list(
        "payload", flat=True
    ):
        assert set(payload) == {"variant"}


async def test_a_reply_to_a_deleted_comment_tells_nobody(gql, demo):
    clerk = await gql.login(CLERK)
    item = (await published(gql, clerk, demo.villages[0], title="修路方案公示"))["id"]
    villager = await gql.login(VILLAGER)
    top = (await add(gql, villager, item, "路线为什么绕开村东？"))["comment"]
    delete = """mutation($input: DeleteCommentInput!) { deleteComment(input: $input) {
      errors { code } } }"""
    assert (await gql.mutate("deleteComment", delete, {"id": top["id"]}, token=villager))[
        "errors"
    ] == []
    body = await gql(
        ADD, {"input": {"targetId": item, "body": "答复", "parentId": top["id"]}}, token=clerk
    )
    assert error_codes(body) == [] and body["data"]["addComment"]["errors"] == [], body
    assert await kinds(gql, villager) == []


# --- MUST_READ_NOTICE ---


async def test_a_must_read_notice_reaches_the_residents_below_it_urgently(gql, demo):
    neighbour = await resident(gql, demo, "13911117703", village=1)  # same township
    unverified = await outsider(gql, "13911117704", demo.villages[0])
    far = await outsider(gql, "13911117705", demo.villages[5])
    official = await gql.login(OFFICIAL)
    plain = await published(
        gql, official, demo.townships[0], category="NOTICE", title="一般通知", body="周知。"
    )
    notice = await published(
        gql,
        official,
        demo.townships[0],
        category="NOTICE",
        title="关于秋季防火的通知",
        body="禁止野外用火。",
        mustRead=True,
    )
    # the village's clerk and supervisor live there too (verified residents)
    residents = [await gql.login(p) for p in (VILLAGER, CLERK, SUPERVISOR)]
    for token in [*residents, neighbour]:
        notes = await inbox(gql, token)
        assert [(n["kind"], n["text"]) for n in notes] == [
            ("MUST_READ_NOTICE", "有一条必读通知，请及时查看")
        ]
        assert notes[0]["target"]["id"] == notice["id"] and notes[0]["target"]["mustRead"]
        assert plain["id"] not in str(notes)
    for token in (unverified, far, official, await gql.login(INSPECTOR)):
        assert "MUST_READ_NOTICE" not in await kinds(gql, token)
    events = await NotificationEvent.filter(kind="MUST_READ_NOTICE")
    assert len(events) == 4 and all(e.payload == {"urgent": True} for e in events)

    # a retraction or a correction is not a second publication
    correct = """mutation($input: CorrectDisclosureInput!) { correctDisclosure(input: $input) {
      errors { code field } } }"""
    out = await gql.mutate(
        "correctDisclosure",
        correct,
        {"id": notice["id"], "reason": "补充时间", "body": "十月起禁止野外用火。"},
        token=official,
    )
    assert out["errors"] == []
    assert await NotificationEvent.filter(kind="MUST_READ_NOTICE").count() == 4


# --- flags: who is told, and what they may learn ---


async def identities(demo) -> list[str]:
    """What must never reach an unauthorised reader: the flagger's phone, name, user id."""
    flagger = demo.users["VILLAGER"]
    return [flagger.phone, flagger.name, gid("User", flagger.id)]


async def test_no_flag_notification_names_an_anonymous_flagger_to_anyone_unauthorised(gql, demo):
    clerk = await gql.login(CLERK)
    item = (await published(gql, clerk, demo.villages[0], title="修路工程决算公示"))["id"]
    villager = await gql.login(VILLAGER)
    supporter = await resident(gql, demo, "13911117706")
    bystander = await resident(gql, demo, "13911117707")
    follower = await outsider(gql, "13911117708", demo.villages[5])
    followed = await gql.mutate(
        "followRegion", FOLLOW, {"regionId": gid("Region", demo.villages[0].id)}, token=follower
    )
    assert followed["following"] is True

    flag = await raise_flag(gql, villager, item)
    support = await gql.mutate("supportFlag", SUPPORT, {"id": flag["id"]}, token=supporter)
    assert support["errors"] == []
    official, inspector = await gql.login(OFFICIAL), await gql.login(INSPECTOR)
    for name, data in (
        ("AcceptFlag", {"note": "已受理"}),
        ("StartInvestigation", {"note": "核账"}),
        ("ResolveFlag", {"response": "多出部分为追加的排水沟"}),
    ):
        out = await flag_step(gql, name, official, id=flag["id"], **data)
        assert "errors" not in out, out
    assert "errors" not in await flag_step(
        gql, "ReopenFlag", villager, id=flag["id"], reason="没有排水沟"
    )
    # a second flag goes overdue (escalated by the job) after its due-soon reminder
    second = await raise_flag(gql, villager, item, body="公示的工程量与实际不符，需要核实。")
    stored = await Flag.get(id=pk(second["id"]))
    assert await remind_flags_due(now=stored.due_at - timedelta(hours=1)) == 1
    assert await escalate_overdue_flags(stored.due_at + timedelta(minutes=1)) == 1

    # every kind was recorded, and each for the right people
    supporter_kinds = await kinds(gql, supporter)
    assert set(supporter_kinds) == {"FLAG_STATUS"} and len(supporter_kinds) == 4
    assert set(await kinds(gql, official)) == {"FLAG_ASSIGNED", "FLAG_DUE_SOON"}
    assert set(await kinds(gql, inspector)) == {"FLAG_ESCALATED"}
    assert len(await kinds(gql, inspector)) == 2
    mine = await kinds(gql, villager)  # their own reopening is not news to them
    assert mine.count("FLAG_STATUS") == 4 and set(mine) == {"FLAG_STATUS"}

    secret = await identities(demo)
    await IdentityView.all().delete()  # the officials' reads above were recorded
    for who, token in (
        ("clerk", clerk),
        ("supervisor", await gql.login(SUPERVISOR)),
        ("supporter", supporter),
        ("follower", follower),
        ("bystander", bystander),
        ("admin", await gql.login(ADMIN)),
    ):
        for lang in (None, "en"):
            body = await gql(INBOX, token=token, lang=lang)
            assert "errors" not in body, body
            for value in secret:
                assert value not in str(body), (who, value)
            for note in (e["node"] for e in body["data"]["notifications"]["edges"]):
                if note["kind"] in FLAG_KINDS:
                    assert who == "supporter"
                    assert note["target"]["flagger"] is None
                    assert note["target"]["supporters"] == []
                    assert note["target"]["flaggerName"] is None
    assert not await IdentityView.exists()  # nobody above was shown anybody

    # officials and inspectors see the flagger only through the audited field
    for token, role in ((official, "OFFICIAL"), (inspector, "INSPECTOR")):
        notes = [n for n in await inbox(gql, token) if n["kind"] in FLAG_KINDS]
        assert notes and all(n["target"]["flagger"]["name"] == secret[1] for n in notes)
        viewer = demo.users[role].id
        assert await IdentityView.filter(viewer_id=viewer).exists()
        for note in notes:
            assert secret[1] not in note["text"] and secret[0] not in note["text"]

    # what is stored for delivery (SMS, WeChat) names nobody either
    for payload in await NotificationEvent.filter(subject_type="Flag").values_list(
        "payload", flat=True
    ):
        assert set(payload) <= {"status", "due_at"}, payload
        assert not any(v in str(payload) for v in secret)


async def test_a_named_flagger_is_shown_by_name_only(gql, demo):
    clerk = await gql.login(CLERK)
    item = (await published(gql, clerk, demo.villages[0], title="修路工程决算公示"))["id"]
    flag = await raise_flag(gql, await gql.login(VILLAGER), item, anonymous=False)
    supporter = await resident(gql, demo, "13911117709")
    await gql.mutate("supportFlag", SUPPORT, {"id": flag["id"]}, token=supporter)
    await flag_step(gql, "AcceptFlag", await gql.login(OFFICIAL), id=flag["id"], note="已受理")
    body = await gql(INBOX, token=supporter)
    note = body["data"]["notifications"]["edges"][0]["node"]
    assert note["kind"] == "FLAG_STATUS" and note["target"]["flaggerName"] == "村民 赵大山"
    assert note["target"]["flagger"] is None
    flagger = demo.users["VILLAGER"]
    assert flagger.phone not in str(body) and gid("User", flagger.id) not in str(body)
    assert not await IdentityView.exists()


async def test_an_inspector_who_supported_a_flag_hears_both_in_one_insert(gql, demo):
    """The escalation tells the inspectors and the followers in one statement: a person in
    both sets (an inspector living in the village) gets both, numbered in order."""
    clerk = await gql.login(CLERK)
    item = (await published(gql, clerk, demo.villages[0], title="修路工程决算公示"))["id"]
    flag = await raise_flag(gql, await gql.login(VILLAGER), item)
    inspector = await gql.login(INSPECTOR)
    out = await gql.mutate("supportFlag", SUPPORT, {"id": flag["id"]}, token=inspector)
    assert out["errors"] == [], out
    stored = await Flag.get(id=pk(flag["id"]))
    assert await escalate_overdue_flags(stored.due_at + timedelta(minutes=1)) == 1
    user = await User.get(phone=INSPECTOR)
    got = await NotificationEvent.filter(user_id=user.id).order_by("seq").values_list("kind", "seq")
    assert sorted(k for k, _ in got) == ["FLAG_ESCALATED", "FLAG_STATUS"]
    assert [s for _, s in got] == [1, 2]


async def test_committee_flags_reach_the_officials_once_each(gql, demo):
    from tests.test_finance import APPROVE
    from tests.test_risk_lines import decide_all, month_input

    clerk, supervisor = await gql.login(CLERK), await gql.login(SUPERVISOR)
    village = demo.villages[0]
    await save_month(gql, clerk, village, [line(3, 6000, "某建材店"), line(4, 6000, "某建材店")])
    await decide_all(gql, supervisor, village, confirmed=True, note="确有重复付款")
    await NotificationEvent.all().delete()
    out = await gql.mutate("approveMonthlyAccount", APPROVE, month_input(village), token=supervisor)
    assert out["errors"] == [], out
    raised = sorted(await Flag.filter(by_committee=True).values_list("id", flat=True))
    assert len(raised) >= 2
    got = await NotificationEvent.filter(kind="FLAG_ASSIGNED").values_list("user_id", "subject_id")
    assert sorted(got) == [(demo.users["OFFICIAL"].id, f) for f in raised]
    # the member who confirmed the problems is the committee's voice, told nothing as a flagger
    assert await kinds(gql, supervisor) == [] and await kinds(gql, clerk) == []


async def test_a_deactivated_official_is_told_nothing(gql, demo):
    clerk = await gql.login(CLERK)
    item = (await published(gql, clerk, demo.villages[0], title="修路工程决算公示"))["id"]
    await User.filter(id=demo.users["OFFICIAL"].id).update(is_active=False)
    await raise_flag(gql, await gql.login(VILLAGER), item)
    assert not await NotificationEvent.filter(kind="FLAG_ASSIGNED").exists()


async def test_overlapping_sets_in_opposite_orders_do_not_deadlock(gql, demo):
    """Many transactions telling the same people two kinds, half with the sets swapped: each
    records both in one insert, locking users in id order, so none waits on another in a
    circle (two calls each would lock {a} then {b} against {b} then {a})."""
    from tortoise.transactions import in_transaction

    from notifications.events import notify_all, rows_for

    a, b = demo.users["OFFICIAL"].id, demo.users["INSPECTOR"].id

    async def one(n: int) -> None:
        first, second = ([a], [b, a]) if n % 2 else ([b], [a, b])
        async with in_transaction():
            await notify_all(
                [
                    rows_for(first, "FLAG_ESCALATED", "Flag", n),
                    rows_for(second, "FLAG_STATUS", "Flag", n, status="ESCALATED"),
                ]
            )
            await asyncio.sleep(0.01)  # hold the locks a while, as a real operation does

    await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(10))), timeout=20)
    for user in (a, b):
        seqs = await NotificationEvent.filter(user_id=user).values_list("seq", flat=True)
        assert sorted(seqs) == list(range(1, 16))


async def test_an_official_who_flags_is_not_assigned_their_own_flag(gql, demo):
    await outsider(gql, "13911117710", demo.villages[0])
    await _grant(gql, demo, "13911117710", "OFFICIAL", demo.townships[0])
    colleague = await gql.login("13911117710", "outsider-pass")
    item = (await published(gql, await gql.login(CLERK), demo.villages[0], title="决算公示"))["id"]
    await raise_flag(gql, await gql.login(OFFICIAL), item)
    assert await kinds(gql, colleague) == ["FLAG_ASSIGNED"]
    assert await kinds(gql, await gql.login(OFFICIAL)) == []


def test_every_text_renders_in_both_languages_from_what_the_payload_may_hold():
    from notifications.texts import TEXTS, VARIANTS, notification_text

    payload = {
        "status": "ACCEPTED",
        "due_at": "2026-06-01T00:00:00+00:00",
        "month": "2026-05",
        "count": 3,
        "villages_missing": 2,
        "items_missing": 5,
        "urgent": True,
    }
    cases = [(k, {}) for k in TEXTS] + [(k, {"variant": v}) for k, v in VARIANTS]
    for kind, extra in cases:
        for lang in ("zh", "en"):
            text = notification_text(kind, {**payload, **extra}, lang)
            assert text and "{" not in text and "}" not in text, (kind, extra, lang)
    assert {k for k, _ in VARIANTS} <= set(TEXTS)
