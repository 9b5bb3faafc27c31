"""The in-app inbox over HTTP: a flag's steps reach its flagger, read in their language,
marked read by them alone; pages, sequence numbers, and nothing that names a flagger to
someone who may not know them."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from api.relay import from_global_id
from models.notifications import NotificationEvent
from notifications.events import notify, notify_many
from tests.client import error_codes
from tests.test_disclosures import CLERK, OFFICIAL, SUPERVISOR, VILLAGER, draft, published
from tests.test_flags import gid, raise_flag, step

INBOX = """query($unread: Boolean, $first: Int, $after: String) {
  unreadNotificationCount
  notifications(unreadOnly: $unread, first: $first, after: $after) {
    edges { cursor node { id kind text seq createdAt readAt
      target { id ... on Flag { status flagger { name } supporters { name } } } } }
    pageInfo { hasNextPage endCursor } } }"""
MARK = """mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) {
  marked unreadCount errors { code field } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Notification { text } } }"


@pytest.fixture
async def subject(gql, demo):
    token = await gql.login(CLERK)
    d = await published(gql, token, demo.villages[0], category="VILLAGE_AFFAIRS", title="修路决算")
    return d["id"]


def pk(global_id: str) -> int:
    return int(from_global_id(global_id)[1])


async def inbox(gql, token, lang=None, **variables):
    data = await gql.data(INBOX, variables, token=token, lang=lang)
    return data["unreadNotificationCount"], [e["node"] for e in data["notifications"]["edges"]]


async def accepted_flag(gql, subject):
    villager = await gql.login(VILLAGER)
    flag = await raise_flag(gql, villager, subject)
    official = await gql.login(OFFICIAL)
    body = await step(gql, "AcceptFlag", official, id=flag["id"], note="已受理")
    assert body["data"]["acceptFlag"]["errors"] == [], body
    return villager, official, flag


async def test_a_flag_accepted_reaches_the_flagger_and_only_they_mark_it(gql, demo, subject):
    villager, official, flag = await accepted_flag(gql, subject)
    count, notes = await inbox(gql, villager)
    assert count == 1 and len(notes) == 1
    note = notes[0]
    assert note["kind"] == "FLAG_STATUS" and note["text"] == "您关注的问题反映：已受理"
    assert note["target"]["id"] == flag["id"] and note["target"]["status"] == "ACCEPTED"
    assert note["readAt"] is None and note["seq"] == 1

    # someone else: cannot read it, cannot mark it, and their own inbox does not hold it
    clerk = await gql.login(CLERK)
    assert error_codes(await gql(NODE, {"id": note["id"]}, token=clerk)) == ["NOT_FOUND"]
    assert error_codes(await gql(NODE, {"id": note["id"]}, token=official)) == ["NOT_FOUND"]
    refused = await gql.mutate("markNotificationsRead", MARK, {"ids": [note["id"]]}, token=clerk)
    assert refused["errors"] == [{"code": "NOT_FOUND", "field": "ids"}]
    assert all(n["id"] != note["id"] for n in (await inbox(gql, clerk))[1])
    # marking everything of one's own leaves others' notifications alone
    await gql.mutate("markNotificationsRead", MARK, {"all": True}, token=official)
    assert (await inbox(gql, villager))[0] == 1

    # the owner reads it by id, then marks it read, twice (the second changes nothing)
    found = await gql.data(NODE, {"id": note["id"]}, token=villager)
    assert found["node"]["text"] == note["text"]
    done = await gql.mutate("markNotificationsRead", MARK, {"ids": [note["id"]]}, token=villager)
    assert done == {"marked": 1, "unreadCount": 0, "errors": []}
    count, notes = await inbox(gql, villager)
    assert count == 0 and notes[0]["readAt"] is not None
    first_read = notes[0]["readAt"]
    again = await gql.mutate("markNotificationsRead", MARK, {"ids": [note["id"]]}, token=villager)
    assert again == {"marked": 0, "unreadCount": 0, "errors": []}
    assert (await inbox(gql, villager))[1][0]["readAt"] == first_read
    assert (await inbox(gql, villager, unread=True))[1] == []


async def test_signed_out_callers_are_refused(gql, demo, subject):
    await accepted_flag(gql, subject)
    assert error_codes(await gql(INBOX)) == ["UNAUTHENTICATED"]
    body = await gql(MARK, {"input": {"all": True}})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    note = await NotificationEvent.get(kind="FLAG_STATUS")
    assert error_codes(await gql(NODE, {"id": gid("Notification", note.id)})) == ["NOT_FOUND"]
    assert note.read_at is None


async def test_marking_is_all_or_nothing(gql, demo, subject):
    villager, official, flag = await accepted_flag(gql, subject)
    await step(gql, "StartInvestigation", official, id=flag["id"], note="核账")
    _, mine = await inbox(gql, villager)
    theirs = (await inbox(gql, official))[1][0]["id"]
    bad = [mine[0]["id"], theirs]
    refused = await gql.mutate("markNotificationsRead", MARK, {"ids": bad}, token=villager)
    assert refused["errors"] == [{"code": "NOT_FOUND", "field": "ids"}]
    missing = await gql.mutate(
        "markNotificationsRead", MARK, {"ids": [gid("Notification", 999999)]}, token=villager
    )
    assert missing["errors"] == refused["errors"]  # someone else's answers like a missing one
    wrong = await gql.mutate("markNotificationsRead", MARK, {"ids": [flag["id"]]}, token=villager)
    assert wrong["errors"][0]["code"] == "WRONG_KIND"
    assert (await inbox(gql, villager))[0] == 2


async def test_pages_newest_first_with_increasing_seq(gql, demo, subject):
    villager, official, flag = await accepted_flag(gql, subject)
    user = demo.users["VILLAGER"].id
    for n in range(6):
        due = f"2026-0{n + 1}-01T00:00:00+00:00"
        await notify([user], "FLAG_DUE_SOON", "Flag", pk(flag["id"]), due_at=due)
    seen, after = [], None
    while True:
        data = await gql.data(INBOX, {"first": 3, "after": after}, token=villager)
        page = data["notifications"]
        seen += [e["node"]["seq"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    _, notes = await inbox(gql, villager, first=1)
    assert notes[0]["text"] == "一条问题反映将于 2026-06-01 08:00 到期，尚未答复"
    body = await gql(INBOX, {"after": "not-a-cursor"}, token=villager)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_english_text(gql, demo, subject):
    villager, official, flag = await accepted_flag(gql, subject)
    _, notes = await inbox(gql, villager, lang="en")
    assert notes[0]["text"] == "A flag you follow: accepted"
    _, theirs = await inbox(gql, official, lang="en-GB,en;q=0.9")
    assert theirs[0]["kind"] == "FLAG_ASSIGNED" and theirs[0]["text"] == "A new flag waits for you"


async def test_every_kind_recorded_today_has_its_own_text(gql, demo):
    from notifications.texts import TEXTS

    kinds = {"FLAG_STATUS", "FLAG_ASSIGNED", "FLAG_ESCALATED", "FLAG_DUE_SOON"}
    kinds |= {"REVIEW_RETURNED", "CLERK_REMINDER", "MISSING_ITEMS_REPORT", "NEW_DISCLOSURE"}
    kinds |= {"APPROVAL_NEEDED", "RISK_HITS", "COMMENT_REPLY", "MUST_READ_NOTICE"}
    kinds |= {"DISCLOSURE_RETRACTED", "MUST_READ_REMINDER", "FARMING_WARNING"}
    assert set(TEXTS) == kinds
    clerk = demo.users["CLERK"].id
    village = demo.villages[0].id
    await notify_many(
        "MISSING_ITEMS_REPORT",
        "Region",
        [([clerk], village, {"month": "2026-11", "villages_missing": 2, "items_missing": 5})],
    )
    await notify([clerk], "CLERK_REMINDER", "Region", village, month="2026-12", count=3)
    token = await gql.login(CLERK)
    _, notes = await inbox(gql, token)
    assert [n["text"] for n in notes] == [
        "2026-12 有 3 项应公开事项即将到期",
        "2026-11：2 个村共 5 项未按期公开",
    ]
    assert notes[0]["target"]["id"] == gid("Region", village)


async def test_the_flagger_never_shows_to_a_clerk_told_about_the_flag(gql, demo, subject):
    villager, official, flag = await accepted_flag(gql, subject)
    await step(gql, "StartInvestigation", official, id=flag["id"], note="核账")
    # every flag event recorded so far carries only the status or a due time
    for payload in await NotificationEvent.filter(subject_type="Flag").values_list(
        "payload", flat=True
    ):
        assert set(payload) <= {"status", "due_at"}, payload
    # a clerk and a supervisor told about the flag (no such event exists yet; fan-out will)
    staff = [demo.users["CLERK"].id, demo.users["SUPERVISOR"].id]
    await notify(staff, "FLAG_STATUS", "Flag", pk(flag["id"]), status="INVESTIGATING")
    name = demo.users["VILLAGER"].name
    for phone in (CLERK, SUPERVISOR):
        token = await gql.login(phone)
        for lang in (None, "en"):
            body = await gql(INBOX, {}, token=token, lang=lang)
            assert "errors" not in body
            assert name not in str(body) and VILLAGER not in str(body)
            note = body["data"]["notifications"]["edges"][0]["node"]
            assert note["target"]["flagger"] is None and note["target"]["supporters"] == []


async def test_targets_follow_what_the_reader_may_see(gql, demo):
    clerk = await gql.login(CLERK)
    d = await draft(gql, clerk, demo.villages[0])
    users = [demo.users["VILLAGER"].id, demo.users["CLERK"].id]
    await notify(users, "REVIEW_RETURNED", "Disclosure", pk(d["id"]), returned="DISCLOSURE")
    _, notes = await inbox(gql, await gql.login(VILLAGER))
    assert notes[0]["target"] is None and notes[0]["text"] == "您提交的内容被退回修改"
    _, notes = await inbox(gql, clerk)
    assert notes[0]["target"] == {"id": d["id"]}  # the author sees their draft


async def test_seq_stays_unique_under_concurrent_inserts(gql, demo):
    users = [demo.users[r].id for r in ("VILLAGER", "CLERK", "OFFICIAL")]

    async def one(n: int) -> None:
        async with in_transaction():
            await notify(users if n % 2 else users[::-1], "FLAG_ASSIGNED", "Flag", n)
            await notify_many("FLAG_DUE_SOON", "Flag", [(users[:2], n, {}), (users[:1], n, {})])

    await asyncio.gather(*(one(n) for n in range(8)))
    for user in users:
        seqs = (
            await NotificationEvent.filter(user_id=user)
            .order_by("id")
            .values_list("seq", flat=True)
        )
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
