"""Liveness and readiness probes."""

from __future__ import annotations

import httpx

from api.app import create_app


async def test_healthz_and_readyz_answer_when_everything_is_up(client, settings):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status_code == 200
    expected = {"database": "ok"}
    if settings.redis_url:
        expected["redis"] = "ok"
    assert response.json() == {"status": "ok", "checks": expected}


async def test_readyz_is_503_when_redis_does_not_answer(settings):
    app = create_app(settings.with_overrides(redis_url="redis://127.0.0.1:1/0"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/healthz")).status_code == 200
            response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")
