"""A body refused with 413 reaches the client as a 413 over real HTTP, not as a reset.

uvicorn closes the connection as soon as a `Connection: close` answer is complete, and a
socket closed with unread bytes sends a reset (RST) instead of a FIN. The body limit reads
on (and throws away) what the client keeps sending for a bounded time and number of bytes
before it ends the answer. Each test runs under uvicorn's two HTTP/1.1 protocols, with raw
sockets (to see a reset as a reset) and with httpx.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from starlette.types import Receive

from api import security
from tests.loopback import on_loopback

CHUNK = 64 * 1024


@dataclass
class Live:
    host: str
    port: int
    limit: int  # the JSON body limit

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture(params=["h11", "httptools"])
async def live(request, app) -> AsyncIterator[Live]:
    """uvicorn on a loopback port with one HTTP protocol, serving the test's app."""
    async with on_loopback(app, lifespan="off", http=request.param) as port:
        yield Live("127.0.0.1", port, app.state.settings.max_json_body_bytes)


def head(length: int | None, request_id: str) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Request-ID: {request_id}\r\n{framing}\r\n\r\n"
    ).encode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def parse(raw: bytes) -> Answer:
    top, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    assert len(rest) == length, (len(rest), length)  # the whole answer, nothing after it
    return Answer(int(status_line.split()[1]), headers, rest)


def assert_refused(answer: Answer, limit: int, request_id: str) -> None:
    assert answer.status == 413
    assert answer.headers["connection"] == "close"
    assert answer.headers["x-request-id"] == request_id
    [error] = orjson.loads(answer.body)["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == "BODY_TOO_LARGE"
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["requestId"] == request_id


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server's FIN; a reset raises ConnectionResetError."""
    received = b""
    while data := await asyncio.wait_for(reader.read(CHUNK), 10):
        received += data
    return received


async def test_a_declared_too_large_body_gets_its_413_and_a_clean_close(live: Live):
    """A body 512 KiB over the limit, sent in full by a client that reads only afterwards:
    every write goes through, the 413 is read whole and the connection ends with a FIN."""
    request_id = "declared-too-large-1"
    total = live.limit + 512 * 1024
    reader, writer = await asyncio.open_connection(live.host, live.port)
    writer.write(head(total, request_id))
    sent = 0
    while sent < total:
        piece = min(CHUNK, total - sent)
        writer.write(b" " * piece)
        await writer.drain()  # a reset here: ConnectionResetError / BrokenPipeError
        sent += piece
        await asyncio.sleep(0)  # the server answers long before the body is sent
    answer = parse(await read_to_eof(reader))
    writer.close()
    assert_refused(answer, live.limit, request_id)


async def test_a_chunked_body_past_the_limit_gets_its_413_and_a_clean_close(live: Live):
    """No Content-Length: cut off where the count passes the limit, the rest read and
    thrown away, the 413 read after the last chunk."""
    request_id = "chunked-too-large-1"
    reader, writer = await asyncio.open_connection(live.host, live.port)
    writer.write(head(None, request_id))
    for _ in range((live.limit + 1024 * 1024) // CHUNK):
        writer.write(b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    answer = parse(await read_to_eof(reader))
    writer.close()
    assert_refused(answer, live.limit, request_id)


async def test_a_slow_sender_reads_the_answer_at_once_and_is_cut_off_in_bounded_time(
    live: Live,
):
    """A phone on a slow link declaring a huge upload: the 413 arrives whole straight away,
    the server keeps reading for DRAIN_SECONDS (not the whole body), then closes."""
    request_id = "slow-sender-0001"
    reader, writer = await asyncio.open_connection(live.host, live.port)
    started = time.monotonic()
    writer.write(head(50 * 1024 * 1024, request_id))
    await writer.drain()

    async def trickle() -> None:  # 20 KB/s, for as long as the server listens
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            for _ in range(1000):
                writer.write(b" " * 1024)
                await writer.drain()
                await asyncio.sleep(0.05)

    sending = asyncio.create_task(trickle())
    # the answer's Content-Length says when it is complete: no need to wait for the close
    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(raw.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    raw += await asyncio.wait_for(reader.readexactly(length), 5)
    answered = time.monotonic() - started
    assert_refused(parse(raw), live.limit, request_id)
    assert await asyncio.wait_for(reader.read(), 10) == b""  # then the server's FIN
    closed = time.monotonic() - started
    await asyncio.wait_for(sending, 10)
    writer.close()
    assert answered < 1.0, answered
    assert security.DRAIN_SECONDS - 0.2 < closed < security.DRAIN_SECONDS + 2, closed


async def test_a_fast_sender_is_cut_off_after_the_drain_bytes(live: Live, monkeypatch):
    """A client pouring out a body far past the limit: the server reads at most about
    DRAIN_BYTES more, throws them away, and closes; the next connection is served."""
    drained: list[int] = []
    real_drain = security.drain

    async def counted(receive: Receive) -> int:
        drained.append(await real_drain(receive))
        return drained[-1]

    monkeypatch.setattr(security, "drain", counted)
    request_id = "fast-sender-0001"
    total = 200 * 1024 * 1024
    reader, writer = await asyncio.open_connection(live.host, live.port)
    writer.write(head(total, request_id))
    sent = 0
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        while sent < total:
            writer.write(b" " * CHUNK * 4)
            await writer.drain()
            sent += CHUNK * 4
    writer.close()
    # bounded by the cap (plus what one read may hand over), far short of the body
    [discarded] = drained
    assert 0 < discarded <= security.DRAIN_BYTES + 1024 * 1024, discarded
    assert sent < total // 4, sent

    async with httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


async def test_httpx_reads_the_413_declared_or_chunked_and_others_are_served_meanwhile(
    live: Live,
):
    body = b" " * (live.limit + 256 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]
            await asyncio.sleep(0.001)

    async with (
        httpx.AsyncClient(base_url=live.url, timeout=10) as phone,
        httpx.AsyncClient(base_url=live.url, timeout=10) as other,
    ):
        for name, content in (("declared", body), ("chunked", chunks())):
            request_id = f"httpx-{name}-0001"
            headers = {"content-type": "application/json", "x-request-id": request_id}
            refused, served = await asyncio.gather(
                phone.post("/graphql", content=content, headers=headers),
                other.post("/graphql", json={"query": "{ __typename }"}),
            )
            assert refused.status_code == 413, name
            assert refused.headers["connection"] == "close"
            [error] = refused.json()["errors"]
            assert error["extensions"]["reason"] == "BODY_TOO_LARGE"
            assert error["extensions"]["limit"] == live.limit
            assert error["extensions"]["requestId"] == request_id == refused.headers["x-request-id"]
            assert served.json() == {"data": {"__typename": "Query"}}
        # the refused connection is gone; a new one for the same client works
        response = await phone.post("/graphql", json={"query": "{ __typename }"})
        assert response.status_code == 200
