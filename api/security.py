"""Headers every answer carries, and how large a request body may be. Pure ASGI middleware.

Security headers: no sniffing, no referrer, never framed, and a Content-Security-Policy.
An answer that set its own policy (a page: GraphiQL, the home page) keeps it; every other
answer — JSON, files, errors — gets `default-src 'none'`: nothing in it may load or run.

Body limits, by content type, counted as the body arrives (a lying Content-Length or a
chunked body is cut off where it passes the limit; nothing over it is ever buffered):
JSON GraphQL requests small, multipart uploads as large as their files may be, any other
body none at all (the routes refuse it unread: 415 at /graphql, 405 elsewhere). Past its
limit a body is answered 413, a JSON error with its reason, the limit and the request id,
with `Connection: close`; then what the client is still sending is read and thrown away,
for a bounded time and number of bytes, before the connection closes (see `drain`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.messages import pick_language, translate

# JSON answers, files and errors: nothing to load, nothing to run, never in a frame
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# no-referrer rather than strict-origin-when-cross-origin: nothing here needs the Referer
# (CSRF is guarded by the preflight header and JSON content type), and signed media URLs
# carry their signature in the query string, which must not travel to another site
REFERRER_POLICY = b"no-referrer"


def csp_hash(text: str) -> str:
    """The CSP source that allows exactly this inline <script> or <style> body."""
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, hsts_seconds: int = 0) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_seconds}".encode() if hsts_seconds > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", REFERRER_POLICY),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", STRICT_CSP.encode()),
                ]
                if self.hsts is not None:
                    wanted.append((b"strict-transport-security", self.hsts))
                headers += [(k, v) for k, v in wanted if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


JSON_TYPES = ("application/json", "application/graphql-response+json")
BODYLESS = (b"GET", b"HEAD", b"OPTIONS")


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """`limits`: the largest body per kind ("json", "multipart"); any other body: none."""

    def __init__(self, app: ASGIApp, json_bytes: int, multipart_bytes: int) -> None:
        self.app = app
        self.limits = {"json": json_bytes, "multipart": multipart_bytes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].encode() in BODYLESS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if not (b"transfer-encoding" in headers or (declared and declared != "0")):
            await self.app(scope, receive, send)  # no body: the route decides
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        media_type = content_type.split(";")[0].strip()
        if media_type in JSON_TYPES:
            limit = self.limits["json"]
        elif media_type == "multipart/form-data":
            limit = self.limits["multipart"]
        else:
            # form posts, text/plain (what a cross-site page can send) and the rest: the
            # route refuses them unread (405, or the endpoint's 415); anything that would
            # read one anyway is cut off at its first byte
            limit = 0
        if limit and declared.isascii() and declared.isdigit() and int(declared) > limit:
            await refuse_and_drain(scope, receive, send, limit)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await refuse_and_drain(scope, receive, send, limit)


# How long, and how much, a refused body is read on after the 413 (see `drain`).
DRAIN_SECONDS = 2.0
DRAIN_BYTES = 4 * 1024 * 1024


async def refuse_and_drain(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """413, and the connection closed only once the client has had time to read it.

    The answer goes out whole (its Content-Length tells the client it is complete) but the
    response is left open while `drain` reads on, because the server closes the connection
    as the response completes: uvicorn (h11 and httptools alike) closes the transport at
    once when the answer says `Connection: close`, and a socket closed with unread bytes
    in its receive buffer sends a reset, not a FIN. The reset throws away whatever of the
    answer is not yet delivered and acknowledged, and many clients report the failed write
    instead of the answer: a phone that retries the same photo instead of saying why.
    """
    await refuse(scope, send, 413, "BODY_TOO_LARGE", limit, more_body=True)
    await drain(receive)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def drain(receive: Receive) -> int:
    """Read and discard the rest of a body: until it ends, the client leaves, DRAIN_BYTES
    have come or DRAIN_SECONDS have passed. Returns the bytes thrown away.

    The caps: the time is what the answer needs to cross a slow rural link and be
    acknowledged (a round trip of up to a second on 2G/3G, plus one retransmission, whose
    first timeout is a second) - nginx lingers far longer (lingering_time 30 s); the bytes
    bound what a fast client can make us read for nothing (4 MiB is 0.6 s at 50 Mbit/s,
    by which time a fast link has long delivered the answer). A body that ends within the
    caps - most refusals: a JSON request a little over its megabyte - closes cleanly.
    Nothing is kept: each chunk is dropped as it comes.
    """
    discarded = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while discarded <= DRAIN_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    break  # http.disconnect: the client has gone
                discarded += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        pass
    return discarded


async def refuse(
    scope: Scope, send: Send, status: int, key: str, limit: int = 0, more_body: bool = False
) -> None:
    headers = dict(scope["headers"])
    lang = pick_language(headers.get(b"accept-language", b"").decode("latin-1") or None)
    request_id = scope.get("state", {}).get("request_id", "-")
    extensions: dict[str, object] = {
        "code": "BAD_USER_INPUT",
        "reason": key,
        "requestId": request_id,
    }
    if limit:
        extensions["limit"] = limit
    body = orjson.dumps({"errors": [{"message": translate(key, lang), "extensions": extensions}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    # more_body: the caller ends the response (and so the connection) later
    await send({"type": "http.response.body", "body": body, "more_body": more_body})
