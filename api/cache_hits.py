"""Anonymous GET answers from the response cache, replayed before any other layer runs.

Most traffic is the same few public reads (a village's home screen, its feed) asked again
and again without a token. The response cache (api.response_cache) already answers them
without executing anything, but only after the whole stack: request id, security headers,
body limit, compression, routing, query-string parsing, the key's digest. This layer sits
in front of all of it and keeps, per exact request line and the two headers the answer
varies on (Accept-Language, Accept-Encoding), the bytes and headers that stack sent the
last time, with what the answer's key was computed from (`Keyed`). A later identical
request gets the same bytes at once, with its own request id and access-log line, while
the key still holds: same time window, same data versions as this process knows them
without waiting (the Redis mirror or its own counters, models.data_versions) and on
SQLite no commit since (`ResponseCache.still`). Otherwise, and for anything else (a
token, a body, another path, a browser's Origin when CORS is on), the request goes down
the stack as usual.

Only what the endpoint marked `replayable` is kept: an answer it served from the cache or
put there, or its 304, never an answer with errors or one depending on the viewer.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import SAFE_ID, log_access
from api.response_cache import Keyed, ResponseCache

REPLAY = "cache_replay"  # in scope["state"]: the endpoint's Keyed for this answer
MAX_BYTES = 16 * 1024 * 1024  # all kept bodies together; oldest out first
MAX_ENTRY_BYTES = 512 * 1024
DROPPED = (b"x-request-id", b"date", b"server")  # per answer, not per content
# CPython's sizes: a bytes object's header; a header pair (tuple, two bytes, a list slot);
# a Kept, its Keyed and the dict's slot (measured with tracemalloc, rounded up)
BYTES_OVERHEAD = 33
HEADER_OVERHEAD = 56 + 2 * BYTES_OVERHEAD + 8
ENTRY_OVERHEAD = 1024


def headers_size(headers: list[tuple[bytes, bytes]] | None) -> int:
    if headers is None:
        return 0
    return 56 + sum(len(k) + len(v) + HEADER_OVERHEAD for k, v in headers)


def replayable(request: Request, keyed: Keyed) -> None:
    """The endpoint's answer to this GET may be replayed while `keyed` holds."""
    request.scope.setdefault("state", {})[REPLAY] = keyed


@dataclass
class Kept:
    cache: ResponseCache
    keyed: Keyed
    etag: bytes  # as the answer's ETag header carries it, W/"…"
    headers: list[tuple[bytes, bytes]] | None = None  # the 200's
    body: bytes = b""
    not_modified: list[tuple[bytes, bytes]] | None = None  # the 304's
    size: int = field(default=0)


class CacheHits:
    def __init__(self, app: ASGIApp, path: str = "/graphql", cors: bool = False) -> None:
        self.app = app
        self.path = path
        self.cors = cors
        self.kept: dict[tuple[bytes, bytes, bytes], Kept] = {}
        self.size = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        varying = {b"accept-language": b"", b"accept-encoding": b"", b"if-none-match": b""}
        seen: set[bytes] = set()
        request_id = b""
        for name, value in scope["headers"]:
            if name in varying:
                # A repeated one goes down the stack, never kept: the stack reads the first
                # (Starlette's Headers.get), so a slot keyed on another would hand one
                # client's answer (gzip, English) to a client that asked for something else.
                if name in seen:
                    await self.app(scope, receive, send)
                    return
                seen.add(name)
                varying[name] = value
            elif name == b"x-request-id":
                request_id = value
            elif name == b"authorization" or (name == b"origin" and self.cors):
                await self.app(scope, receive, send)  # the viewer's or CORS's: the stack's
                return
        language, encoding = varying[b"accept-language"], varying[b"accept-encoding"]
        if_none_match = varying[b"if-none-match"]
        slot = (scope["query_string"], language, encoding)
        kept = self.kept.get(slot)
        if kept is not None and kept.cache.still(kept.keyed, kept.cache.clock().timestamp()):
            headers = kept.headers
            status = 200
            if if_none_match and kept.etag[2:] in if_none_match:
                headers, status = kept.not_modified, 304
            if headers is not None:
                body = b"" if status == 304 else kept.body
                await self.replay(scope, send, status, headers, body, request_id)
                kept.cache.hits += 1
                return
        await self.record(scope, receive, send, slot)

    async def replay(
        self,
        scope: Scope,
        send: Send,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        incoming: bytes,
    ) -> None:
        started = time.perf_counter()
        text = incoming.decode("latin-1")
        request_id = text if SAFE_ID.match(text) else os.urandom(16).hex()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"x-request-id", request_id.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
        log_access(scope, status, started, request_id)

    async def record(
        self, scope: Scope, receive: Receive, send: Send, slot: tuple[bytes, bytes, bytes]
    ) -> None:
        """Down the stack, keeping what it sends when the endpoint marks it replayable."""
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0

        async def keep(message: Message) -> None:
            nonlocal status, headers, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k not in DROPPED]
            elif message["type"] == "http.response.body" and size <= MAX_ENTRY_BYTES:
                chunk = message.get("body", b"")
                size += len(chunk)
                chunks.append(chunk)
            await send(message)

        await self.app(scope, receive, keep)
        keyed = scope.get("state", {}).get(REPLAY)
        if keyed is None or status not in (200, 304) or size > MAX_ENTRY_BYTES:
            return
        cache: ResponseCache | None = scope["app"].state.services.response_cache
        if cache is None:
            return
        etag = next((v for k, v in headers if k == b"etag"), b"")
        if not etag.startswith(b'W/"'):
            return
        kept = self.kept.get(slot)
        if kept is None or kept.keyed != keyed or kept.cache is not cache:
            kept = Kept(cache, keyed, etag)
        if status == 200:
            kept.headers, kept.body = headers, b"".join(chunks)
        else:
            kept.not_modified = headers
        self.put(slot, kept)

    def put(self, slot: tuple[bytes, bytes, bytes], kept: Kept) -> None:
        old = self.kept.pop(slot, None)
        if old is not None:
            self.size -= old.size
        # what the entry holds in memory, headers included: counting only the body (+512)
        # let many small answers under distinct query strings hold some four times the bound
        kept.size = (
            len(kept.body)
            + sum(len(slot_part) + BYTES_OVERHEAD for slot_part in slot)
            + headers_size(kept.headers)
            + headers_size(kept.not_modified)
            + ENTRY_OVERHEAD
        )
        self.kept[slot] = kept
        self.size += kept.size
        while self.size > MAX_BYTES and self.kept:
            dropped = self.kept.pop(next(iter(self.kept)))  # the oldest kept
            self.size -= dropped.size
