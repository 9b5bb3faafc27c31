"""Attacks on notifications (fan-out, routing, digest, deliveries, WeChat binding,
preferences) by a hostile client, a curious system admin and someone with database access.
Each attempt stays as a test; the ones that found a hole name it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from api.jobs.periodic import register_handlers
from api.settings import Settings
from models.accounts import User
from models.deliveries import Delivery, DeliveryStatus, WechatBinding
from models.disclosures import Follow
from models.jobs import Job
from models.jobs.handlers import HANDLERS, JobContext
from models.notifications import (
    DigestRun,
    DisclosureMute,
    NotificationEvent,
    NotificationPreference,
)
from models.policy import Viewer
from notifications.deliver import DELIVER
from notifications.digest import send_digests
from notifications.events import notify
from notifications.fanout import fan_out
from notifications.sms import SmsError
from notifications.wechat import WechatClient, WechatConfig, token_store
from tests.client import error_codes
from tests.fake_http import FakeServer, fake_server
from tests.test_channels_wechat import APP_ID, SECRET
from tests.test_deliveries import (
    SMS_TEMPLATES,
    Providers,
    events_for,
    run_to_end,
    villager,
)
from tests.test_disclosures import CLERK, OFFICIAL, VILLAGER, gid, published
from tests.test_fanout import SHANGHAI, UPDATE, person, pk, run_jobs
from tests.test_flags import raise_flag, step
from tests.test_jobs import JOBS, eventually, root_admin
from tests.test_sms_codes import REQUEST

DELIVERIES = """{ deliveries(first: 50) { edges { node { id template eventCount
  user { id name phone } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


@pytest.fixture
async def providers() -> AsyncIterator[tuple[Providers, FakeServer]]:
    """Aliyun's SMS API and WeChat's on 127.0.0.1 (as in test_deliveries)."""
    fake = Providers()
    async with fake_server(fake.respond) as server:
        yield fake, server


def no_worker(test: Any) -> Any:
    """The test runs the jobs itself: no worker or scheduler in the app."""
    test.no_worker = True
    return test


@pytest.fixture
def settings(settings: Settings, providers, request) -> Settings:
    url = providers[1].url
    return settings.with_overrides(
        jobs=not getattr(request.function, "no_worker", False),
        job_poll_seconds=0.02,
        job_lease_seconds=5.0,
        job_backoff_seconds=0.02,
        sms_provider="aliyun",
        sms_endpoint=url,
        sms_access_key_id="AKIDtest",
        sms_access_key_secret="secret",
        sms_sign_name="村务公开",
        sms_templates=SMS_TEMPLATES,
        sms_notify_daily_limit=2,
        wechat_app_id=APP_ID,
        wechat_app_secret=SECRET,
        wechat_base_url=url,
        wechat_templates={"NOTIFY": "tmpl-notify", "DIGEST": "tmpl-digest"},
    )


async def only_villager_reachable() -> User:
    """The demo verifies every phone: only the villager keeps a verified one here."""
    user = await User.get(phone=VILLAGER)
    await User.exclude(id=user.id).update(phone_verified_at=None)
    await User.filter(id=user.id).update(phone_verified_at=datetime.now(UTC))
    return user


def context(app: Any, payload: dict[str, Any], now: datetime | None = None) -> JobContext:
    """The deliver handler as a worker calls it (job 0: no row, so each try is the last)."""
    register_handlers()
    now = now or datetime.now(UTC)
    return JobContext(
        0,
        DELIVER,
        payload,
        1,
        now,
        lambda: now,
        Viewer.for_system("job:deliver"),
        app.state.services,
    )


# --- a curious system admin ------------------------------------------------------------


async def test_deliveries_and_jobs_never_name_a_flagger_to_a_system_admin(
    gql, demo, settings, providers, app
):
    """HOLE (fixed): a system admin may not learn who flagged (the audit log hides it from
    admins), yet `deliveries` named the villager who got a NOTIFY_FLAG SMS the moment a flag
    was accepted, and the `notify_dispatch`/`deliver` jobs carried the flagger's user id."""
    fake, _ = providers
    user = await only_villager_reachable()
    item = await published(gql, await gql.login(CLERK), demo.villages[0])
    flag = await raise_flag(gql, await gql.login(VILLAGER), item["id"])
    accepted = await step(gql, "AcceptFlag", await gql.login(OFFICIAL), id=flag["id"], note="收到")
    assert accepted["data"]["acceptFlag"]["errors"] == []

    async def sent() -> Delivery | None:
        return await Delivery.filter(
            user_id=user.id, status=DeliveryStatus.SENT, template="NOTIFY_FLAG"
        ).first()

    await eventually(sent)
    assert fake.sms  # the flagger was told

    root = await root_admin(gql, settings)
    listed = await gql.data(DELIVERIES, token=root)
    nodes = [e["node"] for e in listed["deliveries"]["edges"]]
    flagged = [n for n in nodes if n["template"] == "NOTIFY_FLAG"]
    assert flagged and all(n["user"] is None for n in flagged)
    for kind in ("notify_dispatch", "deliver"):
        jobs = await gql.data(JOBS, {"k": kind, "first": 50}, token=root)
        shown = [e["node"]["payload"] for e in jobs["jobs"]["edges"]]
        assert shown and not any({"user_id", "users"} & set(p) for p in shown), shown
    # an official's own work notification still names its recipient to the admin
    await User.filter(phone=OFFICIAL).update(phone_verified_at=datetime.now(UTC))
    official = await User.get(phone=OFFICIAL)
    await notify([official.id], "FLAG_ASSIGNED", "Flag", 1)
    await eventually(lambda: Delivery.filter(user_id=official.id, status="SENT").first())
    listed = await gql.data(DELIVERIES, token=root)
    users = [e["node"]["user"] for e in listed["deliveries"]["edges"]]
    assert {"id": gid("User", official.id), "name": official.name, "phone": OFFICIAL} in users


async def test_guessed_delivery_and_notification_ids_answer_like_missing_ones(gql, demo, providers):
    user = await villager()
    ids = await events_for(user)
    await run_to_end(user, "SMS", ids)
    row = await Delivery.get(user_id=user.id)
    clerk = await gql.login(CLERK)
    for guess in (gid("Delivery", row.id), gid("Notification", ids[0]), gid("Delivery", 10**9)):
        assert error_codes(await gql(NODE, {"id": guess}, token=clerk)) == ["NOT_FOUND"]
        assert error_codes(await gql(NODE, {"id": guess})) == ["NOT_FOUND"]


# --- someone with database access -------------------------------------------------------


async def test_a_forged_deliver_job_cannot_send_to_a_phone_of_its_choosing(demo, providers, app):
    """A row written into the job table: its user's events only, to that user's own
    verified number; a phone in the payload is ignored, another user's events are gone."""
    fake, _ = providers
    user = await villager()
    other = await User.get(phone=CLERK)
    theirs = await notify_one(other.id)
    out = await HANDLERS[DELIVER](
        context(app, {"user_id": user.id, "channel": "SMS", "event_ids": [theirs]})
    )
    assert out == "gone" and fake.sms == []
    mine = await events_for(user)
    forged = {
        "user_id": user.id,
        "channel": "SMS",
        "event_ids": mine,
        "phone": "13912345678",
        "params": {"what": "http://evil.cn"},
        "template": "VERIFY_CODE",
    }
    assert await HANDLERS[DELIVER](context(app, forged)) == "SENT"
    [(phone, template, params)] = [
        (r.query["PhoneNumbers"], r.query["TemplateCode"], json.loads(r.query["TemplateParam"]))
        for r in fake.sms
    ]
    assert phone == VILLAGER and template == "SMS_2001" and params == {"what": "问题反映已受理"}


async def notify_one(user_id: int) -> int:
    await notify([user_id], "FLAG_STATUS", "Flag", 7, status="ACCEPTED")
    return (await NotificationEvent.filter(user_id=user_id).order_by("-id").first()).id


async def test_a_payload_cannot_put_user_text_or_a_link_into_an_sms(demo, providers, app):
    """A payload with a status that is not one of ours (a link, a name) falls back to a
    fixed label: only our words reach the template's parameter."""
    fake, _ = providers
    user = await villager()
    for status in ("访问 evil.cn 领补贴", "赵大山", "{status}"):
        await notify([user.id], "FLAG_STATUS", "Flag", 9, status=status)
    await notify([user.id], "COMMENT_REPLY", "Comment", 3, body="点击 www.x.top", name="张三")
    ids = (
        await NotificationEvent.filter(user_id=user.id).order_by("id").values_list("id", flat=True)
    )
    for event_id in ids:
        await HANDLERS[DELIVER](
            context(app, {"user_id": user.id, "channel": "SMS", "event_ids": [event_id]})
        )
        await Delivery.all().update(sms_day=None)  # past the daily limit of two
    sent = [json.loads(r.query["TemplateParam"])["what"] for r in fake.sms]
    assert sent == ["问题反映有新进展"] * 3 + ["您的留言有新回复"]


async def test_concurrent_deliveries_to_one_number_keep_the_daily_limit(demo, providers, app):
    """Ten deliver jobs for one villager at once (a flood of flag steps, several workers):
    no more SMS than the daily limit (two here); the rest end SKIPPED, visible."""
    fake, _ = providers
    user = await villager()
    ids = await events_for(user, 10)
    outs = await asyncio.gather(
        *(
            HANDLERS[DELIVER](
                context(app, {"user_id": user.id, "channel": "SMS", "event_ids": [i]})
            )
            for i in ids
        )
    )
    assert sorted(outs).count("SENT") == 2 and len(fake.sms) == 2
    assert (
        await Delivery.filter(status=DeliveryStatus.SKIPPED, last_error="SMS_DAILY_LIMIT").count()
        == 8
    )


async def test_a_deactivated_user_gets_no_sms_even_from_a_forged_job(demo, providers, app):
    fake, _ = providers
    user = await villager()
    ids = await events_for(user)
    await User.filter(id=user.id).update(is_active=False)
    out = await HANDLERS[DELIVER](
        context(app, {"user_id": user.id, "channel": "SMS", "event_ids": ids})
    )
    assert out == "USER_INACTIVE" and fake.sms == []


# --- preferences: junk input ------------------------------------------------------------


async def test_preference_junk_answers_user_errors_never_an_internal_error(gql, demo):
    token = await gql.login(VILLAGER)
    before = await NotificationPreference.all().count()
    huge = [{"category": "MY_FLAGS", "sms": "OFF"}] * 5000
    cases = [
        {"categories": huge},
        {"mutedDisclosureCategories": ["FINANCE"] * 5000},
        {"categories": [{"category": "NOPE"}]},
        {"categories": [None]},
        {"categories": [{"category": "MY_FLAGS", "sms": "LOUD"}]},
        {"categories": None, "mutedDisclosureCategories": None},
        {"mutedDisclosureCategories": ["FINANCE", None]},
        {"categories": "MY_FLAGS"},
    ]
    for case in cases:  # (the GraphQL layer refuses the ill-typed ones first)
        body = await gql(UPDATE, {"input": case}, token=token)
        codes = error_codes(body)
        payload = (body.get("data") or {}).get("updateNotificationPreferences")
        if payload is not None:
            codes = [e["code"] for e in payload["errors"]]
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, (case, body)
        assert len(json.dumps(body)) < 20_000, case  # no answer with an error per entry
    assert await NotificationPreference.all().count() == before


# --- two schedulers ---------------------------------------------------------------------


async def test_two_schedulers_running_the_digest_at_once_send_it_once(gql, demo):
    user = await only_villager_reachable()
    for n in range(3):
        await notify([user.id], "NEW_DISCLOSURE", "Disclosure", n, category="FARMING")
    local = datetime.now(SHANGHAI)
    evening = local.replace(hour=20, minute=0, second=5, microsecond=0)
    if evening < local:
        evening += timedelta(days=1)
    at = evening.astimezone(UTC)
    counts = await asyncio.gather(send_digests(at), send_digests(at + timedelta(seconds=1)))
    # (the app's own scheduler may have taken tonight's digest first: three schedulers)
    assert sum(counts) <= 1
    assert await Job.filter(kind=DELIVER).count() == 1
    assert await DigestRun.filter(user_id=user.id, events__gt=0).count() == 1


# --- WeChat -----------------------------------------------------------------------------


async def test_junk_in_the_shared_token_key_does_not_stop_wechat(settings, providers):
    """HOLE (fixed): anything unreadable under the token key (another tool's value, a
    half-written one) made every WeChat send fail until the key expired, or forever
    without a TTL; it is now refreshed over. Only our prefix's key is read."""
    if not settings.redis_url:
        return  # the SQLite half keeps the token in its own table (test_channels_wechat)
    fake, server = providers
    redis = Redis.from_url(settings.redis_url)
    try:
        config = WechatConfig(
            app_id=APP_ID,
            app_secret=SECRET,
            base_url=server.url,
            templates={"NOTIFY": "tmpl-notify"},
        )
        store = token_store(redis, settings.redis_prefix, APP_ID)
        key = f"{settings.redis_prefix}wechat:token:{APP_ID}"
        # another deployment's prefix holding a token of its choosing is never read
        await redis.set(
            f"other:wechat:token:{APP_ID}", json.dumps({"token": "FORGED", "expires_at": 4e9})
        )
        for junk in (b"not json", json.dumps({"token": 1}), json.dumps([1, 2]), b"\xff\xfe"):
            await redis.set(key, junk)
            client = WechatClient(config, store)
            try:
                assert await client.send_subscribe("openid-x", "tmpl-notify", {"thing1": "x"})
            finally:
                await client.aclose()
        tokens = {r.query["access_token"] for r in fake.wechat.sends}
        assert "FORGED" not in tokens and tokens <= set(fake.wechat.issued)
    finally:
        await redis.delete(f"other:wechat:token:{APP_ID}")
        await redis.aclose()


BIND = """mutation($input: BindWechatInput!) { bindWechat(input: $input) {
  bound errors { code field } } }"""
UNBIND = "mutation { unbindWechat { bound removed errors { code } } }"


async def test_wechat_takeover_and_unbinding_another_user_fail(gql, demo, providers):
    fake, _ = providers
    villager_ = await gql.login(VILLAGER)
    clerk = await gql.login(CLERK)
    fake.wechat.sessions = {"v-code": "openid-v", "steal": "openid-v"}
    assert (await gql.mutate("bindWechat", BIND, {"code": "v-code"}, token=villager_))["bound"]
    # the clerk replays the villager's used code, then one resolving to the same WeChat
    for code in ("v-code", "steal", "openid-v", "x" * 129, " "):
        out = await gql.mutate("bindWechat", BIND, {"code": code}, token=clerk)
        assert out["bound"] is False and out["errors"], code
    [binding] = await WechatBinding.all()
    assert binding.user_id == demo.users["VILLAGER"].id and binding.openid == "openid-v"
    # unbinding takes no user: the clerk removes nothing of the villager's
    assert (await gql.data(UNBIND, token=clerk))["unbindWechat"]["removed"] is False
    assert await WechatBinding.all().count() == 1
    assert error_codes(await gql(UNBIND)) == ["UNAUTHENTICATED"]


# --- fan-out ----------------------------------------------------------------------------


@no_worker
async def test_a_retracted_version_is_never_announced_and_racing_fanouts_record_once(
    gql, demo, settings
):
    clerk = await gql.login(CLERK)
    gone = await published(gql, clerk, demo.villages[0], title="错发的公示")
    out = await gql.mutate(
        "retractDisclosure",
        "mutation($input: RetractDisclosureInput!) { retractDisclosure(input: $input) {"
        " errors { code } } }",
        {"id": gone["id"], "reason": "发错了"},
        token=clerk,
    )
    assert out["errors"] == []
    assert await run_jobs("fanout_disclosure") == 1
    assert await NotificationEvent.filter(kind="NEW_DISCLOSURE").count() == 0

    # a deactivated resident and a deactivated follower hear nothing
    resident = await person(settings, "13911112001", demo.villages[0], resident=True)
    follower = await person(settings, "13911112002", demo.villages[5], resident=False)
    await Follow.create(user_id=follower.id, region_id=demo.townships[0].id)
    await User.filter(id__in=[resident.id, follower.id]).update(is_active=False)
    d = await published(gql, clerk, demo.villages[0], title="修路决算")
    [version] = [
        j.payload["version"]
        for j in await Job.filter(kind="fanout_disclosure")
        if j.payload["disclosure_id"] == pk(d["id"])
    ]
    # three workers on the same job at once (a lease ran out twice): one set of events
    now = datetime.now(UTC)
    counts = await asyncio.gather(*(fan_out(pk(d["id"]), version, now) for _ in range(3)))
    assert sorted(counts)[:2] == [0, 0] and counts.count(0) == 2
    told = await NotificationEvent.filter(kind="NEW_DISCLOSURE").values_list("user_id", flat=True)
    assert len(told) == len(set(told)) == max(counts)
    assert resident.id not in told and follower.id not in told
    assert demo.users["VILLAGER"].id in told


async def test_sms_codes_asked_for_a_number_do_not_use_up_its_notifications(
    gql, demo, providers, app
):
    """Someone asking login codes for a flagger's number all day cannot spend the
    number's notification SMS and so silence the news of their flag."""
    fake, _ = providers
    user = await villager()
    body = await gql(REQUEST, {"input": {"phone": VILLAGER, "purpose": "LOGIN"}})
    assert body["data"]["requestSmsCode"]["ok"] is True
    for _ in range(5):  # the rest of the day's codes (the per-minute limit skipped here)
        await Delivery.create(
            user_id=user.id,
            channel="SMS",
            template="LOGIN_CODE",
            status="SENT",
            dedup_key=f"code:{_}",
            created_at=datetime.now(UTC),
            phone=VILLAGER,
        )
    ids = await events_for(user, 2)
    outs = [
        await HANDLERS[DELIVER](
            context(app, {"user_id": user.id, "channel": "SMS", "event_ids": [i]})
        )
        for i in ids
    ]
    assert outs == ["SENT", "SENT"]


async def test_marking_a_huge_list_read_is_a_user_error(gql, demo):
    token = await gql.login(VILLAGER)
    mine = await notify_one(demo.users["VILLAGER"].id)
    ids = [gid("Notification", mine)] + [gid("Notification", 10**6 + n) for n in range(33_000)]
    body = await gql(
        "mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input)"
        " { marked errors { code field } } }",
        {"input": {"ids": ids}},
        token=token,
    )
    payload = (body.get("data") or {}).get("markNotificationsRead")
    codes = [e["code"] for e in payload["errors"]] if payload else error_codes(body)
    assert codes and "INTERNAL_SERVER_ERROR" not in codes, body
    assert (await NotificationEvent.get(id=mine)).read_at is None


AUDIT = """query($r: ID!, $a: String) { auditLog(regionId: $r, action: $a) {
  edges { node { action actor { id } } } } }"""


async def test_who_follows_a_village_is_not_for_its_clerk_or_villagers(gql, demo):
    """Follows are audited (region.follow); only the auditors of the region read that."""
    token = await gql.login(VILLAGER)
    township = gid("Region", demo.townships[0].id)
    await gql.mutate(
        "followRegion",
        "mutation($input: FollowRegionInput!) { followRegion(input: $input) { following } }",
        {"regionId": township},
        token=token,
    )
    for phone in (CLERK, VILLAGER, "13800000005"):  # clerk, villager, supervisor
        other = await gql.login(phone)
        body = await gql(AUDIT, {"r": township, "a": "region.follow"}, token=other)
        assert error_codes(body) == ["FORBIDDEN"], phone
    assert error_codes(await gql(AUDIT, {"r": township, "a": "region.follow"})) == [
        "UNAUTHENTICATED"
    ]


# --- races from one hostile client ------------------------------------------------------


async def test_concurrent_preference_updates_never_fail_inside(gql, demo):
    """The same new choice and muted set sent many times at once (a double tap, a retry
    loop): each answers cleanly and one setting results."""
    token = await gql.login(VILLAGER)
    change = {
        "categories": [
            {"category": "REPLIES", "sms": "OFF"},
            {"category": "WORK", "wechat": "OFF"},
        ],
        "mutedDisclosureCategories": ["FINANCE", "FARMING"],
    }
    bodies = await asyncio.gather(*(gql(UPDATE, {"input": change}, token=token) for _ in range(8)))
    for body in bodies:
        assert "errors" not in body, body
        assert body["data"]["updateNotificationPreferences"]["errors"] == []
    user = demo.users["VILLAGER"]
    assert await NotificationPreference.filter(user_id=user.id).count() == 2
    muted = await DisclosureMute.filter(user_id=user.id).values_list("category", flat=True)
    assert sorted(muted) == ["FARMING", "FINANCE"]


async def test_two_accounts_binding_one_wechat_at_once_bind_one(gql, demo, providers):
    fake, _ = providers
    fake.wechat.sessions = {"a": "openid-same", "b": "openid-same"}
    tokens = [await gql.login(VILLAGER), await gql.login(CLERK)]
    outs = await asyncio.gather(
        gql(BIND, {"input": {"code": "a"}}, token=tokens[0]),
        gql(BIND, {"input": {"code": "b"}}, token=tokens[1]),
    )
    payloads = [o["data"]["bindWechat"] for o in outs]
    assert all("errors" not in o for o in outs), outs
    assert sorted(p["bound"] for p in payloads) == [False, True]
    [refused] = [p for p in payloads if not p["bound"]]
    assert [e["code"] for e in refused["errors"]] == ["WECHAT_BOUND_ELSEWHERE"]
    assert await WechatBinding.all().count() == 1


async def test_odd_notification_and_delivery_ids_answer_not_found(gql, demo, settings):
    """Ids a client makes up (not numbers, negative, past 64 bits): like a missing id for
    the owner and the system admin alike, never an internal error."""
    import base64

    def raw(text: str) -> str:
        return base64.b64encode(text.encode()).decode().rstrip("=")

    root = await root_admin(gql, settings)
    villager_ = await gql.login(VILLAGER)
    odd = ["abc", "-1", "0", "1e3", "99999999999999999999999", "9223372036854775808", "1 OR 1=1"]
    for token in (root, villager_):
        for kind in ("Notification", "Delivery"):
            for pk_ in odd:
                body = await gql(NODE, {"id": raw(f"{kind}:{pk_}")}, token=token)
                assert error_codes(body) == ["NOT_FOUND"], (kind, pk_, body)
        body = await gql(
            "mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input)"
            " { marked errors { code field } } }",
            {"input": {"ids": [raw("Notification:99999999999999999999999")]}},
            token=token,
        )
        payload = (body.get("data") or {}).get("markNotificationsRead")
        codes = [e["code"] for e in payload["errors"]] if payload else error_codes(body)
        assert codes and "INTERNAL_SERVER_ERROR" not in codes, body


async def test_an_odd_openid_from_wechat_is_a_user_error_and_binds_nothing(gql, demo, providers):
    """WeChat (or whatever answers at its address) hands back an openid too long for the
    column, or not an id at all: a clear refusal, never an internal error."""
    fake, _ = providers
    token = await gql.login(VILLAGER)
    odd = {"long": "o" * 65, "spaces": "open id", "newline": "abc\ndef", "empty": ""}
    fake.wechat.sessions = dict(odd)
    for code in odd:
        out = await gql.mutate("bindWechat", BIND, {"code": code}, token=token)
        assert out["bound"] is False, code
        assert [e["code"] for e in out["errors"]] == ["WECHAT_CODE_INVALID"], code
    assert await WechatBinding.all().count() == 0


async def test_replies_cannot_use_up_the_sms_that_tells_a_flagger_of_their_flag(
    demo, providers, app
):
    """HOLE (fixed): another villager replying to a flagger's comments (or notices, or
    digests) spent the number's daily notification SMS, and the answer to the flag was then
    skipped: on a feature phone, the complaint's answer never arrived. A flag's news now
    has its own allowance."""
    fake, _ = providers
    user = await villager()
    for n in range(3):
        await notify([user.id], "COMMENT_REPLY", "Comment", n)
    replies = await NotificationEvent.filter(user_id=user.id).order_by("id")
    outs = [
        await HANDLERS[DELIVER](
            context(app, {"user_id": user.id, "channel": "SMS", "event_ids": [e.id]})
        )
        for e in replies
    ]
    assert outs == ["SENT", "SENT", "SMS_DAILY_LIMIT"]  # the limit is two a day here
    [answer] = await events_for(user)
    out = await HANDLERS[DELIVER](
        context(app, {"user_id": user.id, "channel": "SMS", "event_ids": [answer]})
    )
    assert out == "SENT"
    assert [r.query["TemplateCode"] for r in fake.sms][-1] == SMS_TEMPLATES["NOTIFY_FLAG"]


async def test_a_provider_unreachable_never_puts_the_number_or_a_code_in_errors(
    gql, demo, providers, app, settings
):
    """HOLE (fixed): Aliyun's SDK names the whole request URL in a network error:
    `PhoneNumbers=…&TemplateParam=…`. That text became the Delivery's and the job's
    `lastError` (system admins read both) and the log: a flagger's number beside a delivery
    whose recipient is hidden, or a code where an admin could read it."""
    from notifications.sms_providers import AliyunSmsProvider
    from tests.test_channels_sms import config, tencent

    async with fake_server(lambda req: (200, {})) as server:
        url = server.url  # gone after this block: connection refused
    async with tencent(url) as tencent_provider:
        for provider in (AliyunSmsProvider(config("aliyun", url)), tencent_provider):
            with pytest.raises(SmsError) as caught:
                await provider.send(VILLAGER, "VERIFY_CODE", {"code": "914273"}, ref="d-1")
            text = str(caught.value)
            assert caught.value.retryable and VILLAGER not in text and "914273" not in text
            assert "TemplateParam" not in text and "AccessKey" not in text, text


async def test_a_digest_holding_a_flags_news_hides_its_recipient_too(
    gql, demo, providers, app, settings
):
    """A villager who takes their flags' news as a digest: that digest's recipient is a
    flagger as well; a digest of news alone still names its recipient."""
    user = await villager()
    flags = await events_for(user, 2)
    await notify([user.id], "NEW_DISCLOSURE", "Disclosure", 1, category="FARMING")
    news = (await NotificationEvent.filter(user_id=user.id).order_by("-id").first()).id
    for ids in (flags + [news], [news]):
        payload = {"user_id": user.id, "channel": "SMS", "event_ids": ids, "digest": True}
        assert await HANDLERS[DELIVER](context(app, payload)) == "SENT"
        await Delivery.all().update(sms_day=None)  # past the daily limit
    root = await root_admin(gql, settings)
    listed = await gql.data(DELIVERIES, token=root)
    shown = {e["node"]["eventCount"]: e["node"]["user"] for e in listed["deliveries"]["edges"]}
    assert shown[3] is None and shown[1]["id"] == gid("User", user.id)
