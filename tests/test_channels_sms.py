"""Each SMS adapter against a provider endpoint on 127.0.0.1: the request the provider would
receive (action, signature headers, sign name, template, parameters, number), the answer
parsed, and its errors mapped to retryable or not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from api.settings import Settings, SettingsError
from notifications.sms import LogSmsProvider, SmsError
from notifications.sms_providers import (
    AliyunSmsProvider,
    SmsConfig,
    TencentSmsProvider,
    build_sms_provider,
)
from tests.fake_http import Received, fake_server

TEMPLATES = {"VERIFY_CODE": "SMS_100001", "NOTIFY_FLAG": "SMS_100002", "DIGEST": "SMS_100003"}


def config(provider: str, url: str) -> SmsConfig:
    return SmsConfig(
        provider=provider,
        endpoint=url,
        access_key_id="AKIDtest",
        access_key_secret="secret-test",
        sign_name="村务公开",
        region="ap-guangzhou",
        app_id="1400000001",
        templates=TEMPLATES,
        timeout_seconds=2,
    )


@asynccontextmanager
async def tencent(url: str) -> AsyncIterator[TencentSmsProvider]:
    provider = TencentSmsProvider(config("tencent", url))
    try:
        yield provider
    finally:
        await provider.aclose()


def aliyun_ok(req: Received) -> tuple[int, dict]:
    return 200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "r1"}


async def test_aliyun_sends_a_signed_sendsms_and_reads_the_bizid():
    async with fake_server(aliyun_ok) as server:
        provider = build_sms_provider(config("aliyun", server.url))
        assert isinstance(provider, AliyunSmsProvider)
        result = await provider.send("13800000006", "VERIFY_CODE", {"code": "123456"}, ref="d-42")
    assert result.provider == "aliyun" and result.message_id == "900619746936498440^0"
    [req] = server.received
    assert req.method == "POST" and req.path == "/"
    assert req.headers["x-acs-action"] == "SendSms"
    assert req.headers["x-acs-version"] == "2017-05-25"
    # signed (ACS3-HMAC-SHA256 over the canonical request) with our key id
    auth = req.headers["authorization"]
    assert auth.startswith("ACS3-HMAC-SHA256 Credential=AKIDtest,SignedHeaders=")
    assert "Signature=" in auth and "x-acs-date" in auth and "x-acs-signature-nonce" in auth
    assert req.headers["x-acs-content-sha256"]
    assert req.query["PhoneNumbers"] == "13800000006"
    assert req.query["SignName"] == "村务公开"
    assert req.query["TemplateCode"] == "SMS_100001"
    assert json.loads(req.query["TemplateParam"]) == {"code": "123456"}
    assert req.query["OutId"] == "d-42"


@pytest.mark.parametrize(
    ("answer", "code", "retryable"),
    [
        ((200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"}), None, True),
        ((200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法"}), None, False),
        ((200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "号码格式错误"}), None, False),
        ((200, {"Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "签名不合法"}), None, False),
        ((400, {"Code": "Throttling.User", "Message": "Request was denied"}), None, True),
        ((403, {"Code": "InvalidAccessKeyId.NotFound", "Message": "no key"}), None, False),
        ((503, {"Code": "ServiceUnavailable", "Message": "busy"}), None, True),
    ],
)
async def test_aliyun_errors_map_to_retryable_or_not(answer, code, retryable):
    async with fake_server(lambda req: answer) as server:
        provider = AliyunSmsProvider(config("aliyun", server.url))
        with pytest.raises(SmsError) as caught:
            await provider.send("13800000006", "NOTIFY_FLAG", {"what": "问题反映已受理"})
    assert caught.value.code == answer[1]["Code"]
    assert caught.value.retryable is retryable


def tencent_ok(req: Received) -> tuple[int, dict]:
    return 200, {
        "Response": {
            "SendStatusSet": [
                {
                    "SerialNo": "5000:1045710669157053657849499619",
                    "PhoneNumber": "+8613800000006",
                    "Fee": 1,
                    "SessionContext": "d-7",
                    "Code": "Ok",
                    "Message": "send success",
                    "IsoCode": "CN",
                }
            ],
            "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
        }
    }


async def test_tencent_sends_a_tc3_signed_sendsms_and_reads_the_serialno():
    async with fake_server(tencent_ok) as server:
        provider = build_sms_provider(config("tencent", server.url))
        assert isinstance(provider, TencentSmsProvider)
        try:
            result = await provider.send("13800000006", "DIGEST", {"count": "3"}, ref="d-7")
        finally:
            await provider.aclose()
    assert result.provider == "tencent"
    assert result.message_id == "5000:1045710669157053657849499619"
    [req] = server.received
    assert req.method == "POST" and req.path == "/"
    assert req.headers["x-tc-action"] == "SendSms"
    assert req.headers["x-tc-version"] == "2021-01-11"
    assert req.headers["x-tc-region"] == "ap-guangzhou"
    auth = req.headers["authorization"]
    assert auth.startswith("TC3-HMAC-SHA256 Credential=AKIDtest/")
    assert "/sms/tc3_request" in auth and "Signature=" in auth
    body = req.json
    assert body["PhoneNumberSet"] == ["+8613800000006"]
    assert body["SmsSdkAppId"] == "1400000001"
    assert body["SignName"] == "村务公开"
    assert body["TemplateId"] == "SMS_100003"
    assert body["TemplateParamSet"] == ["3"]
    assert body["SessionContext"] == "d-7"


def tencent_status(code: str) -> dict:
    ok = tencent_ok(None)[1]  # type: ignore[arg-type]
    ok["Response"]["SendStatusSet"][0].update(Code=code, Message=code, SerialNo="")
    return ok


@pytest.mark.parametrize(
    ("answer", "code", "retryable"),
    [
        (tencent_status("LimitExceeded.PhoneNumberThirtySecondLimit"), None, True),
        (tencent_status("FailedOperation.TemplateIncorrectOrUnapproved"), None, False),
        (tencent_status("InvalidParameterValue.IncorrectPhoneNumber"), None, False),
        (
            {
                "Response": {
                    "Error": {"Code": "RequestLimitExceeded", "Message": "slow"},
                    "RequestId": "x",
                }
            },
            "RequestLimitExceeded",
            True,
        ),
        (
            {
                "Response": {
                    "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"},
                    "RequestId": "x",
                }
            },
            "AuthFailure.SignatureFailure",
            False,
        ),
    ],
)
async def test_tencent_errors_map_to_retryable_or_not(answer, code, retryable):
    expected = code or answer["Response"]["SendStatusSet"][0]["Code"]
    async with fake_server(lambda req: (200, answer)) as server:
        async with tencent(server.url) as provider:
            with pytest.raises(SmsError) as caught:
                await provider.send("13800000006", "NOTIFY_FLAG", {"what": "问题反映已受理"})
    assert caught.value.code == expected
    assert caught.value.retryable is retryable


async def test_an_unreachable_provider_is_a_retryable_network_error():
    async with fake_server(aliyun_ok) as server:
        url = server.url
    # the server is gone: connection refused
    async with tencent(url) as tencent_provider:
        for provider in (AliyunSmsProvider(config("aliyun", url)), tencent_provider):
            with pytest.raises(SmsError) as caught:
                await provider.send("13800000006", "VERIFY_CODE", {"code": "123456"})
            assert caught.value.retryable is True, provider.name


@pytest.mark.parametrize(
    "params",
    [
        {"what": "详见 https://evil.example/x"},
        {"what": "www.example.com"},
        {"what": "点 t.cn 查看"},
        {"what": "这是一段远远超过二十个字的模板参数内容不应被发送出去"},
    ],
)
async def test_links_and_long_parameters_are_refused_before_anything_is_sent(params):
    async with fake_server(aliyun_ok) as server, tencent(server.url) as tencent_provider:
        for provider in (
            AliyunSmsProvider(config("aliyun", server.url)),
            tencent_provider,
            LogSmsProvider(),
        ):
            with pytest.raises(SmsError) as caught:
                await provider.send("13800000006", "NOTIFY_FLAG", params)
            assert caught.value.retryable is False
    assert server.received == []


async def test_a_bad_number_or_an_unconfigured_template_is_not_retried():
    async with fake_server(aliyun_ok) as server:
        provider = AliyunSmsProvider(config("aliyun", server.url))
        with pytest.raises(SmsError) as bad_number:
            await provider.send("+1 555 0100", "VERIFY_CODE", {"code": "1"})
        with pytest.raises(SmsError) as no_template:
            await provider.send("13800000006", "RESET_CODE", {"code": "1"})
    assert (bad_number.value.code, bad_number.value.retryable) == ("BAD_NUMBER", False)
    assert (no_template.value.code, no_template.value.retryable) == ("NO_TEMPLATE", False)
    assert server.received == []


def test_settings_read_the_provider_and_each_template_from_the_environment(tmp_path):
    env = {
        "DATA_DIR": str(tmp_path),
        "SMS_PROVIDER": "tencent",
        "SMS_ACCESS_KEY_ID": "AKID",
        "SMS_ACCESS_KEY_SECRET": "s",
        "SMS_SIGN_NAME": "村务公开",
        "SMS_APP_ID": "1400",
        "SMS_ENDPOINT": "http://127.0.0.1:9",
        "SMS_TEMPLATE_VERIFY_CODE": "101",
        "SMS_TEMPLATE_DIGEST": "102",
        "WECHAT_TEMPLATE_NOTIFY": "tmpl-abc",
    }
    s = Settings.from_env(env)
    assert s.sms_provider == "tencent" and s.sms_endpoint == "http://127.0.0.1:9"
    assert s.sms_templates == {"VERIFY_CODE": "101", "DIGEST": "102"}
    assert s.wechat_templates == {"NOTIFY": "tmpl-abc"}
    assert "AKID" not in repr(s) and s.sms_notify_daily_limit == 5
    with pytest.raises(SettingsError, match="SMS_APP_ID"):
        Settings.from_env({**env, "SMS_APP_ID": ""})
    with pytest.raises(SettingsError, match="SMS_PROVIDER"):
        Settings.from_env({**env, "SMS_PROVIDER": "carrier-pigeon"})
    assert Settings.from_env({"DATA_DIR": str(tmp_path)}).sms_provider == "log"


async def test_services_build_the_configured_provider_once_and_close_it(tmp_path):
    from api.services import Services

    base = Settings(data_dir=tmp_path, media_root=tmp_path / "media", secret_key="k" * 40)
    built = {}
    for name in ("log", "aliyun", "tencent"):
        settings = base.with_overrides(
            sms_provider=name,
            sms_endpoint="http://127.0.0.1:9",
            sms_access_key_id="AKID",
            sms_access_key_secret="s",
            sms_sign_name="村务公开",
            sms_app_id="1400",
            sms_templates=TEMPLATES,
        )
        services = Services.build(settings, None)
        built[name] = type(services.sms)
        assert services.wechat is None  # no WeChat app id: no client
        await services.aclose()
    assert built == {
        "log": LogSmsProvider,
        "aliyun": AliyunSmsProvider,
        "tencent": TencentSmsProvider,
    }
