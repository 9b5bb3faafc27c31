"""A provider's HTTP endpoint on 127.0.0.1 for adapter tests: it keeps every request it
received and answers what the test's `respond` returns."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Respond = Callable[[Received], Awaitable[tuple[int, Any]] | tuple[int, Any]]


class FakeServer:
    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.received: list[Received] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        got = Received(
            request.method,
            request.path,
            dict(request.query),
            {k.lower(): v for k, v in request.headers.items()},
            await request.read(),
        )
        self.received.append(got)
        answer = self.respond(got)
        if not isinstance(answer, tuple):
            answer = await answer
        status, body = answer
        # exactly what the providers send: Tencent's SDK reads errors only from this type
        data = json.dumps(body, ensure_ascii=False).encode()
        return web.Response(body=data, status=status, headers={"Content-Type": "application/json"})


@asynccontextmanager
async def fake_server(respond: Respond) -> AsyncIterator[FakeServer]:
    server = FakeServer(respond)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
