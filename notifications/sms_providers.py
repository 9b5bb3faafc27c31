"""The SMS providers behind `SmsProvider`: Alibaba Cloud (Dysmsapi 2017-05-25) and Tencent
Cloud (SMS 2021-01-11), each through its official SDK, neither blocking the event loop.

Aliyun's SDK is called synchronously in a worker thread: its async call builds a TLS context
and loads the CA bundle on the loop for every request (measured: the loop stalled up to
350 ms per send), while its sync call keeps a pooled session. Tencent's SDK has an async
client on httpx, awaited on the loop. Neither SDK retries: a failed send raises `SmsError`
and the job retries with its own backoff (Aliyun's retry loop would time.sleep).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from notifications.sms import (
    LogSmsProvider,
    SmsError,
    SmsProvider,
    SmsResult,
    checked_params,
    checked_phone,
    masked,
)

log = logging.getLogger("cunwu.sms")

# The order of each template's variables, for Tencent (its parameters are a list, {1}, {2} …)
PARAM_ORDER: dict[str, tuple[str, ...]] = {
    "VERIFY_CODE": ("code",),
    "LOGIN_CODE": ("code",),
    "RESET_CODE": ("code",),
    "NOTIFY_FLAG": ("what",),
    "NOTIFY_TASK": ("what",),
    "NOTIFY_NEWS": ("what",),
    "DIGEST": ("count",),
}


@dataclass(frozen=True)
class SmsConfig:
    provider: str = "log"
    endpoint: str | None = None  # host[:port], or http://host:port for a local test server
    access_key_id: str = field(default="", repr=False)
    access_key_secret: str = field(default="", repr=False)
    sign_name: str = ""
    region: str = ""
    app_id: str = ""
    templates: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 10.0


def split_endpoint(endpoint: str | None, default: str) -> tuple[str, str]:
    """("https", host) by default; "http://127.0.0.1:8123" keeps its scheme (tests)."""
    if not endpoint:
        return "https", default
    if "://" in endpoint:
        scheme, host = endpoint.split("://", 1)
        return scheme.lower(), host.rstrip("/")
    return "https", endpoint.rstrip("/")


def template_id(config: SmsConfig, template: str) -> str:
    found = config.templates.get(template)
    if not found:
        raise SmsError("NO_TEMPLATE", f"no template id configured for {template}", retryable=False)
    return found


# Aliyun's answer codes (a 200 whose Code is not OK): these may pass if tried later
ALIYUN_RETRYABLE = {
    "isv.BUSINESS_LIMIT_CONTROL",  # the per-number flow control (minute, hour, day)
    "isp.SYSTEM_ERROR",
    "isv.SYSTEM_ERROR",
    "SignatureNonceUsed",
    "ServiceUnavailable",
    "InternalError",
}


def aliyun_retryable(code: str) -> bool:
    return code in ALIYUN_RETRYABLE or code.startswith("Throttling")


class AliyunSmsProvider:
    name = "aliyun"

    def __init__(self, config: SmsConfig) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.models import Config

        scheme, host = split_endpoint(config.endpoint, "dysmsapi.aliyuncs.com")
        self.config = config
        timeout_ms = int(config.timeout_seconds * 1000)
        self.client = Client(
            Config(
                access_key_id=config.access_key_id,
                access_key_secret=config.access_key_secret,
                endpoint=host,
                protocol=scheme,
                connect_timeout=timeout_ms,
                read_timeout=timeout_ms,
            )
        )

    async def send(
        self, phone: str, template: str, params: dict[str, str], *, ref: str | None = None
    ) -> SmsResult:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from darabonba.runtime import RuntimeOptions

        request = SendSmsRequest(
            phone_numbers=checked_phone(phone),
            sign_name=self.config.sign_name,
            template_code=template_id(self.config, template),
            template_param=json.dumps(checked_params(params), ensure_ascii=False),
            out_id=ref,
        )
        try:
            response = await asyncio.to_thread(
                self.client.send_sms_with_options, request, RuntimeOptions()
            )
        except Exception as exc:
            raise aliyun_error(exc) from exc
        body = response.body
        code = (body.code if body else None) or "EMPTY_ANSWER"
        if code != "OK":
            message = (body.message if body else None) or ""
            raise SmsError(code, message, retryable=aliyun_retryable(code))
        log.info("SMS %s to %s via aliyun: %s", template, masked(phone), body.biz_id)
        return SmsResult(self.name, body.biz_id)


QUERY = re.compile(r"\?[^\s'\"()]*")
NUMBER = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")


def scrubbed(text: str) -> str:
    """An SDK's error text without the request it quotes: Aliyun's network errors name the
    whole URL (number, template parameters such as a code, access key id). Errors become
    a delivery's and a job's `lastError`, which admins read, and the log."""
    return NUMBER.sub("1**********", QUERY.sub("?…", text))[:300]


def aliyun_error(exc: Exception) -> SmsError:
    """The SDK's exceptions: an HTTP error answer carries `code` and `status_code`; anything
    else (refused, reset, timed out) is the network's."""
    code = getattr(exc, "code", None)
    status = getattr(exc, "status_code", None)
    if code and status is not None:
        code = str(code)
        retryable = status >= 500 or status == 429 or aliyun_retryable(code)
        message = scrubbed(str(getattr(exc, "message", "") or exc))
        return SmsError(code, message, retryable=retryable)
    inner = getattr(exc, "inner_exception", None) or exc
    return SmsError("NETWORK", scrubbed(f"{type(inner).__name__}: {inner}"), retryable=True)


# Tencent's codes (a whole request's Error.Code, or one number's SendStatus.Code)
TENCENT_RETRYABLE_PREFIXES = (
    "LimitExceeded.PhoneNumber",  # the per-number frequency limits (30 s, hour, day)
    "RequestLimitExceeded",
    "InternalError",
    "ServerNetworkError",
    "ClientNetworkError",
    "ResourceUnavailable.ServiceUnavailable",
)


def tencent_retryable(code: str) -> bool:
    return code.startswith(TENCENT_RETRYABLE_PREFIXES)


class TencentSmsProvider:
    """The SDK's own async client (tencentcloud-sdk-python-common's httpx client, the
    `async` extra): no thread needed. One client per process; its pool is reused."""

    name = "tencent"

    def __init__(self, config: SmsConfig) -> None:
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111.sms_client_async import SmsClient

        scheme, host = split_endpoint(config.endpoint, "sms.tencentcloudapi.com")
        self.config = config
        http = HttpProfile(
            protocol=scheme,
            endpoint=host,
            reqTimeout=max(1, int(config.timeout_seconds)),
            keepAlive=True,  # one pooled connection, not a TLS handshake per message
        )
        profile = ClientProfile(httpProfile=http)
        # the region breaker would switch to a backup domain: never wanted with a set endpoint
        profile.disable_region_breaker = True
        self.client = SmsClient(
            Credential(config.access_key_id, config.access_key_secret),
            config.region or "ap-guangzhou",
            profile,
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def send(
        self, phone: str, template: str, params: dict[str, str], *, ref: str | None = None
    ) -> SmsResult:
        from tencentcloud.sms.v20210111.models import SendSmsRequest

        values = checked_params(params)
        order = PARAM_ORDER.get(template) or tuple(sorted(values))
        request = SendSmsRequest()
        request.PhoneNumberSet = ["+86" + checked_phone(phone)]
        request.SmsSdkAppId = self.config.app_id
        request.SignName = self.config.sign_name
        request.TemplateId = template_id(self.config, template)
        request.TemplateParamSet = [values.get(k, "") for k in order]
        if ref:
            request.SessionContext = ref
        try:
            response = await self.client.SendSms(request)
        except Exception as exc:
            raise tencent_error(exc) from exc
        statuses = response.SendStatusSet or []
        if not statuses:
            raise SmsError("EMPTY_ANSWER", "no send status", retryable=True)
        status = statuses[0]
        if status.Code != "Ok":
            code = status.Code or "UNKNOWN"
            raise SmsError(code, status.Message or "", retryable=tencent_retryable(code))
        log.info("SMS %s to %s via tencent: %s", template, masked(phone), status.SerialNo)
        return SmsResult(self.name, status.SerialNo)


def tencent_error(exc: Exception) -> SmsError:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )

    if isinstance(exc, TencentCloudSDKException):
        code = str(exc.get_code() or "UNKNOWN")
        message = str(exc.get_message() or "")
        return SmsError(code, scrubbed(message), retryable=tencent_retryable(code))
    return SmsError("NETWORK", scrubbed(f"{type(exc).__name__}: {exc}"), retryable=True)


def build_sms_provider(config: SmsConfig, reveal: bool = True) -> SmsProvider:
    """Once per process (Services.build): the SDK clients keep their connection pools.
    `reveal`: the development provider may log (and keep) what it sends; not in production."""
    if config.provider == "aliyun":
        return AliyunSmsProvider(config)
    if config.provider == "tencent":
        return TencentSmsProvider(config)
    return LogSmsProvider(reveal=reveal)
