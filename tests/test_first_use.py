"""A newcomer's first ten minutes: GET /, GraphiQL offline, the first query's hint, the docs."""

from __future__ import annotations

import hashlib
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from api.graphiql import FILES, STATIC_DIR
from tests.client import error_codes
from tests.test_endpoint_production import from_env

ROOT = Path(__file__).resolve().parent.parent
HTML = {"Accept": "text/html,application/xhtml+xml"}
TREE = "{ regions { edges { node { name children { edges { node { name children { edges { node { name } } } } } } } } } }"


class Assets(HTMLParser):
    """Every URL the page would load: scripts, stylesheets, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.scripts.append(found)
        for name in ("src", "href"):
            if found.get(name) and tag in ("script", "link", "img", "iframe"):
                self.urls.append(str(found[name]))


async def graphiql_page(client) -> str:
    response = await client.get("/graphql", headers=HTML)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    return response.text


async def test_graphiql_loads_only_its_own_vendored_assets(client):
    page = await graphiql_page(client)
    parser = Assets()
    parser.feed(page)
    assert len(parser.urls) == 4  # react, react-dom, graphiql and its stylesheet
    assert all(url.startswith("/static/graphiql/") for url in parser.urls), parser.urls
    # no other origin anywhere in the page, not even in its inline scripts
    assert not re.search(r"https?:|//[a-z]", page.replace("</", "")), "a third-party origin"
    manifest = (STATIC_DIR / "graphiql" / "README.md").read_text()
    for url in parser.urls:
        response = await client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        expected = "text/css" if url.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(expected), url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert re.search(r"/graphiql-\d+\.\d+\.\d+/|/react(-dom)?-\d+\.\d+\.\d+/", url)
        # the exact published file recorded in the manifest, gzipped on the wire
        assert hashlib.sha256(response.content).hexdigest() in manifest, url
        assert response.headers["content-encoding"] == "gzip"
        plain = await client.get(url, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == response.content
        again = await client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


async def test_graphiql_says_what_went_wrong_when_a_script_fails(client):
    page = await graphiql_page(client)
    parser = Assets()
    parser.feed(page)
    assert len(parser.scripts) == 3
    # a script that fails to load is caught by a capturing listener: inline handlers
    # (onerror="...") would be blocked by the page's Content-Security-Policy
    assert not any(name.startswith("on") for s in parser.scripts for name in s)
    assert "window.addEventListener('error'" in page and "graphiqlFailed(el.getAttribute" in page
    # the render itself is guarded too: a script that loaded but defined nothing
    assert "catch (error)" in page and "typeof GraphiQL === 'undefined'" in page
    assert "GraphiQL 未能加载" in page and "GraphiQL did not load" in page
    assert "POST /graphql" in page  # what still works without the IDE


async def test_vendored_files_carry_their_licences_and_nothing_else_is_served(client):
    for folder in ("graphiql-3.9.0", "react-18.3.1", "react-dom-18.3.1"):
        licence = await client.get(f"/static/graphiql/{folder}/LICENSE")
        assert licence.status_code == 200 and "MIT License" in licence.text
    for path in (
        "/static/graphiql/README.md",
        "/static/graphiql/graphiql-3.9.0/graphiql.min.js.map",
        "/static/graphiql/../graphiql.py",
        "/static/graphiql/%2e%2e/%2e%2e/settings.py",
        "/static/..%2fsettings.py",
        "/static/graphiql/graphiql-3.9.0",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_production_server_serves_no_graphiql_files(settings, tmp_path):
    import httpx

    from api.app import create_app

    production = settings.with_overrides(
        env="production", graphiql=from_env(tmp_path, CUNWU_ENV="production").graphiql
    )
    app = create_app(production)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/static/graphiql/react-18.3.1/LICENSE")).status_code == 404
            home = (await c.get("/")).json()
    assert home["graphiql"] is None and "POST" in home["hint"]


def test_the_package_carries_the_vendored_files_and_the_font():
    """`pip install .` takes package data only where pyproject names it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = config["tool"]["setuptools"]["package-data"]
    shipped = {
        path
        for package, patterns in package_data.items()
        for pattern in patterns
        for path in (ROOT / package.replace(".", "/")).glob(pattern)
        if path.is_file()
    }
    for folder in (STATIC_DIR / "graphiql", ROOT / "models/finance/fonts"):
        files = {p for p in folder.rglob("*") if p.is_file()}
        assert files and files <= shipped, files - shipped
    assert set(FILES.values()) <= shipped
    font = ROOT / "models/finance/fonts/NotoSansSC-Regular-subset.otf"
    assert font.stat().st_size < 4_000_000  # a subset, not the whole CJK font
    assert "SIL OPEN FONT LICENSE" in (font.parent / "OFL.txt").read_text()


async def test_the_root_points_a_browser_to_graphiql(client):
    response = await client.get("/", headers=HTML)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert 'href="/graphql"' in response.text and "cunwu 村务" in response.text


@pytest.mark.parametrize(("lang", "words"), [(None, "GraphiQL 试用"), ("en", "try the API")])
async def test_the_root_answers_a_program_in_json(client, lang, words):
    headers = {"Accept-Language": lang} if lang else {}
    body = (await client.get("/", headers=headers)).json()
    assert body["service"] == "cunwu 村务"
    assert body["graphql"] == body["graphiql"] == "/graphql"
    assert words in body["hint"]
    assert (await client.get(body["health"])).status_code == 200


async def test_other_unknown_paths_are_still_json_errors(client):
    for path in ("/nothing", "/graphql/x", "/static/"):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    refused = await client.post("/", json={})
    assert refused.status_code == 405
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def with_first(query: str, path: list[str], first: int) -> str:
    """The query with `first: N` given to the field at that response path (fields are
    found in order: a nested field comes after its parent in the text)."""
    position = -1
    for name in path:
        position = query.index(name, position + 1)
    end = position + len(path[-1])
    if query[end:].startswith("(first: "):
        return query[:end] + re.sub(r"^\(first: \d+\)", f"(first: {first})", query[end:])
    return f"{query[:end]}(first: {first}){query[end:]}"


@pytest.mark.parametrize(("lang", "words"), [(None, "请为连接指定较小的 first"), ("en", "page")])
async def test_the_region_tree_without_first_says_which_connection_to_page(gql, demo, lang, words):
    body = await gql(TREE, lang=lang)
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"] and "data" not in body
    error = body["errors"][0]
    extensions = error["extensions"]
    assert words in error["message"]
    assert f"{extensions['field']}(first: {extensions['suggestedFirst']})" in error["message"]
    assert extensions["field"] == "regions.children"
    assert extensions["path"] == ["regions", "edges", "node", "children"]
    assert extensions["cost"] > extensions["limit"]
    assert extensions["pages"][0]["first"] == extensions["suggestedFirst"]

    # following the hint gets the tree
    paged = with_first(TREE, extensions["path"], extensions["suggestedFirst"])
    county = (await gql.data(paged))["regions"]["edges"][0]["node"]
    assert county["name"] == demo.county.name
    villages = [
        v["node"]["name"]
        for t in county["children"]["edges"]
        for v in t["node"]["children"]["edges"]
    ]
    assert "东溪村" in villages


async def test_hints_name_several_connections_when_one_is_not_enough(gql, demo):
    query = "{ regions(first: 50) { edges { node { children(first: 50) { edges { node { children(first: 50) { edges { node { name code kind depth } } } } } } } } } }"
    body = await gql(query, lang="en")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"] and "costs" in body["errors"][0]["message"]
    pages = body["errors"][0]["extensions"]["pages"]
    assert len({tuple(p["path"]) for p in pages}) == len(pages) >= 2
    for page in pages:
        assert f"{page['field']}(first: {page['first']})" in body["errors"][0]["message"]
        query = with_first(query, page["path"], page["first"])
    assert "errors" not in await gql(query)


async def test_queries_without_connections_keep_the_plain_refusal(gql, settings):
    inner = "name"
    for _ in range(settings.max_query_depth):
        inner = f"parent {{ {inner} }}"
    body = await gql(f'{{ region(id: "x") {{ {inner} }} }}')
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "suggestedFirst" not in body["errors"][0]["extensions"]


def test_the_documentation_stands_alone():
    """README and docs/ link only to files in the repository, and every such file exists."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert {p.name for p in pages} >= {
        "product.md",
        "roles.md",
        "workflows.md",
        "api.md",
        "operations.md",
    }
    for page in pages:
        text = page.read_text()
        assert "../" not in text and "shared/" not in text and "DESIGN.md" not in text, page
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            assert not target.startswith(("http:", "https:")), (page, target)
            assert (page.parent / target).exists(), (page, target)
