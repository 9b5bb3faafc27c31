"""uvicorn serving an app on a free loopback port, in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


@contextlib.asynccontextmanager
async def on_loopback(app: Any, **config: Any) -> AsyncIterator[int]:
    """The port; `config`: uvicorn.Config's options (lifespan, http, …)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(250):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()
