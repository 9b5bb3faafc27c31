"""GraphiQL is off in production unless asked for (CUNWU_GRAPHIQL=1)."""

from __future__ import annotations

import httpx

from api.app import create_app
from api.settings import Settings

HTML = {"Accept": "text/html,application/xhtml+xml"}


def from_env(tmp_path, **env: str) -> Settings:
    return Settings.from_env({"DATA_DIR": str(tmp_path), "SECRET_KEY": "s" * 40, **env})


def test_graphiql_is_off_in_production_unless_enabled(tmp_path):
    assert from_env(tmp_path).graphiql is True
    assert from_env(tmp_path, CUNWU_ENV="production").graphiql is False
    assert from_env(tmp_path, CUNWU_ENV="production", CUNWU_GRAPHIQL="1").graphiql is True
    assert from_env(tmp_path, CUNWU_GRAPHIQL="0").graphiql is False


async def browse(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/graphql", headers=HTML)


async def test_a_browser_gets_no_graphiql_from_a_production_server(settings, tmp_path):
    production = settings.with_overrides(
        env="production", graphiql=from_env(tmp_path, CUNWU_ENV="production").graphiql
    )
    off = await browse(production)
    assert "text/html" not in off.headers["content-type"]
    assert "graphiql" not in off.text.lower()
    assert off.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    on = await browse(production.with_overrides(graphiql=True))
    assert on.status_code == 200 and "graphiql" in on.text.lower()
