"""The attack suite: a real server, schemathesis in GraphQL mode and the abuse set over HTTP.

    python -m scripts.attack [--budget-seconds 75] [--seed 11]
                             [--postgres postgres://…/db --redis redis://…/0]

It migrates and seeds the demo into a fresh temporary data directory (or a database of its
own created on `--postgres`, with a Redis prefix of its own on `--redis`; both dropped at the
end), starts uvicorn with one worker on a free port of 127.0.0.1 and waits for /readyz. Then:

- the abuse set (`Abuse`): documents built to cost the server (fragment fan-out, repeated
  fields, alias bombs, deep nesting, huge bodies), floods of bad tokens, login guessing
  batched in one document and spread over requests, a mutation over GET, multipart without
  the preflight header, upload bombs and huge or malformed ids; each must be refused with
  its status and code, and prints PASS or FAIL with what was sent and what came back;
- schemathesis (GraphQL mode, the strategies of scripts/fuzz_graphql.py): rounds of
  generated documents for every operation, each sent anonymously, as a villager and as an
  official, until `--budget-seconds` has passed (the seed makes the order repeatable).

Every answer of either part is checked alike (`problems`): no 5xx, JSON with a request id,
no INTERNAL_SERVER_ERROR, every error with `extensions.code`. The exit status is 1 on any
failure; the summary gives the counts, the time and the server's logged exceptions.

Each part speaks from an address of its own on the loopback network (127.0.0.x), so that
one part's rate limits (login guessing, refresh floods) do not answer for another's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import jwt
import orjson

from api.relay import to_global_id
from scripts.seed_demo import DEMO_PASSWORD

VILLAGER, OFFICIAL = "13800000006", "13800000003"
GUESSED = "13800000002"  # the account whose password the abuse set guesses
# one loopback address per part: each has rate limits of its own
FUZZ_ADDRESS, TOKEN_ADDRESS = "127.0.0.1", "127.0.0.2"
LOGIN = """mutation($input: LoginInput!) { login(input: $input) {
  accessToken errors { code } } }"""
UPLOAD = """mutation($input: UploadMediaInput!) { uploadMedia(input: $input) {
  media { id } errors { code field } } }"""
OK_STATUSES_WITHOUT_JSON = {200, 204, 304}

ClientFor = Callable[[str], httpx.AsyncClient]


# --- what every answer must be -------------------------------------------------------------


def problems(response: httpx.Response) -> list[str]:
    """What is wrong with an answer, whatever was asked: empty when it is clean."""
    found: list[str] = []
    if response.status_code >= 500:
        found.append(f"status {response.status_code}")
    if not response.headers.get("x-request-id"):
        found.append("no X-Request-ID")
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        if response.status_code not in OK_STATUSES_WITHOUT_JSON:
            found.append(f"status {response.status_code} answered {content_type or 'no body'}")
        return found
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return [*found, "a body that is not JSON"]
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or ():
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if not code:
            found.append(f"an error without a code: {str(error)[:160]}")
        elif code == "INTERNAL_SERVER_ERROR":
            found.append(f"INTERNAL_SERVER_ERROR (request {extensions.get('requestId', '-')})")
            if not extensions.get("requestId"):
                found.append("INTERNAL_SERVER_ERROR without its requestId")
    return found


def codes_in(body: Any) -> list[str]:
    """Every `code` in the answer: top-level errors' extensions and payloads' errors."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "code" and isinstance(value, str):
                found.append(value)
            else:
                found += codes_in(value)
    elif isinstance(body, list):
        for value in body:
            found += codes_in(value)
    return found


def reasons_in(body: Any) -> list[str]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [(e.get("extensions") or {}).get("reason", "") for e in errors or ()]


def short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 20]}…({len(text)} chars)"


# --- the abuse set -------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    ok: bool
    sent: str
    received: str


@dataclass
class Abuse:
    """The abuse attempts, over any HTTP client: a real server's or an app in process.

    `client_for(address)` gives a client speaking from that address; `tokens` holds a
    villager's and an official's access tokens; `max_upload_bytes` the server's file limit."""

    client_for: ClientFor
    tokens: dict[str, str]
    max_upload_bytes: int
    login_attempts: int = 10
    flood: int = 300  # bad bearer tokens sent
    outcomes: list[Outcome] = field(default_factory=list)
    echo: Callable[[str], None] = print
    _next_address: int = 10
    timings: dict[str, float] = field(default_factory=dict)

    def address(self) -> str:
        """A loopback address nobody else in this run speaks from."""
        self._next_address += 1
        return f"127.0.0.{self._next_address}"

    def record(self, name: str, sent: str, received: str, failures: list[str]) -> None:
        ok = not failures
        detail = received if ok else f"{received} — {'; '.join(failures)}"
        self.outcomes.append(Outcome(name, ok, sent, detail))
        self.echo(f"{'PASS' if ok else 'FAIL'} {name}\n     sent: {sent}\n     got:  {detail}")

    def expect(
        self,
        name: str,
        sent: str,
        response: httpx.Response,
        status: int | set[int] = 200,
        codes: set[str] | None = None,
        reason: str | None = None,
    ) -> Any:
        """Check one answer: clean, the status, one of `codes` among its codes, the reason."""
        failures = problems(response)
        statuses = {status} if isinstance(status, int) else status
        if response.status_code not in statuses:
            failures.append(f"status {response.status_code}, wanted {sorted(statuses)}")
        try:
            body = response.json()
        except ValueError:
            body = None
        found = codes_in(body)
        if codes is not None and not set(found) & codes:
            failures.append(f"codes {found}, wanted one of {sorted(codes)}")
        if reason is not None and reason not in reasons_in(body):
            failures.append(f"reason {reasons_in(body)}, wanted {reason}")
        received = f"{response.status_code} codes={sorted(set(found))}"
        if reason:
            received += f" reason={reason if reason in reasons_in(body) else reasons_in(body)}"
        self.record(name, sent, received, failures)
        return body

    async def too_large(self, name: str, sent: str, sending: Awaitable[httpx.Response]) -> None:
        """A body past the limit: 413 BODY_TOO_LARGE, read by a client still sending it (the
        server reads on and drops the rest for a while, so that the answer is not lost to a
        reset: api.security.drain). A connection closed under the client is a failure."""
        try:
            response = await sending
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            received = f"closed, no answer ({type(exc).__name__})"
            self.record(name, sent, received, ["the 413 was lost to the closed connection"])
            return
        self.expect(
            name, sent, response, status=413, codes={"BAD_USER_INPUT"}, reason="BODY_TOO_LARGE"
        )

    async def run(self) -> list[Outcome]:
        for attempt in (
            self.fragment_fan_out,
            self.field_repetition,
            self.alias_bombs,
            self.deep_nesting,
            self.huge_documents,
            self.token_flood,
            self.refresh_flood,
            self.batched_login_guessing,
            self.login_guessing_across_requests,
            self.mutation_over_get,
            self.cross_site_requests,
            self.upload_bombs,
            self.huge_ids,
            self.odd_requests,
        ):
            started = time.perf_counter()
            try:
                await attempt()
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                self.record(attempt.__name__, "-", f"{type(exc).__name__}: {exc}", ["crashed"])
            spent = time.perf_counter() - started
            self.timings[attempt.__name__] = spent
            if spent > 10:
                self.record(attempt.__name__, "-", f"took {spent:.1f} s", ["slower than 10 s"])
        return self.outcomes

    async def post(
        self, client: httpx.AsyncClient, query: str, variables: Any = None, **headers: str
    ) -> httpx.Response:
        return await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def fragment_fan_out(self) -> None:
        async with self.client_for(self.address()) as client:
            # F0 spreads F1 twice, F1 spreads F2 twice …: 2^30 fields once expanded
            chain = " ".join(
                f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30)
            )
            query = f"query {{ ...F0 }} {chain} fragment F30 on Query {{ __typename }}"
            response = await self.post(client, query)
            self.expect(
                "fragment fan-out (2^30 spreads)",
                short(query),
                response,
                codes={"QUERY_TOO_COMPLEX"},
            )
            # every fragment spreads every later one: quadratic spreads, exponential paths
            many = " ".join(
                f"fragment G{i} on Query {{ __typename "
                + " ".join(f"...G{j}" for j in range(i + 1, 12))
                + " }"
                for i in range(12)
            )
            query = f"query {{ ...G0 }} {many}"
            response = await self.post(client, query)
            self.expect(
                "fragment fan-out (each spreads all later)",
                short(query),
                response,
                codes={"QUERY_TOO_COMPLEX"},
            )
            query = "query { ...A } fragment A on Query { ...B }"
            query += " fragment B on Query { ...A __typename }"
            response = await self.post(client, query)
            self.expect("fragment cycle", query, response, codes={"BAD_USER_INPUT"})

    async def field_repetition(self) -> None:
        async with self.client_for(self.address()) as client:
            for name, query in (
                ("the same field 10,000 times", "{ me { " + "id " * 10_000 + "} }"),
                ("__typename 10,000 times", "{ " + "__typename " * 10_000 + "}"),
                (
                    "the same field 400 times (within the token limit)",
                    "{ regions(first: 1) { edges { " + "cursor " * 400 + "} } }",
                ),
            ):
                response = await self.post(client, query, Authorization=self.bearer("villager"))
                self.expect(name, short(query), response, codes={"QUERY_TOO_COMPLEX"})

    async def alias_bombs(self) -> None:
        async with self.client_for(self.address()) as client:
            costly = (
                "regions(first: 50) { edges { node { children(first: 50) { edges { node {"
                " name } } } } } }"
            )
            query = "{ " + " ".join(f"a{i}: {costly}" for i in range(8)) + " }"
            response = await self.post(client, query)
            self.expect(
                "alias bomb (8 costly aliases)", short(query), response, codes={"QUERY_TOO_COMPLEX"}
            )
            query = "{ " + " ".join(f"a{i}: __typename" for i in range(400)) + " }"
            response = await self.post(client, query)
            self.expect(
                "alias bomb (400 aliases)", short(query), response, codes={"QUERY_TOO_COMPLEX"}
            )
            query = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(60)) + " }"
            response = await self.post(client, query, Authorization=self.bearer("official"))
            self.expect("alias bomb (60 × me)", short(query), response, codes={"QUERY_TOO_COMPLEX"})

    async def deep_nesting(self) -> None:
        async with self.client_for(self.address()) as client:
            inner = "name"
            for _ in range(40):
                inner = f"parent {{ {inner} }}"
            query = f'{{ region(id: "UmVnaW9uOjE") {{ {inner} }} }}'
            response = await self.post(client, query)
            self.expect("40 nested selections", short(query), response, codes={"QUERY_TOO_COMPLEX"})
            query = "{ node(id: " + "[" * 450 + '"x"' + "]" * 450 + ") { id } }"
            response = await self.post(client, query)
            self.expect(
                "a list literal 450 deep",
                short(query),
                response,
                codes={"BAD_USER_INPUT", "QUERY_TOO_COMPLEX"},
            )
            body = b'{"query": "{ me { id } }", "variables": {"v": ' + deep_json(5000) + b"}}"
            response = await client.post(
                "/graphql", content=body, headers={"content-type": "application/json"}
            )
            self.expect(
                "variables 5,000 lists deep",
                short(body.decode()),
                response,
                status=400,
                codes={"BAD_USER_INPUT"},
            )

    async def huge_documents(self) -> None:
        async with self.client_for(self.address()) as client:
            query = "{ me { id } }" + " " * 2_000_000
            await self.too_large("a 2 MB body", short(query), self.post(client, query))
            query = "{ me { id } }" + "#" * 100_000 + "\n"
            response = await self.post(client, query)
            self.expect("a 100 kB document", short(query), response, codes={"QUERY_TOO_COMPLEX"})
            batch = [{"query": "{ me { id } }"}] * 100
            response = await client.post("/graphql", json=batch)
            self.expect(
                "a batch of 100 operations",
                "[{query: …} × 100]",
                response,
                status=400,
                codes={"BAD_USER_INPUT"},
            )

    def bearer(self, who: str) -> str:
        return f"Bearer {self.tokens[who]}"

    async def token_flood(self) -> None:
        """Bad access tokens are checked without touching the database: each is refused."""
        now = int(time.time())
        forged = [
            "garbage",
            "x.y.z",
            "Bearer",
            jwt.encode(
                {"typ": "access", "sub": "1", "sid": "0" * 32, "exp": now + 600},
                "not-the-key-" * 4,
                algorithm="HS256",
            ),
            base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
            + "."
            + base64.urlsafe_b64encode(b'{"typ":"access","sub":"1"}').decode().rstrip("=")
            + ".",
            self.tokens["villager"][:-4] + "AAAA",  # a real token, its signature broken
            "A" * 8000,
        ]
        refused, other, started = 0, [], time.perf_counter()
        async with self.client_for(self.address()) as client:
            for n in range(self.flood):
                token = forged[n % len(forged)] + ("" if n < len(forged) else secrets.token_hex(4))
                response = await client.post(
                    "/graphql",
                    json={"query": "{ me { id } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                trouble = problems(response)
                if not trouble and "UNAUTHENTICATED" in codes_in(response.json()):
                    refused += 1
                else:
                    other.append(f"{response.status_code} {short(response.text, 80)} {trouble}")
        spent = time.perf_counter() - started
        failures = [f"{len(other)} not refused: {other[:2]}"] if other else []
        self.record(
            f"a flood of {self.flood} bad bearer tokens",
            "{ me { id } } with forged, unsigned, truncated and random tokens",
            f"{refused} UNAUTHENTICATED in {spent:.1f} s",
            failures,
        )

    async def refresh_flood(self) -> None:
        """Refresh tokens are looked up: guessing them is rate limited per address."""
        query = """mutation($input: RefreshTokenInput!) { refreshToken(input: $input) {
          accessToken errors { code } } }"""
        seen: dict[str, int] = {}
        async with self.client_for(self.address()) as client:
            for n in range(200):
                response = await self.post(
                    client, query, {"input": {"refreshToken": secrets.token_urlsafe(32)}}
                )
                if problems(response):
                    self.expect("refresh-token flood", f"request {n}", response)
                    return
                codes = set(codes_in(response.json()))
                for code in codes:
                    seen[code] = seen.get(code, 0) + 1
                if "RATE_LIMITED" in codes:
                    break
        failures = [] if "RATE_LIMITED" in seen else ["never RATE_LIMITED"]
        self.record(
            "a flood of random refresh tokens",
            f"refreshToken with {sum(seen.values())} random tokens from one address",
            f"codes {seen}",
            failures,
        )

    async def batched_login_guessing(self) -> None:
        guesses = " ".join(
            f'g{i}: login(input: {{phone: "{GUESSED}", password: "guess-{i}"}})'
            " { accessToken errors { code } }"
            for i in range(40)
        )
        query = f"mutation {{ {guesses} }}"
        async with self.client_for(self.address()) as client:
            response = await self.post(client, query)
            body = self.expect(
                "40 login guesses in one document",
                short(query),
                response,
                codes={"RATE_LIMITED"},
            )
        tried = codes_in(body).count("INVALID_CREDENTIALS")
        failures = [] if tried <= self.login_attempts else [f"{tried} passwords were tried"]
        self.record(
            "… of which at most the limit were tried",
            f"{self.login_attempts} attempts allowed per number and address",
            f"{tried} INVALID_CREDENTIALS",
            failures,
        )

    async def login_guessing_across_requests(self) -> None:
        address = self.address()
        seen: list[str] = []
        async with self.client_for(address) as client:
            for n in range(self.login_attempts + 2):
                response = await self.post(
                    client,
                    LOGIN,
                    {"input": {"phone": GUESSED, "password": f"across-{n}"}},
                    # a forged forwarding header does not make another address
                    **{"X-Forwarded-For": f"198.51.100.{n}"},
                )
                if problems(response):
                    self.expect("login guessing across requests", f"guess {n}", response)
                    return
                seen += codes_in(response.json())
            # the owner, from another address, still gets in
        async with self.client_for(self.address()) as client:
            owner = await self.post(
                client, LOGIN, {"input": {"phone": GUESSED, "password": DEMO_PASSWORD}}
            )
        failures = [] if "RATE_LIMITED" in seen else ["never RATE_LIMITED"]
        self.record(
            f"{self.login_attempts + 2} login guesses, one a request, forged X-Forwarded-For",
            f"login {GUESSED} from {address}",
            f"codes {sorted(set(seen))}",
            failures,
        )
        owner_in = bool(((owner.json().get("data") or {}).get("login") or {}).get("accessToken"))
        self.record(
            "… and the owner signs in from elsewhere",
            f"login {GUESSED} with the right password from another address",
            f"{owner.status_code} signed in: {owner_in}",
            [] if owner_in and not problems(owner) else ["the owner was locked out"],
        )

    async def mutation_over_get(self) -> None:
        query = (
            f'mutation {{ login(input: {{phone: "{GUESSED}", password: "x"}}) {{ accessToken }} }}'
        )
        async with self.client_for(self.address()) as client:
            response = await client.get("/graphql", params={"query": query})
            self.expect(
                "a mutation over GET",
                f"GET /graphql?query={query}",
                response,
                status=405,
                codes={"BAD_USER_INPUT"},
                reason="MUTATION_OVER_GET",
            )
            response = await client.get(
                "/graphql",
                params={
                    "query": "mutation M { logout { ok } } query Q { me { id } }",
                    "operationName": "M",
                },
                headers={"Authorization": self.bearer("villager")},
            )
            self.expect(
                "a mutation over GET, picked by operationName",
                "GET … operationName=M",
                response,
                status={405, 200},
                codes={"BAD_USER_INPUT"},
            )

    async def cross_site_requests(self) -> None:
        operations = json.dumps(
            {"query": UPLOAD, "variables": {"input": {"file": None, "purpose": "EVIDENCE"}}}
        )
        form = {"operations": operations, "map": json.dumps({"0": ["variables.input.file"]})}
        async with self.client_for(self.address()) as client:
            response = await client.post(
                "/graphql",
                data=form,
                files={"0": ("x.pdf", PDF, "application/pdf")},
                headers={"Authorization": self.bearer("villager")},
            )
            self.expect(
                "multipart without the preflight header",
                "uploadMedia as a form post",
                response,
                status=400,
                codes={"BAD_USER_INPUT"},
                reason="CSRF_PREFLIGHT_REQUIRED",
            )
            for content_type in ("text/plain", "application/x-www-form-urlencoded"):
                response = await client.post(
                    "/graphql",
                    content=b'{"query": "mutation { logout { ok } }"}',
                    headers={"content-type": content_type},
                )
                self.expect(
                    f"a simple cross-site POST ({content_type})",
                    "mutation { logout }",
                    response,
                    status=415,
                    codes={"BAD_USER_INPUT"},
                )

    async def upload(
        self, client: httpx.AsyncClient, data: bytes, name: str, mime: str
    ) -> httpx.Response:
        operations = json.dumps(
            {"query": UPLOAD, "variables": {"input": {"file": None, "purpose": "EVIDENCE"}}}
        )
        return await client.post(
            "/graphql",
            data={"operations": operations, "map": json.dumps({"0": ["variables.input.file"]})},
            files={"0": (name, data, mime)},
            headers={"Authorization": self.bearer("villager"), "GraphQL-Preflight": "1"},
        )

    async def upload_bombs(self) -> None:
        async with self.client_for(self.address()) as client:
            bomb = pixel_bomb()
            response = await self.upload(client, bomb, "bomb.png", "image/png")
            self.expect(
                f"a decompression-bomb PNG ({len(bomb)} bytes, 12000×12000)",
                "uploadMedia(EVIDENCE)",
                response,
                codes={"IMAGE_TOO_LARGE"},
            )
            big = b"\xff\xd8\xff\xe0" + os.urandom(self.max_upload_bytes + 1)
            response = await self.upload(client, big, "big.jpg", "image/jpeg")
            self.expect(
                f"an oversized file ({len(big)} bytes)",
                "uploadMedia(EVIDENCE)",
                response,
                codes={"FILE_TOO_LARGE"},
            )
            form = {"operations": json.dumps({"query": UPLOAD}), "map": "{}"}
            files = [(str(n), (f"{n}.pdf", PDF, "application/pdf")) for n in range(20)]
            response = await client.post(
                "/graphql",
                data=form,
                files=files,
                headers={"Authorization": self.bearer("villager"), "GraphQL-Preflight": "1"},
            )
            self.expect(
                "20 files in one request",
                "multipart with 20 file parts",
                response,
                status=400,
                codes={"BAD_USER_INPUT"},
            )

    async def huge_ids(self) -> None:
        queries = {
            "node": "query($id: ID!) { node(id: $id) { id } }",
            "disclosure": "query($id: ID!) { disclosure(id: $id) { id } }",
            "region": "query($id: ID!) { region(id: $id) { id } }",
            "comments": """query($id: ID!) { comments(targetId: $id, first: 5) {
              edges { cursor } } }""",
            "follow": """mutation($id: ID!) { followRegion(input: {regionId: $id}) {
              errors { code } } }""",
        }
        ids = {
            f"{kind}:{key}": to_global_id(kind, key)
            for kind in ("Region", "Disclosure")
            for key in (str(2**31), str(2**63), str(2**64), str(-(2**63) - 1), "9" * 400)
        }
        ids |= {
            "not base64": "!!!",
            "empty": "",
            "no key": to_global_id("Region", ""),
            "unknown kind": to_global_id("Nope", "1"),
            "other digits": to_global_id("Region", "٣"),
            "a colon only": base64.b64encode(b":").decode(),
            "100 kB": "A" * 100_000,
        }
        async with self.client_for(self.address()) as client:
            failures, answers = [], set()
            for label, gid in ids.items():
                for name, query in queries.items():
                    response = await self.post(
                        client, query, {"id": gid}, Authorization=self.bearer("villager")
                    )
                    trouble = problems(response)
                    if response.status_code != 200:
                        trouble.append(f"status {response.status_code}")
                    if trouble:
                        failures.append(f"{name}({label}): {trouble}")
                    answers.update(codes_in(response.json()) or ["null"])
            self.record(
                f"{len(ids)} out-of-range and malformed ids × {len(queries)} fields",
                "2^31, 2^63, 2^64, 400 digits, not base64, unknown kinds, 100 kB",
                f"answers {sorted(answers)}",
                failures[:3],
            )
            huge = "A" * 1_048_576
            sending = self.post(client, queries["node"], {"id": huge})
            await self.too_large("a 1 MB id", "node(id: 'AAAA…' 1 MiB)", sending)
            response = await self.post(client, queries["node"], {"id": "A" * 900_000})
            self.expect(
                "a 900 kB id (inside the body limit)",
                "node(id: 'AAAA…' 900 kB)",
                response,
                codes={"NOT_FOUND", "BAD_USER_INPUT"},
            )
            response = await self.post(client, "{ node(id: 1e999) { id } }")
            self.expect(
                "an id literal of 1e999", "{ node(id: 1e999) }", response, codes={"BAD_USER_INPUT"}
            )

    async def odd_requests(self) -> None:
        """A few of the project's own attack tests, cheap over HTTP."""
        async with self.client_for(self.address()) as client:
            response = await self.post(client, "query($p: String) { me { id } }", {"p": "a\x00b"})
            self.expect(
                "NUL in a variable", '{"p": "a\\u0000b"}', response, codes={"BAD_USER_INPUT"}
            )
            response = await client.put("/graphql", json={"query": "{ me { id } }"})
            self.expect("PUT /graphql", "PUT", response, status=405, codes={"BAD_USER_INPUT"})
            response = await client.get("/nowhere/../../etc/passwd")
            self.expect(
                "a path outside the app",
                "GET /nowhere/../../etc/passwd",
                response,
                status=404,
                codes={"NOT_FOUND"},
            )
            response = await client.get("/media/" + "0" * 64 + "/thumb.webp")
            self.expect(
                "a guessed media file",
                "GET /media/000…/thumb.webp",
                response,
                status=404,
                codes={"NOT_FOUND"},
            )
            response = await client.post(
                "/graphql",
                json={
                    "query": "{ me { id } }",
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
                },
            )
            self.expect(
                "a persisted query whose hash does not match",
                "sha256Hash 000…",
                response,
                codes={"BAD_USER_INPUT"},
            )
            response = await self.post(client, "subscription { __typename }")
            self.expect(
                "a subscription over HTTP",
                "subscription { __typename }",
                response,
                codes={"BAD_USER_INPUT"},
            )


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def pixel_bomb() -> bytes:
    """A tiny PNG that would decode to 144 million pixels."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


PDF = (  # one empty A4 page
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


# --- schemathesis ---------------------------------------------------------------------------


@dataclass
class FuzzTally:
    documents: int = 0
    requests: int = 0
    rounds: int = 0
    failures: list[str] = field(default_factory=list)


async def fuzz(
    client: httpx.AsyncClient,
    tokens: Tokens,
    budget: float,
    random_seed: int,
    echo: Callable[[str], None] = print,
) -> FuzzTally:
    """Rounds of schemathesis documents (every operation, both modes) until the budget is
    spent; each new one sent anonymously, as the villager and as the official."""
    from schemathesis.generation import GenerationMode

    from scripts.fuzz_graphql import draw, load_schema

    deadline = time.monotonic() + budget
    operations = [result.ok() for result in load_schema().get_all_operations()]
    tally = FuzzTally()
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    sent: set[str] = set()
    while time.monotonic() < deadline:
        for operation in operations:
            for mode in modes:
                if time.monotonic() >= deadline:
                    return tally
                # hypothesis draws the simplest document first, whatever the seed: the first
                # round sends it for every operation, later ones a few more, new ones only
                examples = 1 if tally.rounds == 0 else 3
                for query in draw(operation, mode, examples, random_seed + tally.rounds):
                    if query in sent:
                        continue
                    sent.add(query)
                    tally.documents += 1
                    for who in ("anonymous", "villager", "official"):
                        headers = {}
                        if who != "anonymous":
                            headers["Authorization"] = f"Bearer {await tokens(who)}"
                        response = await client.post(
                            "/graphql", json={"query": query}, headers=headers
                        )
                        tally.requests += 1
                        trouble = problems(response)
                        if trouble:
                            line = f"{operation.label} ({mode.value}, {who}): {trouble}"
                            tally.failures.append(f"{line}\n     sent: {short(query, 300)}")
                            echo(f"FAIL fuzz {line}")
                        elif who != "anonymous" and signed_out(response.json()):
                            await tokens(who, renew=True)
        tally.rounds += 1
        echo(f"     fuzz round {tally.rounds}: {tally.documents} documents so far")
    return tally


def signed_out(body: Any) -> bool:
    """The token stopped working: a fuzzed logout or password change ended its session."""
    ended = {"TOKEN_REVOKED", "TOKEN_EXPIRED", "ACCOUNT_DISABLED"}
    return bool(ended & set(reasons_in(body)))


class Tokens:
    """The villager's and the official's access tokens, signed in again if a fuzzed
    document signed them out (logout, a password change)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.current: dict[str, str] = {}

    async def __call__(self, who: str, renew: bool = False) -> str:
        if renew or who not in self.current:
            phone = {"villager": VILLAGER, "official": OFFICIAL}[who]
            response = await self.client.post(
                "/graphql",
                json={
                    "query": LOGIN,
                    "variables": {"input": {"phone": phone, "password": DEMO_PASSWORD}},
                },
            )
            token = ((response.json().get("data") or {}).get("login") or {}).get("accessToken")
            if not token:
                raise RuntimeError(f"{who} could not sign in: {response.text[:300]}")
            self.current[who] = token
        return self.current[who]


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextlib.asynccontextmanager
async def own_database(postgres: str | None) -> AsyncIterator[str | None]:
    """A fresh database on the PostgreSQL server of `postgres`, dropped at the end."""
    if not postgres:
        yield None
        return
    import asyncpg

    name = f"cunwu_attack_{os.getpid()}_{secrets.token_hex(3)}"
    dsn = postgres.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(postgres, name)
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def flush_prefix(redis_url: str | None, prefix: str) -> None:
    if not redis_url:
        return
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


def server_env(data_dir: Path, database_url: str, redis_url: str | None, prefix: str) -> dict:
    env = {
        **os.environ,
        "CUNWU_ENV": "development",
        "DATA_DIR": str(data_dir),
        "MEDIA_ROOT": str(data_dir / "media"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "REDIS_PREFIX": prefix,
        "SECRET_KEY": "attack-suite-" + secrets.token_hex(24),
        "CUNWU_DEMO": "0",
        "TRUSTED_PROXIES": "",
    }
    return env


async def prepare(env: dict[str, str], content: bool = False) -> Any:
    """Migrate and seed the demo (the tree, one user of every role) with the server's
    settings; returns the settings."""
    from api.app import create_app
    from api.database import migrate
    from api.settings import Settings
    from scripts.fuzz_graphql import harvest_ids
    from scripts.seed_demo import seed_demo

    settings = Settings.from_env(env)
    await migrate(settings)
    app = create_app(settings.with_overrides(jobs=False))
    async with app.router.lifespan_context(app):
        await seed_demo(settings, content=content)
        await harvest_ids()  # the demo's real ids join schemathesis' pool
    return settings


@contextlib.contextmanager
def server(env: dict[str, str], port: int, log_path: Path) -> Iterator[subprocess.Popen]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--no-proxy-headers",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


async def wait_ready(base_url: str, process: subprocess.Popen, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("the server was not ready in time")


def logged_exceptions(log_path: Path) -> list[str]:
    """The server's logged errors: each traceback's last line, or the line itself."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    found: list[str] = []
    in_traceback = False
    for line in text.splitlines():
        if line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            found.append(line)
            in_traceback = False
        elif not in_traceback and ("ERROR" in line or "unhandled error" in line):
            found.append(line)
    return found


async def attack(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    prefix = f"cunwu-attack-{os.getpid()}:"
    with tempfile.TemporaryDirectory(prefix="cunwu-attack-") as tmp:
        data_dir = Path(tmp)
        async with own_database(args.postgres) as database_url:
            from api.settings import sqlite_url

            url = database_url or sqlite_url(data_dir / "cunwu.sqlite3")
            env = server_env(data_dir, url, args.redis, prefix)
            try:
                settings = await prepare(env, args.content)
                port = free_port()
                base_url = f"http://127.0.0.1:{port}"
                log_path = data_dir / "server.log"
                backend = "PostgreSQL + Redis" if args.postgres else "SQLite"
                print(f"server: {base_url} on {backend} (ready in ", end="", flush=True)
                with server(env, port, log_path) as process:
                    try:
                        await wait_ready(base_url, process)
                    except RuntimeError as exc:
                        print(f"not ready: {exc}\n{log_path.read_text(errors='replace')[-3000:]}")
                        return 1
                    print(f"{time.perf_counter() - started:.1f} s)", flush=True)
                    return await run_parts(args, base_url, settings, log_path, started)
            finally:
                await flush_prefix(args.redis, prefix)


def http_client(base_url: str, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=60)


async def run_parts(
    args: argparse.Namespace, base_url: str, settings: Any, log_path: Path, started: float
) -> int:
    async with http_client(base_url, TOKEN_ADDRESS) as token_client:
        tokens = Tokens(token_client)
        abuse = Abuse(
            client_for=lambda address: http_client(base_url, address),
            tokens={"villager": await tokens("villager"), "official": await tokens("official")},
            max_upload_bytes=settings.media_max_bytes,
            login_attempts=settings.login_attempts,
        )
        abuse_started = time.perf_counter()
        outcomes = await abuse.run()
        abuse_seconds = time.perf_counter() - abuse_started
        fuzz_started = time.perf_counter()
        async with http_client(base_url, FUZZ_ADDRESS) as client:
            tally = await fuzz(client, tokens, args.budget_seconds, args.seed)
        fuzz_seconds = time.perf_counter() - fuzz_started
    failed = [o for o in outcomes if not o.ok]
    exceptions = logged_exceptions(log_path)
    slowest = sorted(abuse.timings.items(), key=lambda item: -item[1])[:3]
    print(
        f"\nabuse: {len(outcomes) - len(failed)} passed, {len(failed)} failed"
        f" ({abuse_seconds:.1f} s; slowest: {', '.join(f'{k} {v:.1f} s' for k, v in slowest)})"
    )
    for outcome in failed:
        print(f"  FAIL {outcome.name}: {outcome.received}")
    print(
        f"schemathesis: {tally.documents} documents in {tally.rounds} full rounds,"
        f" {tally.requests} requests, {len(tally.failures)} failed ({fuzz_seconds:.1f} s)"
    )
    for line in tally.failures[: args.show]:
        print(f"  FAIL {line}")
    if exceptions:
        print(f"server log: {len(exceptions)} errors logged, the first few:")
        for line in exceptions[: args.show]:
            print(f"  {short(line, 300)}")
    total = time.perf_counter() - started
    ok = not failed and not tally.failures and not exceptions
    print(f"{'PASSED' if ok else 'FAILED'} in {total:.1f} s")
    return 0 if ok else 1


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget-seconds", type=float, default=60, help="how long schemathesis sends documents"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--content", action="store_true", help="seed the demo's year of content too (slower)"
    )
    parser.add_argument("--show", type=int, default=10, help="failures to print")
    parser.add_argument("--postgres", help="a PostgreSQL URL: a database of our own is made there")
    parser.add_argument("--redis", help="a Redis URL: keys under a prefix of our own")
    args = parser.parse_args()
    if bool(args.postgres) != bool(args.redis):
        parser.error("--postgres and --redis go together")
    # Ctrl-C (even when started in the background, where SIGINT comes ignored) and SIGTERM
    # (a CI timeout) both end the run through the same clean-up: the server is stopped
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        sys.exit(asyncio.run(attack(args)))
    except KeyboardInterrupt:
        print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
