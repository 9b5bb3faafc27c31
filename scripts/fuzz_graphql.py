"""Fuzz the GraphQL endpoint with schemathesis (GraphQL mode) and count internal errors.

    python -m scripts.fuzz_graphql [--examples 40] [--seed 11] [--show 5]

Every query and mutation of the served schema gets `--examples` generated documents in
each of schemathesis' modes (positive: valid documents; negative: documents that break the
schema on purpose), each sent twice through the ASGI app on a fresh demo database:
anonymously and with a demo user's bearer token (rotating through villager, clerk,
supervisor, official and admin). IDs are drawn from the demo's real ids, crafted ones
(past 2^31, other scripts' digits, wrong kinds) and random text. The run prints how many
answers were INTERNAL_SERVER_ERROR (or a 5xx, or not JSON) per operation, with the first
few exceptions from the log. `DATABASE_URL=postgres://…` runs it on PostgreSQL (the
database is emptied first: use a scratch one).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import httpx
import orjson
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes

from api.relay import to_global_id

KINDS = ("Region", "Disclosure", "Flag", "Comment", "Media", "User", "CatalogueItem", "RoleGrant")
ODD_KEYS = ("0", "1", "2", "3", "7", str(2**31 - 1), str(2**31), str(2**63), "²", "٣", "+1", "01")
ID_POOL: list[str] = [to_global_id(kind, key) for kind in KINDS for key in ODD_KEYS[:6]]
ID_POOL += [
    base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")
    for kind in KINDS
    for key in ODD_KEYS[6:]
]
SIGNED_IN = ("13800000006", "13800000004", "13800000005", "13800000003", "13800000001")
_registered = False


def register_scalars() -> None:
    """Strategies for the schema's own scalars, and IDs worth sending."""
    global _registered
    if _registered:
        return
    _registered = True
    text = st.text(max_size=30)
    scalar = schemathesis.graphql.scalar
    scalar(
        "Date",
        st.one_of(st.dates().map(lambda d: nodes.String(d.isoformat())), text.map(nodes.String)),
    )
    scalar(
        "DateTime",
        st.one_of(
            st.datetimes().map(lambda d: nodes.String(d.isoformat())),
            st.datetimes(timezones=st.timezones()).map(lambda d: nodes.String(d.isoformat())),
            text.map(nodes.String),
        ),
    )
    scalar("GenericScalar", st.one_of(text.map(nodes.String), st.integers().map(nodes.Int)))
    scalar("Upload", st.just(nodes.Null))
    # the pool grows once the demo's ids are known: draw an index, read the pool late
    pooled = st.integers(min_value=0, max_value=10**9).map(
        lambda i: nodes.String(ID_POOL[i % len(ID_POOL)])
    )
    scalar("ID", st.one_of(pooled, pooled, pooled, text.map(nodes.String)))


def load_schema() -> Any:
    from api.schema import schema

    register_scalars()
    return schemathesis.graphql.from_dict(graphql.introspection_from_schema(schema.graphql_schema))


@dataclass
class Case:
    label: str
    mode: str
    query: str


def draw(operation: Any, mode: GenerationMode, examples: int, random_seed: int) -> list[str]:
    bodies: list[str] = []

    @seed(random_seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        if isinstance(case.body, str):
            bodies.append(case.body)

    try:
        collect()
    except Exception as exc:  # an operation it cannot break in this mode
        if mode == GenerationMode.POSITIVE:
            raise
        logging.getLogger("fuzz").debug("%s %s: %s", operation.label, mode, exc)
    return bodies


def generate(examples: int, random_seed: int, only: Iterable[str] | None = None) -> list[Case]:
    """`examples` documents per operation and mode, the same ones for the same seed."""
    loaded = load_schema()
    wanted = set(only) if only else None
    out: list[Case] = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        if wanted and operation.label not in wanted:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            bodies = draw(operation, mode, examples, random_seed)
            out += [Case(operation.label, mode.value, body) for body in bodies]
    return out


class ErrorLog(logging.Handler):
    """The exceptions the app logged, by request id."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.by_rid: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        rid = record.getMessage().rpartition("rid=")[2]
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.by_rid[rid] = f"{type(exc).__name__}: {str(exc)[:200]}"


@dataclass
class Tally:
    requests: int = 0
    internal: int = 0
    by_operation: Counter[str] = field(default_factory=Counter)
    by_viewer: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[str, str, str]] = field(default_factory=list)


def internal_error(response: httpx.Response) -> str | None:
    """The request id of an internal error in this answer, "-" for one without; None if none."""
    if response.status_code >= 500:
        return response.headers.get("x-request-id", "-")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "-"
    for error in body.get("errors") or () if isinstance(body, dict) else ():
        if (error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR":
            return response.headers.get("x-request-id", "-")
    return None


async def send_all(
    client: httpx.AsyncClient, cases: list[Case], tokens: list[str], errors: ErrorLog
) -> Tally:
    tally = Tally()
    for n, case in enumerate(cases):
        token = tokens[n % len(tokens)] if tokens else None
        for viewer, auth in (("anonymous", None), ("signed-in", token)):
            if viewer == "signed-in" and not auth:
                continue
            headers = {"Authorization": f"Bearer {auth}"} if auth else {}
            response = await client.post("/graphql", json={"query": case.query}, headers=headers)
            tally.requests += 1
            rid = internal_error(response)
            if rid is None:
                continue
            tally.internal += 1
            tally.by_operation[case.label] += 1
            tally.by_viewer[viewer] += 1
            tally.examples.append(
                (case.label, case.query, errors.by_rid.get(rid, response.text[:200]))
            )
    return tally


async def demo_client(data_dir: Path, database_url: str | None = None) -> Any:
    """An app on a migrated demo database, with its lifespan running; yields the client."""
    from api.app import create_app
    from api.database import migrate
    from api.settings import Settings, sqlite_url
    from scripts.seed_demo import seed_demo

    settings = Settings(
        env="test",
        data_dir=data_dir,
        media_root=data_dir / "media",
        secret_key="fuzz-secret-key-" + "x" * 32,
        demo=False,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        database_url=database_url or sqlite_url(data_dir / "cunwu.sqlite3"),
        jobs=False,  # no scheduler ticking under the fuzzer
    )
    await migrate(settings)
    app = create_app(settings)
    return app, settings, seed_demo


async def harvest_ids() -> None:
    """Real ids of the demo database join the pool."""
    from models.accounts import User
    from models.comments import Comment
    from models.disclosures import Disclosure
    from models.flags import Flag
    from models.regions import Region

    for model, kind in (
        (Region, "Region"),
        (Disclosure, "Disclosure"),
        (User, "User"),
        (Flag, "Flag"),
        (Comment, "Comment"),
    ):
        for pk in await model.all().limit(30).values_list("id", flat=True):
            ID_POOL.append(to_global_id(kind, pk))


async def fuzz(
    examples: int,
    random_seed: int,
    only: Iterable[str] | None = None,
    database_url: str | None = None,
) -> tuple[int, Tally]:
    """Generate (once the demo's ids are in the pool) and send; (documents, tally)."""
    from tests.client import GQL

    errors = ErrorLog()
    app_log = logging.getLogger("cunwu")
    app_log.addHandler(errors)
    app_log.setLevel(logging.ERROR)
    app_log.propagate = False  # counted here, not printed
    with tempfile.TemporaryDirectory() as tmp:
        app, settings, seed_demo = await demo_client(Path(tmp), database_url)
        async with app.router.lifespan_context(app):
            await seed_demo(settings, content=True)
            await harvest_ids()
            cases = generate(examples, random_seed, only)
            transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                gql = GQL(client)
                tokens = [await gql.login(phone) for phone in SIGNED_IN]
                return len(cases), await send_all(client, cases, tokens, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40, help="documents per operation and mode")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--show", type=int, default=5, help="internal errors to print")
    parser.add_argument("--only", nargs="*", help="operation labels, e.g. Query.holidays")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    started = time.perf_counter()
    documents, tally = asyncio.run(
        fuzz(args.examples, args.seed, args.only, os.environ.get("DATABASE_URL"))
    )
    print(
        f"{documents} documents, {tally.requests} requests ({time.perf_counter() - started:.0f} s):"
        f" {tally.internal} INTERNAL_SERVER_ERROR"
    )
    for viewer, count in sorted(tally.by_viewer.items()):
        print(f"  {viewer}: {count}")
    for label, count in tally.by_operation.most_common():
        print(f"  {label}: {count}")
    for label, query, error in tally.examples[: args.show]:
        print(f"--- {label}: {error}\n{query}")


if __name__ == "__main__":
    main()
