"""The GraphQL HTTP transport: methods, GraphiQL, limits, caching, error shapes."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.client import error_codes

REGIONS = "{ regions { edges { node { name } } } }"


async def test_get_runs_queries_with_etag_and_304(client, demo):
    response = await client.get("/graphql", params={"query": REGIONS})
    assert response.status_code == 200
    assert response.json()["data"]["regions"]["edges"][0]["node"]["name"] == "青禾县"
    etag = response.headers["etag"]
    again = await client.get("/graphql", params={"query": REGIONS}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


async def test_get_with_variables_and_operation_name(client, demo):
    query = (
        "query A($k: RegionKind) { regions(kind: $k) { edges { node { kind } } } } "
        "query B { me { id } }"
    )
    response = await client.get(
        "/graphql",
        params={"query": query, "variables": json.dumps({"k": "TOWNSHIP"}), "operationName": "A"},
    )
    kinds = {e["node"]["kind"] for e in response.json()["data"]["regions"]["edges"]}
    assert kinds == {"TOWNSHIP"}


async def test_mutation_over_get_is_refused(client, demo):
    query = 'mutation { login(input: {phone: "13800000001", password: "x"}) { accessToken } }'
    response = await client.get("/graphql", params={"query": query})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_browsers_get_graphiql(client):
    response = await client.get("/graphql", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b"query=x", "application/x-www-form-urlencoded", 415),
        (b"x" * 1_000_001, "application/json", 413),
    ],
)
async def test_unusable_requests_get_http_errors(client, content, content_type, status):
    response = await client.post(
        "/graphql", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_syntax_and_validation_errors_are_bad_user_input(gql):
    assert error_codes(await gql("{ regions { ")) == ["BAD_USER_INPUT"]
    body = await gql("{ regions { nope } }")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "nope" in body["errors"][0]["message"]
    assert error_codes(
        await gql("query($f: Int) { regions(first: $f) { edges { cursor } } }", {"f": "many"})
    ) == ["BAD_USER_INPUT"]


async def test_deep_queries_are_too_complex(gql, settings):
    inner = "name"
    for _ in range(settings.max_query_depth):
        inner = f"parent {{ {inner} }}"
    body = await gql(f'{{ region(id: "x") {{ {inner} }} }}')
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "嵌套" in body["errors"][0]["message"]


async def test_costly_queries_are_too_complex(gql):
    query = """{ regions(first: 50) { edges { node {
      children(first: 50) { edges { node { children(first: 50) { edges { node { name } } } } } }
    } } } }"""
    body = await gql(query, lang="en")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "costs" in body["errors"][0]["message"]


@pytest.mark.parametrize("first", [693736951105909555200, 2_000_000_000])
async def test_a_cost_past_64_bits_is_refused_not_a_crash(gql, first):
    """Nested `first`s multiply: past 64 bits the cost in the error's extensions was a
    number orjson cannot write (a 500, found by scripts/attack.py)."""
    query = f"""{{ regions(first: {first}) {{ edges {{ node {{
      children(first: {first}) {{ edges {{ node {{ children(first: {first}) {{ edges {{ node {{
      name }} }} }} }} }} }} }} }} }} }}"""
    body = await gql(query, lang="en")
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert body["errors"][0]["extensions"]["cost"] == 2**53 - 1


async def test_overlong_and_token_heavy_queries_are_refused_before_parsing(gql, settings):
    long_query = "{ regions { edges { cursor } } }" + " " * settings.max_query_chars
    assert error_codes(await gql(long_query)) == ["QUERY_TOO_COMPLEX"]
    many_tokens = "{ " + " ".join(["__typename"] * settings.max_query_tokens) + " }"
    assert error_codes(await gql(many_tokens)) == ["QUERY_TOO_COMPLEX"]


async def test_introspection_is_not_counted_against_limits(gql):
    from graphql import get_introspection_query

    body = await gql(get_introspection_query(descriptions=True))
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_documents_are_cached_and_the_cache_is_bounded(app, gql, demo):
    endpoint = app.state.graphql
    endpoint.documents.size = 3
    for i in range(5):
        await gql(f"query Q{i} {{ regions {{ edges {{ cursor }} }} }}")
    assert len(endpoint.documents) == 3
    cached = endpoint.documents.get("query Q4 { regions { edges { cursor } } }")
    assert cached is not None and cached[0] is not None


async def test_internal_errors_hide_the_trace_and_carry_the_request_id(client, monkeypatch, caplog):
    import api.regions.schema as region_schema

    async def explode(**_):
        raise RuntimeError("secret detail from deep inside")

    monkeypatch.setattr(region_schema, "region_page", explode)
    response = await client.post(
        "/graphql", json={"query": REGIONS}, headers={"X-Request-ID": "req-1234567890"}
    )
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1234567890"}
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] == "req-1234567890"
    assert any("req-1234567890" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_every_response_has_a_request_id_and_large_ones_are_gzipped(client, demo):
    query = "{ regions(kind: GROUP, first: 50) { edges { node { id name code kind depth } } } }"
    response = await client.post(
        "/graphql", json={"query": query}, headers={"Accept-Encoding": "gzip"}
    )
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["data"]["regions"]["edges"]) == 24
    raw = await client.post(
        "/graphql", json={"query": query}, headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)


async def test_unknown_node_ids_are_not_found(gql):
    for bad in ("bm9wZTox", "!!!", "UmVnaW9uOjk5OTk5OQ"):
        body = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": bad})
        assert error_codes(body) == ["NOT_FOUND"], bad


async def test_automatic_persisted_queries(client, demo):
    import hashlib

    digest = hashlib.sha256(REGIONS.encode()).hexdigest()
    ext = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    miss = await client.post("/graphql", json={"extensions": ext})
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    register = await client.post("/graphql", json={"query": REGIONS, "extensions": ext})
    assert register.json()["data"]["regions"]["edges"][0]["node"]["name"] == "青禾县"
    hit = await client.get("/graphql", params={"extensions": json.dumps(ext)})
    assert hit.json()["data"] == register.json()["data"]
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    mismatch = await client.post("/graphql", json={"query": REGIONS, "extensions": wrong})
    assert mismatch.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
