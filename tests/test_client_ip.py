"""Who the client is: `X-Forwarded-For` is believed only from `TRUSTED_PROXIES` (none by
default), for the rate limits and for the audit trail alike."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.middleware import ProxyHeadersMiddleware
from api.relay import to_global_id
from api.settings import Settings, SettingsError
from models.audit import AuditEntry
from scripts.serve import uvicorn_options
from tests.client import GQL, LOGIN, REGISTER, error_codes
from tests.test_disclosures import VILLAGER

PROXY = "127.0.0.1"  # the peer every request of these tests comes from


@pytest.fixture(params=["default", "trusted"])
async def app(request, settings: Settings) -> AsyncIterator[object]:
    """The app as configured by default, and with the loopback proxy trusted."""
    if request.param == "trusted":
        settings = settings.with_overrides(trusted_proxies=("10.0.0.0/8", PROXY))
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(PROXY, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def register(gql: GQL, n: int, village: str, forged: str) -> dict:
    gql.client.headers["X-Forwarded-For"] = forged
    return await gql(
        REGISTER,
        {
            "input": {
                "phone": f"139{n:08d}",
                "password": "resident-pass",
                "name": f"村民{n}",
                "villageId": village,
            }
        },
    )


async def test_a_forged_header_changes_neither_the_rate_limit_key_nor_the_audit_ip(app, gql, demo):
    trusted = bool(app.state.settings.trusted_proxies)
    village = to_global_id("Region", demo.villages[0].id)
    answers = [await register(gql, n, village, f"198.51.100.{n}") for n in range(21)]
    # 20 registrations an hour per client: one client by default, 21 clients behind a proxy
    assert error_codes(answers[-1]) == ([] if trusted else ["RATE_LIMITED"]), answers[-1]
    assert all(error_codes(a) == [] for a in answers[:20])

    gql.client.headers["X-Forwarded-For"] = "203.0.113.99, 10.1.2.3"  # client, inner proxy
    login = await gql(LOGIN, {"input": {"phone": VILLAGER, "password": "cunwu-demo-2026"}})
    assert login["data"]["login"]["errors"] == []
    entry = await AuditEntry.filter(action="user.login").order_by("-id").first()
    assert entry is not None
    assert entry.ip == ("203.0.113.99" if trusted else PROXY)


async def seen_client(trusted: tuple[str, ...], peer: str, forwarded: str) -> str:
    seen: list[str] = []

    async def inner(scope, receive, send):
        seen.append(scope["client"][0])

    scope = {
        "type": "http",
        "client": (peer, 1),
        "headers": [(b"x-forwarded-for", forwarded.encode())],
    }
    await ProxyHeadersMiddleware(inner, trusted)(scope, None, None)  # type: ignore[arg-type]
    return seen[0]


async def test_the_nearest_untrusted_hop_is_the_client():
    trusted = ("10.0.0.0/8",)
    # from an untrusted peer the header is ignored, whatever it says
    assert await seen_client(trusted, "203.0.113.7", "198.51.100.1") == "203.0.113.7"
    # a client prepending a forged hop is still seen as itself
    assert await seen_client(trusted, "10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.2") == (
        "198.51.100.1"
    )
    assert await seen_client(trusted, "10.0.0.1", "not-an-ip") == "10.0.0.1"


def test_trusted_proxies_is_a_setting_empty_by_default(tmp_path):
    env = {"DATA_DIR": str(tmp_path)}
    assert Settings.from_env(env).trusted_proxies == ()
    both = Settings.from_env({**env, "TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"})
    assert both.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")
    with pytest.raises(SettingsError):
        Settings.from_env({**env, "TRUSTED_PROXIES": "proxy.local"})


async def test_served_by_uvicorn_a_forged_header_from_loopback_is_not_believed(app, demo):
    """The attack as it was: uvicorn's proxy headers trusted X-Forwarded-For from 127.0.0.1."""
    if app.state.settings.trusted_proxies:
        pytest.skip("the default configuration is the one attacked")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = {**uvicorn_options(app.state.settings), "host": "127.0.0.1", "port": port}
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", **options))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            c.headers["X-Forwarded-For"] = "198.51.100.1"
            await GQL(c).login(VILLAGER)
    finally:
        server.should_exit = True
        await serving
    entry = await AuditEntry.filter(action="user.login").order_by("-id").first()
    assert entry is not None and entry.ip == "127.0.0.1"
