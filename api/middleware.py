"""Pure ASGI middleware (BaseHTTPMiddleware would break tortoise's context variables)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("cunwu.access")
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Give each request an id (the client's X-Request-ID if sane), echo it, log one line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
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
