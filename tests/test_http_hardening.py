"""The HTTP layer a phone or a browser meets: security headers on every kind of answer,
CORS for named origins only, body limits by content type (counted as the body arrives),
`br`/gzip with ETags that still answer 304, WebSocket limits per address, and the lock."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import re
import tomllib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import brotli
import httpx
import orjson
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from api.app import create_app
from api.security import DRAIN_BYTES
from api.settings import Settings, SettingsError
from api.uploads import MAX_FILES
from tests import media_files
from tests.test_live import closed_with, serve, signed_in, socket_to
from tests.test_media import CLERK, uploaded

ROOT = Path(__file__).resolve().parent.parent
HTML = {"Accept": "text/html,application/xhtml+xml"}
STRICT = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
REGIONS = "{ regions(first: 50) { edges { node { id name kind } } } }"
WEB = "https://app.cunwu.example"


def assert_hardened(response: httpx.Response, csp: str | None = STRICT) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.url
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    if csp is not None:
        assert headers["content-security-policy"] == csp, response.url
    assert "strict-transport-security" not in headers  # only when HSTS_SECONDS is set
    assert len(headers.get_list("content-security-policy")) == 1


class Inline(HTMLParser):
    """The bodies of a page's inline <script> and <style> elements, and its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[tuple[str, str]] = []
        self.attributes: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [name for name, _ in attrs]
        self._open = tag if tag in ("script", "style") and not dict(attrs).get("src") else None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.inline.append((self._open, data))

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def allowed_by_hash(csp: str, directive: str, text: str) -> bool:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    sources = next(d for d in csp.split(";") if d.strip().startswith(directive + " "))
    return f"'sha256-{digest}'" in sources.split()


async def test_every_kind_of_answer_carries_the_security_headers(client, gql, demo):
    # JSON: a query, an error the endpoint made, Starlette's 404 (made JSON on its way out)
    assert_hardened(await client.post("/graphql", json={"query": "{ __typename }"}))
    assert_hardened(await client.get("/graphql", params={"query": REGIONS}))
    assert_hardened(
        await client.post("/graphql", content=b"{", headers={"content-type": "application/json"})
    )
    assert_hardened(await client.get("/nowhere"))
    assert_hardened(await client.get("/healthz"))
    # GraphiQL's files: scripts never run as a document
    assert_hardened(await client.get("/static/graphiql/graphiql-3.9.0/graphiql.min.css"))

    # a page sets its own policy: exactly its inline scripts and styles, by hash
    for path, kinds in (("/graphql", {"script", "style"}), ("/", {"style"})):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert_hardened(page, csp=None)
        csp = page.headers["content-security-policy"]
        assert csp.startswith("default-src 'none'")
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
        parser = Inline()
        parser.feed(page.text)
        assert {kind for kind, _ in parser.inline} == kinds, path
        for kind, text in parser.inline:
            assert allowed_by_hash(csp, f"{kind}-src", text), (path, kind)
        assert not [a for a in parser.attributes if a.startswith("on")]  # no inline handlers
    graphiql = (await client.get("/graphql", headers=HTML)).headers["content-security-policy"]
    for directive in ("script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert directive in graphiql

    # uploaded media: a file, never a document
    media = (await uploaded(client, await gql.login(CLERK), media_files.phone_jpeg()))["media"]
    for url in (media["url"], media["thumbnailUrl"]):
        response = await client.get(url)
        assert response.status_code == 200 and response.headers["content-type"].startswith("image/")
        assert_hardened(response)
        assert "content-encoding" not in response.headers  # images are not compressed again


async def test_hsts_only_when_configured(settings):
    app = create_app(settings.with_overrides(hsts_seconds=31536000))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert Settings.from_env({"HSTS_SECONDS": "600"}).hsts_seconds == 600


# -- CORS -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def preflight(origin: str, method: str = "POST", headers: str = "") -> dict[str, str]:
    out = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        out["Access-Control-Request-Headers"] = headers
    return out


async def test_cors_answers_named_origins_only(settings):
    # without CORS_ORIGINS: no CORS at all (the phone apps send no Origin)
    async with client_for(settings) as client:
        response = await client.options("/graphql", headers=preflight(WEB))
        assert "access-control-allow-origin" not in response.headers
        response = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": WEB}
        )
        assert "access-control-allow-origin" not in response.headers

    async with client_for(settings.with_overrides(cors_origins=(WEB,))) as web:
        asked = "authorization, content-type, idempotency-key, accept-language, graphql-preflight"
        response = await web.options("/graphql", headers=preflight(WEB, headers=asked))
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == WEB
        allowed = response.headers["access-control-allow-headers"].lower()
        for name in asked.split(", ") + ["if-none-match", "x-request-id"]:
            assert name in allowed, name
        assert response.headers["access-control-max-age"] == "86400"
        assert "origin" in response.headers["vary"].lower()
        assert "access-control-allow-credentials" not in response.headers  # bearer, no cookies

        response = await web.get("/graphql", params={"query": REGIONS}, headers={"Origin": WEB})
        assert response.headers["access-control-allow-origin"] == WEB
        exposed = response.headers["access-control-expose-headers"].lower()
        assert "etag" in exposed and "x-request-id" in exposed
        assert "Origin" in response.headers["vary"] and response.headers["etag"]

        # another origin: its preflight refused (as JSON), its answers unreadable to it
        evil = "https://evil.example"
        response = await web.options("/graphql", headers=preflight(evil, headers="authorization"))
        assert response.status_code == 400 and "access-control-allow-origin" not in response.headers
        assert response.json()["errors"][0]["extensions"]["requestId"]
        response = await web.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": evil}
        )
        assert "access-control-allow-origin" not in response.headers
        assert "Origin" in response.headers["vary"]

        # what a cross-site form can send without a preflight is still refused, from any origin
        for origin in (WEB, evil):
            form = await web.post(
                "/graphql",
                headers={"Origin": origin},
                data={"operations": '{"query": "mutation { logout }"}', "map": "{}"},
                files={"0": ("a.txt", b"x", "text/plain")},
            )
            assert form.status_code == 400
            assert form.json()["errors"][0]["extensions"]["reason"] == "CSRF_PREFLIGHT_REQUIRED"
            for content_type in ("text/plain", "application/x-www-form-urlencoded"):
                plain = await web.post(
                    "/graphql",
                    content=b'{"query": "mutation { logout }"}',
                    headers={"Origin": origin, "Content-Type": content_type},
                )
                assert plain.status_code == 415, content_type


def test_cors_origins_must_be_origins():
    env = {"CORS_ORIGINS": f" {WEB}/, http://127.0.0.1:5173 "}
    assert Settings.from_env(env).cors_origins == (WEB, "http://127.0.0.1:5173")
    assert Settings.from_env({}).cors_origins == ()
    for bad in ("*", "app.cunwu.example", "ftp://x", "https://x/path"):
        with pytest.raises(SettingsError):
            Settings.from_env({"CORS_ORIGINS": bad})


# -- body limits ----------------------------------------------------------------------------


def too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == "BODY_TOO_LARGE"
    assert error["extensions"]["limit"] == limit
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert_hardened(response)


async def call(
    app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, bytes, int, int]:
    """The app called as a server would, the body in `chunks`: (status, body, chunks read
    before the answer began, chunks read in all). A refused body is read on after its 413,
    and thrown away (api.security.drain), so the second count is the whole body when it is
    within the drain's cap."""
    read = 0
    read_before_answer: int | None = None
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {
                "type": "http.request",
                "body": chunks[read - 1],
                "more_body": read < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal read_before_answer
        if message["type"] == "http.response.start":
            read_before_answer = read
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("203.0.113.9", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert read_before_answer is not None
    return sent[0]["status"], body, read_before_answer, read


async def test_bodies_are_capped_by_content_type_as_they_arrive(app, client, settings, demo):
    limit = settings.max_json_body_bytes
    query = orjson.dumps({"query": "{ __typename }", "variables": {"pad": "x" * limit}})
    # declared too large: refused before reading
    too_large(
        await client.post("/graphql", content=query, headers={"content-type": "application/json"}),
        limit,
    )
    # chunked (no Content-Length): cut off where it passes the limit; after the 413 the rest
    # is read and thrown away up to the drain's cap (so that the answer is not lost to a
    # reset: test_body_refused_over_http), never to the end of an endless body
    yielded = 0

    async def chunked() -> AsyncIterator[bytes]:
        nonlocal yielded
        for _ in range(400):
            yielded += 1
            yield b" " * (64 * 1024)

    response = await client.post(
        "/graphql", content=chunked(), headers={"content-type": "application/json"}
    )
    too_large(response, limit)
    assert yielded <= (limit + DRAIN_BYTES) // (64 * 1024) + 3, yielded

    # a Content-Length that lies: counted all the same
    chunk = b" " * (64 * 1024)
    status, body, read, drained = await call(
        app, [(b"content-type", b"application/json"), (b"content-length", b"20")], [chunk] * 40
    )
    assert (
        status == 413
        and orjson.loads(body)["errors"][0]["extensions"]["reason"] == "BODY_TOO_LARGE"
    )
    assert read <= limit // len(chunk) + 1, read
    assert drained == 40  # the rest (within the drain's cap) read after the answer, dropped
    # multipart: room for MAX_FILES files at the upload limit; a declared larger one is
    # refused unread (a single file over the limit still answers FILE_TOO_LARGE: test_media)
    declared = str(MAX_FILES * settings.media_max_bytes + 2 * 1024 * 1024).encode()
    status, body, read, _ = await call(
        app,
        [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", declared)],
        [chunk],
    )
    assert (status, read) == (413, 0)

    # any other body: refused unread (by the endpoint, or by routing), or cut off at once
    response = await client.post("/graphql", content=b"a=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["reason"] == "UNSUPPORTED_CONTENT_TYPE"
    for path in ("/healthz", "/"):
        response = await client.post(path, content=b"a=1", headers={"content-type": "text/plain"})
        assert response.status_code == 405, path
    status, body, read, _ = await call(
        app, [(b"content-type", b"text/plain"), (b"content-length", b"999999999")], [chunk] * 3
    )
    assert (status, read) == (415, 0)
    # within the limit all is as before
    small = await client.post(
        "/graphql", json={"query": "{ __typename }", "variables": {"p": "x" * 1000}}
    )
    assert small.status_code == 200 and small.json()["data"] == {"__typename": "Query"}


async def test_a_multipart_body_is_cut_off_mid_stream(settings):
    """Many fields, none a file over the cap: the whole body still stops at the limit."""
    small = settings.with_overrides(media_max_bytes=1000)
    limit = MAX_FILES * 1000 + 1024 * 1024
    field = b"y" * (500 * 1024)
    parts = [
        b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n' % n + field + b"\r\n"
        for n in range(6)
    ]
    app = create_app(small)
    async with app.router.lifespan_context(app):
        headers = [
            (b"content-type", b"multipart/form-data; boundary=x"),
            (b"transfer-encoding", b"chunked"),
            (b"graphql-preflight", b"1"),
        ]
        status, body, read, _ = await call(app, headers, [*parts, b"--x--\r\n"])
    assert status == 413, body
    assert orjson.loads(body)["errors"][0]["extensions"]["limit"] == limit
    assert read <= limit // len(field) + 1, read


# -- compression ----------------------------------------------------------------------------


async def test_brotli_when_accepted_gzip_otherwise_and_etags_still_answer_304(client, demo):
    REGIONS = "{ __schema { types { name description } } }"  # noqa: N806 (a large answer)
    plain = await client.get(
        "/graphql", params={"query": REGIONS}, headers={"Accept-Encoding": "identity"}
    )
    assert plain.status_code == 200 and len(plain.content) > 1000
    assert "content-encoding" not in plain.headers
    seen = {}
    for accept, coding in (
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0.5, br;q=0.8", "br"),
        ("identity", None),
        ("br;q=0, gzip;q=0", None),
    ):
        response = await client.get(
            "/graphql", params={"query": REGIONS}, headers={"Accept-Encoding": accept}
        )
        assert response.headers.get("content-encoding") == coding, accept
        assert response.json() == plain.json()  # httpx decoded it
        assert "Accept-Encoding" in response.headers["vary"]
        etag = response.headers["etag"]
        assert etag.startswith('W/"'), etag  # one answer, whichever encoding carries it
        seen[accept] = etag
        again = await client.get(
            "/graphql",
            params={"query": REGIONS},
            headers={"Accept-Encoding": accept, "If-None-Match": etag},
        )
        assert again.status_code == 304 and again.content == b""
    assert len(set(seen.values())) == 1
    # what went over the wire really is brotli
    async with client.stream(
        "GET", "/graphql", params={"query": REGIONS}, headers={"Accept-Encoding": "br"}
    ) as raw:
        wire = b"".join([chunk async for chunk in raw.aiter_raw()])
    assert orjson.loads(brotli.decompress(wire)) == plain.json() and len(wire) < len(plain.content)
    # small answers stay as they are
    small = await client.get("/healthz", headers={"Accept-Encoding": "br"})
    assert "content-encoding" not in small.headers


async def test_gzip_whole_streamed_and_large_answers_decode_to_the_same_bytes():
    """A whole answer is gzipped by libdeflate in one call, a streamed one by zlib's stream,
    one past THREAD_MINIMUM off the event loop: every one is plain gzip to any client."""
    from starlette.applications import Starlette
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    from api.compression import THREAD_MINIMUM, CompressionMiddleware

    text = orjson.dumps([{"id": i, "title": f"第{i}项 村务公开"} for i in range(400)])
    large = text * (THREAD_MINIMUM // len(text) + 2)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(text), 1000):
            yield text[start : start + 1000]

    async def whole(request: Any) -> Response:
        return Response(text, media_type="application/json")

    async def big(request: Any) -> Response:
        return Response(large, media_type="application/json")

    async def streamed(request: Any) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="application/json")

    routes = [Route("/whole", whole), Route("/big", big), Route("/streamed", streamed)]
    app = CompressionMiddleware(Starlette(routes=routes), minimum_size=1000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path, expected in (("/whole", text), ("/big", large), ("/streamed", text)):
            async with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as raw:
                wire = b"".join([chunk async for chunk in raw.aiter_raw()])
                assert raw.headers["content-encoding"] == "gzip", path
            assert gzip.decompress(wire) == expected, path
            assert len(wire) < len(expected) // 3, path


# -- WebSocket limits per address -----------------------------------------------------------


async def test_one_address_holds_a_bounded_number_of_sockets(settings):
    """Per user (8) and per address not yet signed in (16) were there; now every socket
    from one address counts too, signed in or not, in this process."""
    limited = settings.with_overrides(
        live_init_timeout_seconds=2, live_max_sockets_per_address=3, live_max_pending_per_address=8
    )
    async with serve(limited) as server:
        villager = await server.gql.login("13800000006")
        clerk = await server.gql.login(CLERK)
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(signed_in(server.ws, villager))
            await stack.enter_async_context(signed_in(server.ws, clerk))
            idle = await stack.enter_async_context(socket_to(server.ws))
            async with socket_to(server.ws) as ws:  # a fourth, signed in or not: refused
                assert await closed_with(ws) == 1013
                assert ws.close_reason == "Too many connections"
            await idle.close()
            # one closed frees its place
            async with signed_in(server.ws, clerk) as ws:
                assert ws.close_code is None


# -- the lock -------------------------------------------------------------------------------


def test_the_lock_pins_every_runtime_dependency_with_hashes_within_its_floor():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if match:
            assert "--hash=sha256:" in block, match.group(1)
            pins[canonicalize_name(match.group(1))] = match.group(2)
    assert pins, "no pins in requirements.lock"
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (line, pins[name])
    # the floors past known advisories hold in pyproject itself
    floors = {
        canonicalize_name(Requirement(d).name): Requirement(d).specifier
        for d in project["dependencies"]
    }
    for name, bad in (("python-multipart", "0.0.17"), ("starlette", "1.0.0"), ("pillow", "12.2.0")):
        assert not floors[name].contains(bad), name
    assert "--generate-hashes" in (ROOT / "Makefile").read_text()
