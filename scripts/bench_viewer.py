"""What a signed-in request spends on its viewer, with and without the viewer cache:
`python -m scripts.bench_viewer [--postgres postgres://…/db --redis redis://…] [--n 2000]`.

On SQLite (in a temporary directory) and, when given, on PostgreSQL + Redis (a scratch
database next to the one named, dropped afterwards): the demo accounts, a signed-in clerk,
then in the same run and interleaved
1. `load_viewer` alone: the database path (session, user, grants) against the cache;
2. a whole request (`{ me { id name } }` over ASGI): an app with VIEWER_CACHE_SECONDS=0
   against one with the cache.
Prints the mean and p50 per call in microseconds and the ratio cached / uncached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from api.app import create_app
from api.context import load_viewer
from api.database import migrate
from api.settings import Settings, sqlite_url
from scripts.seed_demo import DEMO_PASSWORD, seed_demo

CLERK = "13800000004"
ME = '{"query": "{ me { id name } }"}'
LOGIN = """mutation($input: LoginInput!) { login(input: $input) { accessToken } }"""


async def timed(n: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(min(50, n)):  # warm up
        await call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        out.append(time.perf_counter() - start)
    return out


def line(name: str, samples: list[float]) -> str:
    return (
        f"  {name:<26} mean {statistics.fmean(samples) * 1e6:8.0f} µs"
        f"   p50 {statistics.median(samples) * 1e6:8.0f} µs"
    )


def compare(title: str, uncached: list[float], cached: list[float]) -> None:
    print(title)
    print(line("uncached (database)", uncached))
    print(line("cached", cached))
    ratio = statistics.median(cached) / statistics.median(uncached)
    print(f"  ratio cached / uncached (p50): {ratio:.2f}")


async def bench(settings: Settings, n: int) -> None:
    await migrate(settings)
    cached_app = create_app(settings)
    plain_app = create_app(settings.with_overrides(viewer_cache_seconds=0))
    async with cached_app.router.lifespan_context(cached_app):
        await seed_demo(settings, content=False)
        services = cached_app.state.services
        transport = httpx.ASGITransport(app=cached_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            body = {"query": LOGIN, "variables": {"input": {"phone": CLERK}}}
            body["variables"]["input"]["password"] = DEMO_PASSWORD
            token = (await client.post("/graphql", json=body)).json()["data"]["login"]
            header = f"Bearer {token['accessToken']}"

            async def db_viewer() -> object:
                return await load_viewer(settings.auth, header)

            async def cache_viewer() -> object:
                return await load_viewer(settings.auth, header, services.viewers)

            uncached: list[float] = []
            cached: list[float] = []
            for _ in range(4):  # interleaved: load on the machine falls on both alike
                uncached += await timed(n // 4, db_viewer)
                cached += await timed(n // 4, cache_viewer)
            compare("load_viewer", uncached, cached)

            # the same request through an app without the cache (its services, this database)
            plain_app.state.services = type(services).build(
                plain_app.state.settings, services.redis
            )
            plain_transport = httpx.ASGITransport(app=plain_app)
            async with httpx.AsyncClient(
                transport=plain_transport, base_url="http://bench"
            ) as plain:
                headers = {"Authorization": header, "Content-Type": "application/json"}

                async def plain_request() -> object:
                    return await plain.post("/graphql", content=ME, headers=headers)

                async def cached_request() -> object:
                    return await client.post("/graphql", content=ME, headers=headers)

                assert (await plain_request()).json() == (await cached_request()).json()
                uncached, cached = [], []
                for _ in range(4):
                    uncached += await timed(n // 8, plain_request)
                    cached += await timed(n // 8, cached_request)
                compare("request { me { id name } }", uncached, cached)


def scratch_database(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/cunwu_bench_viewer"))


async def with_postgres(url: str, redis: str | None, n: int) -> None:
    import asyncpg

    admin = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute("DROP DATABASE IF EXISTS cunwu_bench_viewer WITH (FORCE)")
        await admin.execute("CREATE DATABASE cunwu_bench_viewer")
        with tempfile.TemporaryDirectory() as tmp:
            settings = base(Path(tmp)).with_overrides(
                database_url=scratch_database(url),
                redis_url=redis,
                redis_prefix="cunwu-bench-viewer:",
            )
            await bench(settings, n)
    finally:
        await admin.execute("DROP DATABASE IF EXISTS cunwu_bench_viewer WITH (FORCE)")
        await admin.close()


def base(tmp: Path) -> Settings:
    return Settings(
        env="bench",
        data_dir=tmp,
        media_root=tmp / "media",
        database_url=sqlite_url(tmp / "cunwu.sqlite3"),
        secret_key="bench-secret-key-" + "x" * 32,
        demo=False,
        jobs=False,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        login_attempts=10_000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--only", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(bench(base(Path(tmp)), args.n))
        return
    if args.only == "postgres":
        asyncio.run(with_postgres(args.postgres, args.redis, args.n))
        return
    # one process per database: tortoise caches statements per connection name, not dialect
    print("== SQLite, no Redis (stamp file) ==", flush=True)
    run = [sys.executable, "-m", "scripts.bench_viewer", "--n", str(args.n)]
    subprocess.run([*run, "--only", "sqlite"], check=True)
    if args.postgres:
        print(f"== PostgreSQL{' + Redis' if args.redis else ''} ==", flush=True)
        extra = ["--postgres", args.postgres] + (["--redis", args.redis] if args.redis else [])
        subprocess.run([*run, "--only", "postgres", *extra], check=True)


if __name__ == "__main__":
    main()
