"""Pure ASGI middleware (BaseHTTPMiddleware would break tortoise's context variables)."""

from __future__ import annotations

import logging
import os
import re
import time
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.messages import pick_language, translate

access_log = logging.getLogger("cunwu.access")
error_log = logging.getLogger("cunwu.errors")
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
STATUS_CODES = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "RATE_LIMITED"}


def status_code_name(status: int) -> str:
    if status >= 500:
        return "INTERNAL_SERVER_ERROR"
    return STATUS_CODES.get(status, "BAD_USER_INPUT")


def error_body(status: int, request_id: str, accept_language: str | None) -> bytes:
    """What an error answers when the layer that made it said nothing in JSON: a GraphQL
    error with its code and the request id (Starlette's 404/405, a bare media 404, a crash)."""
    code = status_code_name(status)
    lang = pick_language(accept_language)
    message = translate(code, lang, request_id=request_id, retry_after=1)
    error = {"message": message, "extensions": {"code": code, "requestId": request_id}}
    return orjson.dumps({"errors": [error]})


def is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return b"json" in value.lower()
    return False


def log_access(scope: Scope, status: int, started: float, request_id: str) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    access_log.info(
        "%s %s %s %s %d %.1fms rid=%s",
        client[0] if client else "-",
        scope.get("method", "WS"),
        scope.get("path"),
        scope.get("http_version", "-"),
        status,
        (time.perf_counter() - started) * 1000,
        request_id,
    )


class RequestIdMiddleware:
    """Give each request an id (the client's X-Request-ID if sane), echo it, log one line.

    Every error leaves as JSON with a code and the request id: an error response without a
    JSON body gets one, and an exception no inner layer handled answers a JSON 500 (its
    traceback logged with the id) instead of Starlette's plain text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if SAFE_ID.match(incoming) else os.urandom(16).hex()
        accept_language = headers.get(b"accept-language", b"").decode("latin-1") or None
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0
        replace = False  # an error without a JSON body: its body is swapped for ours
        head = scope.get("method") == "HEAD"

        async def send_with_id(message: Message) -> None:
            nonlocal status, replace
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = [*message.get("headers", [])]
                if status >= 400 and scope["type"] == "http" and not is_json(response_headers):
                    replace = True
                    body = b"" if head else error_body(status, request_id, accept_language)
                    kept = [
                        (k, v)
                        for k, v in response_headers
                        if k.lower()
                        not in (b"content-type", b"content-length", b"content-encoding")
                    ]
                    response_headers = [
                        *kept,
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ]
                    message = {**message, "headers": response_headers}
                    message["headers"].append((b"x-request-id", request_id.encode()))
                    await send(message)
                    await send({"type": "http.response.body", "body": body})
                    return
                message["headers"] = [*response_headers, (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body" and replace:
                return  # the original body of a replaced error
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error rid=%s", request_id)
            if status or scope["type"] != "http":
                raise  # the response has begun: nothing else can be said
            await send_with_id({"type": "http.response.start", "status": 500, "headers": []})
        finally:
            log_access(scope, status, started, request_id)
            request_id_var.reset(token)


def proxy_networks(trusted: tuple[str, ...]) -> list[IPv4Network | IPv6Network]:
    """`TRUSTED_PROXIES` entries (addresses or CIDR networks) as networks; ValueError if bad."""
    return [ip_network(entry.strip(), strict=False) for entry in trusted if entry.strip()]


class ProxyHeadersMiddleware:
    """The client's address from `X-Forwarded-For`, believed only from a trusted proxy.

    From any other peer the header is ignored (the peer is the client). From a trusted
    proxy the hops are read from the right: the nearest one that is not itself a trusted
    proxy is the client. Only installed when `TRUSTED_PROXIES` is set.
    """

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        self.app = app
        self.networks = proxy_networks(trusted)

    def trusts(self, host: str) -> bool:
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self.trusts(client[0]):
            forwarded = b",".join(
                value for name, value in scope["headers"] if name == b"x-forwarded-for"
            ).decode("latin-1")
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            host = next((hop for hop in reversed(hops) if not self.trusts(hop)), None)
            if host is None and hops:
                host = hops[0]
            if host is not None and _is_address(host):
                scope = dict(scope, client=(host, 0))
        await self.app(scope, receive, send)


def _is_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True
