"""The `deliver` job end to end, run by the app's own worker: an SMS through the Aliyun adapter
and a WeChat message to providers on 127.0.0.1, each recorded as a Delivery; nothing sent
twice on a rerun; a channel that cannot reach the user skipped with its reason; throttling
retried; a refusal or the last attempt ending FAILED, visible to system admins only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tortoise.transactions import in_transaction

from api.accounts.codes import settle
from api.app import create_app
from api.settings import Settings
from models.accounts import User
from models.deliveries import Delivery, DeliveryStatus, WechatBinding
from models.jobs import Job, JobStatus
from models.jobs.queue import enqueue
from models.notifications import NotificationEvent, NotificationPreference
from notifications.channels import sms_reachable
from notifications.deliver import DELIVER
from notifications.events import notify
from scripts.seed_demo import seed_demo
from tests.client import GQL, error_codes
from tests.fake_http import FakeServer, Received, fake_server
from tests.test_channels_wechat import APP_ID, SECRET, WechatFake
from tests.test_disclosures import ADMIN, CLERK, OFFICIAL, VILLAGER
from tests.test_jobs import eventually, root_admin
from tests.test_sms_codes import LOGIN_CODE, REQUEST

SMS_TEMPLATES = {
    "NOTIFY_FLAG": "SMS_2001",
    "NOTIFY_TASK": "SMS_2002",
    "NOTIFY_NEWS": "SMS_2003",
    "DIGEST": "SMS_2004",
}


@dataclass
class Providers:
    """Aliyun's SMS API and WeChat's, on one local server."""

    wechat: WechatFake = field(default_factory=WechatFake)
    sms: list[Received] = field(default_factory=list)
    sms_answers: list[dict[str, Any]] = field(default_factory=list)  # next answers, in order

    def respond(self, req: Received) -> tuple[int, Any]:
        if req.headers.get("x-acs-action") == "SendSms":
            self.sms.append(req)
            if self.sms_answers:
                return 200, self.sms_answers.pop(0)
            return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.sms)}"}
        return self.wechat.respond(req)


@pytest.fixture
async def providers() -> AsyncIterator[tuple[Providers, FakeServer]]:
    fake = Providers()
    async with fake_server(fake.respond) as server:
        yield fake, server


@pytest.fixture
def settings(settings: Settings, providers) -> Settings:
    url = providers[1].url
    return settings.with_overrides(
        jobs=True,
        job_poll_seconds=0.02,
        job_lease_seconds=5.0,
        job_backoff_seconds=0.02,
        job_stop_grace_seconds=0.5,
        sms_provider="aliyun",
        sms_endpoint=url,
        sms_access_key_id="AKIDtest",
        sms_access_key_secret="secret",
        sms_sign_name="村务公开",
        sms_templates=SMS_TEMPLATES,
        sms_timeout_seconds=2.0,
        sms_notify_daily_limit=2,
        wechat_app_id=APP_ID,
        wechat_app_secret=SECRET,
        wechat_base_url=url,
        wechat_templates={"NOTIFY": "tmpl-notify", "DIGEST": "tmpl-digest"},
    )


async def villager(verified: bool = True) -> User:
    user = await User.get(phone=VILLAGER)
    # these tests enqueue `deliver` themselves: routing by preference sends nothing more,
    # and nobody else's phone (the demo verifies all) gets the scheduler's reminders
    await User.exclude(id=user.id).update(phone_verified_at=None)
    for category in ("MY_FLAGS", "REPLIES", "NEW_DISCLOSURES", "WORK", "NOTICES"):
        await NotificationPreference.update_or_create(
            user_id=user.id, category=category, defaults={"sms": "OFF", "wechat": "OFF"}
        )
    user.phone_verified_at = datetime.now(UTC) if verified else None
    await user.save(update_fields=["phone_verified_at"])
    return user


async def events_for(user: User, count: int = 1, status: str = "ACCEPTED") -> list[int]:
    async with in_transaction():
        for i in range(count):
            await notify([user.id], "FLAG_STATUS", "Flag", 100 + i, status=status)
    rows = await NotificationEvent.filter(user_id=user.id).order_by("-id").limit(count)
    return sorted(r.id for r in rows)


async def deliver(user: User, channel: str, event_ids: list[int], digest: bool = False, **kw):
    key = f"deliver:{channel}:{user.id}:{'digest' if digest else event_ids[0]}"
    payload = {"user_id": user.id, "channel": channel, "event_ids": event_ids, "digest": digest}
    return await enqueue(DELIVER, payload, unique_key=key, **kw)


async def job_ended(job_id: int) -> Job | None:
    job = await Job.get(id=job_id)
    return job if job.status in (JobStatus.DONE, JobStatus.DEAD) else None


async def test_an_sms_is_sent_once_recorded_and_a_rerun_sends_nothing(demo, providers):
    fake, _ = providers
    user = await villager()
    ids = await events_for(user)
    job = await run_to_end(user, "SMS", ids)
    assert job.status == JobStatus.DONE
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.SENT and row.provider == "aliyun"
    assert row.provider_message_id == "biz-1" and row.attempts == 1 and row.sent_at
    assert row.template == "NOTIFY_FLAG" and row.event_ids == ids and row.digest is False
    [req] = fake.sms
    assert req.query["PhoneNumbers"] == VILLAGER and req.query["TemplateCode"] == "SMS_2001"
    assert json.loads(req.query["TemplateParam"]) == {"what": "问题反映已受理"}
    assert req.query["OutId"] == f"delivery-{row.id}"
    event = await NotificationEvent.get(id=ids[0])
    assert event.delivered_at is not None

    # the same delivery again (a routing job run twice after this one ended): nothing sent
    again = await run_to_end(user, "SMS", ids)
    assert again.status == JobStatus.DONE and again.id != job.id
    assert len(fake.sms) == 1 and await Delivery.all().count() == 1


async def run_to_end(user: User, channel: str, ids: list[int], **kw: Any) -> Job:
    job_id = await deliver(user, channel, ids, **kw)
    assert job_id is not None
    return await eventually(lambda: job_ended(job_id))


async def test_an_unverified_phone_is_skipped_with_its_reason(demo, providers):
    fake, _ = providers
    user = await villager(verified=False)
    ids = await events_for(user)
    job = await run_to_end(user, "SMS", ids)
    assert job.status == JobStatus.DONE
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.SKIPPED and row.last_error == "PHONE_NOT_VERIFIED"
    assert fake.sms == []
    # what routing asks before enqueueing: nobody here is reachable by SMS until verified
    assert await sms_reachable([user.id]) == set()
    assert await sms_reachable([(await villager()).id, 10**6]) == {user.id}
    assert (await NotificationEvent.get(id=ids[0])).delivered_at is None


async def test_a_throttled_sms_is_retried_then_sent(demo, providers):
    fake, _ = providers
    fake.sms_answers = [{"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"}]
    user = await villager()
    ids = await events_for(user)
    job = await run_to_end(user, "SMS", ids)
    assert job.status == JobStatus.DONE and job.attempts == 2
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.SENT and row.attempts == 2
    assert row.provider_message_id == "biz-2" and row.last_error is None
    assert len(fake.sms) == 2


async def test_the_daily_limit_per_number_skips_further_notification_sms(demo, providers):
    fake, _ = providers
    user = await villager()
    ids = await events_for(user, 3)
    for event_id in ids:  # three separate messages; the limit is two a day
        await run_to_end(user, "SMS", [event_id])
    rows = await Delivery.all().order_by("id")
    assert [r.status for r in rows] == [DeliveryStatus.SENT] * 2 + [DeliveryStatus.SKIPPED]
    assert rows[2].last_error == "SMS_DAILY_LIMIT" and len(fake.sms) == 2


async def test_a_digest_is_one_message_counting_its_events(demo, providers):
    fake, _ = providers
    user = await villager()
    ids = await events_for(user, 3)
    await run_to_end(user, "SMS", ids, digest=True)
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.SENT and row.digest and row.template == "DIGEST"
    [req] = fake.sms
    assert req.query["TemplateCode"] == "SMS_2004"
    assert json.loads(req.query["TemplateParam"]) == {"count": "3"}
    assert await NotificationEvent.filter(id__in=ids, delivered_at__isnull=True).count() == 0


async def test_a_wechat_digest_counts_its_events_by_group(demo, providers):
    fake, _ = providers
    user = await villager()
    ids = await events_for(user, 2)
    async with in_transaction():
        await notify([user.id], "CLERK_REMINDER", "Region", 1, month="2026-11", count=3)
    ids += [(await NotificationEvent.filter(user_id=user.id).order_by("-id").first()).id]
    await WechatBinding.create(user_id=user.id, openid="openid-v", created_at=datetime.now(UTC))
    await run_to_end(user, "WECHAT", ids, digest=True)
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.SENT and row.template == "DIGEST"
    [send] = fake.wechat.sends
    assert send.json["template_id"] == "tmpl-digest"
    assert send.json["data"]["thing1"] == {"value": "共3条：问题反映2，待办1"}


DELIVERIES = """query($status: DeliveryStatus, $channel: DeliveryChannel) {
  deliveries(status: $status, channel: $channel) { edges { node {
    id channel provider template eventCount digest status providerMessageId attempts lastError
    createdAt sentAt user { id } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


async def test_a_refused_sms_ends_failed_visible_to_system_admins_only(
    gql, demo, settings, providers
):
    fake, _ = providers
    fake.sms_answers = [{"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法"}]
    user = await villager()
    ids = await events_for(user)
    job = await run_to_end(user, "SMS", ids)
    assert job.status == JobStatus.DONE  # a refusal is final: nothing to retry
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.FAILED and "SMS_TEMPLATE_ILLEGAL" in row.last_error
    assert len(fake.sms) == 1

    root = await root_admin(gql, settings)
    data = await gql.data(DELIVERIES, {"status": "FAILED"}, token=root)
    [node] = [e["node"] for e in data["deliveries"]["edges"]]
    assert node["channel"] == "SMS" and node["status"] == "FAILED" and node["attempts"] == 1
    assert node["eventCount"] == 1 and node["template"] == "NOTIFY_FLAG"
    assert "SMS_TEMPLATE_ILLEGAL" in node["lastError"] and node["sentAt"] is None
    assert (await gql.data(DELIVERIES, {"status": "SENT"}, token=root))["deliveries"]["edges"] == []
    on_wechat = await gql.data(DELIVERIES, {"channel": "WECHAT"}, token=root)
    on_sms = await gql.data(DELIVERIES, {"channel": "SMS"}, token=root)
    assert on_wechat["deliveries"]["edges"] == [] and len(on_sms["deliveries"]["edges"]) == 1
    assert node["user"] is None  # a flag's step: its recipient is a flagger (test_attacks_notify)
    assert (await gql.data(NODE, {"id": node["id"]}, token=root))["node"]["id"] == node["id"]

    for phone in (ADMIN, OFFICIAL, CLERK, VILLAGER):  # ADMIN: a county's admin, not system-wide
        token = await gql.login(phone)
        assert error_codes(await gql(DELIVERIES, {}, token=token)) == ["FORBIDDEN"]
        assert error_codes(await gql(NODE, {"id": node["id"]}, token=token)) == ["NOT_FOUND"]
    assert error_codes(await gql(DELIVERIES, {})) == ["UNAUTHENTICATED"]


async def test_out_of_attempts_a_throttled_sms_ends_failed_and_its_job_dead(demo, providers):
    fake, _ = providers
    fake.sms_answers = [{"Code": "Throttling.User", "Message": "slow down"}] * 2
    user = await villager()
    ids = await events_for(user)
    job = await run_to_end(user, "SMS", ids, max_attempts=2)
    assert job.status == JobStatus.DEAD
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 2
    assert "Throttling.User" in row.last_error and len(fake.sms) == 2


async def test_wechat_deliveries_bound_unbound_and_refused(demo, providers):
    fake, _ = providers
    user = await villager()
    ids = await events_for(user, 3)
    # not bound: skipped, WeChat never asked
    await run_to_end(user, "WECHAT", [ids[0]])
    await WechatBinding.create(user_id=user.id, openid="openid-v", created_at=datetime.now(UTC))
    await run_to_end(user, "WECHAT", [ids[1]])
    fake.wechat.send_answers = [{"errcode": 43101, "errmsg": "user refuse to accept the msg"}]
    job = await run_to_end(user, "WECHAT", [ids[2]])
    assert job.status == JobStatus.DONE  # refused: final, not retried
    rows = await Delivery.all().order_by("id")
    assert [(r.status, r.last_error) for r in rows][0] == (
        DeliveryStatus.SKIPPED,
        "NO_WECHAT_BINDING",
    )
    sent, refused = rows[1], rows[2]
    assert sent.status == DeliveryStatus.SENT and sent.provider == "wechat"
    assert sent.provider_message_id == "3001"
    assert refused.status == DeliveryStatus.FAILED and refused.last_error.startswith("43101")
    first = fake.wechat.sends[0].json
    assert first["touser"] == "openid-v" and first["template_id"] == "tmpl-notify"
    assert first["data"]["thing1"] == {"value": "问题反映已受理"}
    assert set(first["data"]) == {"thing1", "time2"}
    assert len(fake.wechat.sends) == 2 and len(fake.wechat.token_requests) == 1
    assert fake.sms == []


async def test_an_attempt_whose_outcome_is_unknown_is_sent_again(demo, providers):
    # the window left: the provider accepted, the process died before SENT was committed
    fake, _ = providers
    user = await villager()
    ids = await events_for(user)
    key = f"SMS:{user.id}:event:{ids[0]}"
    await Delivery.create(
        user_id=user.id,
        channel="SMS",
        event_ids=ids,
        dedup_key=key,
        status=DeliveryStatus.SENDING,
        attempts=1,
        created_at=datetime.now(UTC),
    )
    await run_to_end(user, "SMS", ids)
    [row] = await Delivery.all()
    assert row.status == DeliveryStatus.SENT and row.attempts == 2 and len(fake.sms) == 1
    assert fake.sms[0].query["OutId"] == f"delivery-{row.id}"  # the same id both times


@pytest.fixture
async def tencent_settings(settings: Settings, providers) -> Settings:
    return settings.with_overrides(
        sms_provider="tencent",
        sms_app_id="1400000001",
        sms_region="ap-guangzhou",
        sms_templates={**SMS_TEMPLATES, "LOGIN_CODE": "2100"},
    )


async def test_a_login_code_goes_through_the_tencent_adapter_and_signs_in(
    tencent_settings, providers
):

    fake, server = providers
    tencent_bodies: list[dict[str, Any]] = []
    respond = server.respond

    def with_tencent(req: Received) -> tuple[int, Any]:
        if req.headers.get("x-tc-action") == "SendSms":
            tencent_bodies.append(req.json)
            return 200, {
                "Response": {
                    "SendStatusSet": [{"SerialNo": "sn-1", "Code": "Ok", "Message": "ok"}],
                    "RequestId": "r",
                }
            }
        return respond(req)

    server.respond = with_tencent
    app = create_app(tencent_settings)
    async with app.router.lifespan_context(app):
        await seed_demo(tencent_settings, content=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            gql = GQL(c)
            body = await gql(REQUEST, {"input": {"purpose": "LOGIN", "phone": VILLAGER}})
            assert body["data"]["requestSmsCode"]["ok"] is True, body
            await settle()
            [sent] = tencent_bodies
            assert sent["PhoneNumberSet"] == ["+86" + VILLAGER] and sent["TemplateId"] == "2100"
            [code] = sent["TemplateParamSet"]
            assert len(code) == 6 and code.isdigit()
            login = await gql(LOGIN_CODE, {"input": {"phone": VILLAGER, "code": code}})
            assert login["data"]["loginWithSmsCode"]["errors"] == [], login
    assert fake.sms == []  # nothing went to the Aliyun stand-in
