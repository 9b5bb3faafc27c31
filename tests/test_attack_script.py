"""The attack suite's abuse set (scripts/attack.py), replayed in process so that the script
keeps working: every attempt is refused with its status and code. CI runs the whole suite,
with schemathesis, against a real server (`python -m scripts.attack`)."""

from __future__ import annotations

import httpx

from scripts.attack import OFFICIAL, VILLAGER, Abuse


async def test_the_abuse_set_is_refused(app, gql, demo, settings, monkeypatch):
    # a small file limit keeps the oversized upload cheap in process
    small = settings.with_overrides(media_max_bytes=200_000)
    monkeypatch.setattr(app.state.services, "settings", small)

    def client_for(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    lines: list[str] = []
    abuse = Abuse(
        client_for=client_for,
        tokens={"villager": await gql.login(VILLAGER), "official": await gql.login(OFFICIAL)},
        max_upload_bytes=small.media_max_bytes,
        login_attempts=settings.login_attempts,
        flood=50,
        echo=lines.append,
    )
    outcomes = await abuse.run()
    assert len(outcomes) > 30
    assert [o for o in outcomes if not o.ok] == [], "\n".join(lines)
