"""Feed and search under load: `python -m scripts.bench_feed`.

Seeds 1,500 villages × 36 months × 3 disclosures (≈160k) into SQLite (or into the
PostgreSQL database DATABASE_URL points at), serves the app with uvicorn (one worker, in
a child process) and loads the village feed, the township feed and a two-character search
with 64 concurrent keep-alive connections from wrk (as scripts.bench_http: installed from
Debian's packages when missing; Python clients only if it cannot be, which share the two
cores and lower the ceiling). In the same run it measures a plain Starlette route that
returns a JSON body of the same size (the ceiling) and a 10k-disclosure database.
Prints requests/s, p50/p95/p99, SQL queries per request and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from api.database import close_db, migrate, open_db
from api.relay import to_global_id
from api.settings import Settings, sqlite_url
from models.disclosures.search import terms
from scripts.bench_http import Request, Result, find_wrk, run_wrk, wrk_script

ROOT = Path(__file__).resolve().parent.parent
FEED = """query Feed($r: ID!) { disclosures(regionId: $r, first: 20) { edges { cursor node {
  id title category period publishedAt region { name } author { name }
  attachments { thumbnailUrl } commentCount } } pageInfo { hasNextPage endCursor } } }"""
SEARCH = """query Search($q: String!) { disclosures(search: $q, first: 20) { edges { node {
  id title publishedAt region { name } } } pageInfo { hasNextPage endCursor } } }"""
TITLES = [
    ("FINANCE", "{m}月财务收支公开"),
    ("FINANCE", "{m}月上级专项补助款项使用情况"),
    ("FINANCE", "{m}月管理费支出明细"),
    ("VILLAGE_AFFAIRS", "{m}月低保对象名单公示"),
    ("VILLAGE_AFFAIRS", "{m}月修路工程进度"),
    ("VILLAGE_AFFAIRS", "{m}月宅基地审批情况"),
    ("PARTY", "{m}月党费收缴情况"),
    ("PARTY", "{m}月主题党日活动"),
    ("VILLAGE_AFFAIRS", "{m}月村民代表会议决定事项"),
    ("FARMING", "{m}月病虫害防治提示"),
]
BODY_WORDS = [
    "村委会",
    "村民",
    "资金",
    "补助",
    "修路",
    "低保",
    "水渠",
    "公示",
    "监督",
    "预算",
    "合作社",
    "种植",
    "灌溉",
    "验收",
    "发放",
    "审核",
    "公开",
    "意见",
    "上级",
    "拨付",
]


def placeholders(dialect: str, n: int) -> str:
    return (
        ", ".join(f"${i}" for i in range(1, n + 1)) if dialect == "postgres" else ", ".join("?" * n)
    )


def stamp(dialect: str, at: datetime):
    return at if dialect == "postgres" else str(at)


async def seed(settings: Settings, villages: int, months: int, per_month: int) -> int:
    """Insert regions, users, media and disclosures with their search terms, in bulk."""
    from tortoise import Tortoise

    from models.accounts import User
    from models.disclosures import Disclosure
    from models.regions import Region, RegionKind, add_region

    await migrate(settings)
    ctx = await open_db(settings)
    try:
        if await Disclosure.exists():
            return await Disclosure.all().count()
        conn = Tortoise.get_connection("default")
        dialect = "postgres" if not settings.is_sqlite else "sqlite"
        rng = random.Random(7)
        county = await add_region(None, RegionKind.COUNTY, "压测县", "990199000000")
        village_rows: list[Region] = []
        for t in range((villages + 16) // 17):
            township = await add_region(county, RegionKind.TOWNSHIP, f"第{t + 1}镇")
            for v in range(min(17, villages - len(village_rows))):
                village_rows.append(
                    await add_region(township, RegionKind.VILLAGE, f"{t + 1}镇{v + 1}村")
                )
        authors = [
            await User.create(phone=f"1350000{i:04d}", name=f"文书{i}", password_hash="x")
            for i in range(50)
        ]
        now = datetime(2026, 11, 1, tzinfo=UTC)
        media_ids = []
        for i, village in enumerate(village_rows[:200]):
            sha = f"{i:064x}"
            await conn.execute_query(
                f"INSERT INTO media (sha256, upload_sha256, kind, mime_type, purpose, bytes, "
                f"variant_bytes, region_id, uploaded_by_id, restricted, created_at) VALUES "
                f"({placeholders(dialect, 11)})",
                [
                    sha,
                    sha,
                    "IMAGE",
                    "image/jpeg",
                    "RECEIPT",
                    1000,
                    '{"thumb.webp": 1, "medium.webp": 1, "original.jpg": 1}',
                    village.id,
                    authors[0].id,
                    False,
                    stamp(dialect, now),
                ],
            )
        media_ids = [r["id"] for r in await conn.execute_query_dict("SELECT id FROM media")]
        columns = (
            "region_id, region_path, category, title, body, tables, period, attachment_ids, "
            "must_read, status, version, author_id, first_published_at, published_at, "
            "view_count, created_at, updated_at, tags, urgent, row_keys"
        )
        insert = f"INSERT INTO disclosure ({columns}) VALUES ({placeholders(dialect, 20)})"
        term_insert = (
            f"INSERT INTO search_term (term, disclosure_id, in_title, published_at) "
            f"VALUES ({placeholders(dialect, 4)})"
        )
        total = 0
        for village in village_rows:
            rows, texts = [], []
            for month in range(months):
                for k in range(per_month):
                    category, title = rng.choice(TITLES)
                    title = f"{2024 + month // 12}年" + title.format(m=month % 12 + 1)
                    body = "，".join(rng.sample(BODY_WORDS, 8)) + "。"
                    at = now - timedelta(days=30 * month + k * 7, minutes=rng.randrange(1440))
                    attach = (
                        f"[{rng.choice(media_ids)}]" if media_ids and rng.random() < 0.3 else "[]"
                    )
                    rows.append(
                        [
                            village.id,
                            village.path,
                            category,
                            title,
                            body,
                            "[]",
                            f"{2024 + month // 12}-{month % 12 + 1:02d}",
                            attach,
                            False,
                            "PUBLISHED",
                            1,
                            rng.choice(authors).id,
                            stamp(dialect, at),
                            stamp(dialect, at),
                            0,
                            stamp(dialect, at),
                            stamp(dialect, at),
                            "",
                            False,
                            "[]",
                        ]
                    )
                    texts.append((title, body, stamp(dialect, at)))
            await conn.execute_many(insert, rows)
            ids = [
                r["id"]
                for r in await conn.execute_query_dict(
                    f"SELECT id FROM disclosure WHERE region_id = {village.id} ORDER BY id"
                )
            ]
            term_rows = []
            for pk, (title, body, at) in zip(ids, texts, strict=True):
                title_terms = terms(title)
                term_rows += [[t, pk, True, at] for t in title_terms]
                term_rows += [[t, pk, False, at] for t in terms(body) - title_terms]
            await conn.execute_many(term_insert, term_rows)
            total += len(rows)
        if dialect == "postgres":
            await conn.execute_script("ANALYZE")
        else:
            await conn.execute_script("ANALYZE")
        return total
    finally:
        await close_db(ctx)


async def sibling_database(url: str, suffix: str) -> str:
    """A second PostgreSQL database next to DATABASE_URL's (made when missing), so that
    the 10k comparison runs on the same kind of database as the full one."""
    import asyncpg

    base, _, name = url.rpartition("/")
    name = name.split("?")[0] + suffix
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{base}/{name}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(database_url: str, port: int) -> None:
    """Child process: the real app plus /plain, a Starlette route with a fixed JSON body."""
    import uvicorn
    from starlette.requests import Request as HTTPRequest
    from starlette.responses import Response
    from starlette.routing import Route

    from api.app import create_app

    # the execution path is measured here: the response cache would answer repeated feeds
    settings = Settings.from_env().with_overrides(
        database_url=database_url, demo=False, jobs=False, response_cache=False
    )
    app = create_app(settings)
    bodies: dict[int, bytes] = {}

    async def plain(request: HTTPRequest) -> Response:
        size = int(request.query_params.get("size", "1000"))
        if size not in bodies:
            filler = "x" * max(0, size - 12)
            bodies[size] = orjson.dumps({"data": filler})
        return Response(bodies[size], media_type="application/json")

    app.router.routes.append(Route("/plain", plain))
    logging.getLogger("cunwu.access").disabled = True
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def load(port: int, request: Request, clients: int, seconds: float) -> Result:
    """wrk (scripts.bench_http) when it is there: it costs the server's two cores little;
    else the Python clients below, which share them and lower the ceiling they measure."""
    if WRK["path"] is not None:
        with tempfile.TemporaryDirectory(prefix="cunwu-bench-feed-") as work:
            script = wrk_script(request, Path(work))
            url = f"http://127.0.0.1:{port}"
            return await asyncio.to_thread(
                run_wrk, WRK["path"], url, request, script, seconds, clients
            )
    return await python_load(port, raw_requests(request), clients, seconds)


WRK: dict[str, str | None] = {"path": None}


def raw_requests(request: Request) -> list[bytes]:
    head = f"{request.method} {request.path} HTTP/1.1\r\nHost: bench\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    out = []
    for body in request.bodies or (request.body,):
        length = f"Content-Length: {len(body)}\r\n" if body else ""
        out.append((head + length + "\r\n").encode() + body)
    return out


async def python_load(port: int, requests: list[bytes], clients: int, seconds: float) -> Result:
    """Keep-alive HTTP/1.1 clients on raw sockets (the fallback without wrk)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    count = 0

    async def client(i: int) -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = i
        while time.perf_counter() < deadline:
            request = requests[n % len(requests)]
            n += clients
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            latencies.append(time.perf_counter() - started)
            count += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    data = sorted(latencies)

    def pct(p: float) -> float:
        return data[min(len(data) - 1, int(len(data) * p))] * 1000 if data else float("nan")

    rps = count / (time.perf_counter() - started)
    return Result(rps, pct(0.5), pct(0.95), pct(0.99), count, 0)


def post(bodies: list[dict]) -> Request:
    return Request(
        "POST",
        "/graphql",
        {"Content-Type": "application/json"},
        bodies=tuple(orjson.dumps(body) for body in bodies),
    )


def get(path: str) -> Request:
    return Request("GET", path, {})


async def sql_per_request(settings: Settings, body: dict) -> tuple[int, int]:
    """Run one request in process and count the SQL statements tortoise logs."""
    from api.app import create_app

    counter = {"n": 0}

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            counter["n"] += 1

    app = create_app(settings)
    logger = logging.getLogger("tortoise.db_client")
    handler = Count()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as http:
            await http.post("/graphql", json=body)  # warm caches
            level, propagate = logger.level, logger.propagate
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
            try:
                response = await http.post("/graphql", json=body)
            finally:
                logger.removeHandler(handler)
                logger.setLevel(level)
                logger.propagate = propagate
    return counter["n"], len(response.content)


async def region_ids(settings: Settings) -> tuple[list[str], list[str]]:
    from models.regions import Region

    ctx = await open_db(settings)
    try:
        villages = await Region.filter(kind="VILLAGE").values_list("id", flat=True)
        townships = await Region.filter(kind="TOWNSHIP").values_list("id", flat=True)
    finally:
        await close_db(ctx)
    return (
        [to_global_id("Region", v) for v in villages],
        [to_global_id("Region", t) for t in townships],
    )


def start_server(database_url: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, CUNWU_DEMO="0", REDIS_URL="")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.bench_feed", "--serve", database_url, "--port", str(port)],
        cwd=ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return proc, port
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def line(label: str, r: Result, extra: str = "") -> None:
    errors = f"  ({r.errors} errors!)" if r.errors else ""
    print(
        f"  {label:34s} {r.rps:8.0f} req/s  p50 {r.p50_ms:6.1f} ms  p95 {r.p95_ms:6.1f} ms"
        f"  p99 {r.p99_ms:6.1f} ms{extra}{errors}",
        flush=True,
    )


async def measure(name: str, settings: Settings, seconds: float, full: bool) -> dict:
    villages, townships = await region_ids(settings)
    rng = random.Random(1)
    village_reqs = post(
        [
            {"query": FEED, "variables": {"r": v}}
            for v in rng.sample(villages, min(300, len(villages)))
        ]
    )
    township_reqs = post([{"query": FEED, "variables": {"r": t}} for t in townships])
    search_reqs = post(
        [{"query": SEARCH, "variables": {"q": q}} for q in ("补助", "低保", "修路", "党费")]
    )
    sql_village, size = await sql_per_request(
        settings, {"query": FEED, "variables": {"r": villages[0]}}
    )
    sql_township, _ = await sql_per_request(
        settings, {"query": FEED, "variables": {"r": townships[0]}}
    )
    sql_search, _ = await sql_per_request(settings, {"query": SEARCH, "variables": {"q": "补助"}})
    proc, port = start_server(settings.database_url)
    try:
        await load(port, village_reqs, 8, 1.0)  # warm up
        out = {}
        print(f"\n{name}")
        if full:
            plain = await load(port, get(f"/plain?size={size}"), 64, seconds)
            line(f"plain Starlette, {size} B body, 64 cl.", plain)
            out["plain"] = plain
        village = await load(port, village_reqs, 64, seconds)
        extra = f"  SQL/req {sql_village}"
        if full:
            ratio = village.rps / out["plain"].rps
            goal = 0.045 if "PostgreSQL" in name else 0.06  # issue 16
            extra += f"  ratio {ratio:.3f} (goal ≥ {goal} {'PASS' if ratio >= goal else 'MISS'})"
        line("village feed, 64 clients", village, extra)
        out["village"] = village
        village8 = await load(port, village_reqs, 8, seconds)
        line("village feed, 8 clients", village8, "  (goal p95 < 30 ms)" if full else "")
        out["village8"] = village8
        if full:
            township = await load(port, township_reqs, 64, seconds)
            line("township feed, 64 clients", township, f"  SQL/req {sql_township}")
            search = await load(port, search_reqs, 64, seconds)
            line("search 补助/低保/修路/党费, 64 clients", search, f"  SQL/req {sql_search}")
            search8 = await load(port, search_reqs, 8, seconds)
            line("search, 8 clients", search8, "  (goal p95 < 50 ms)")
        return out
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--villages", type=int, default=1500)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--per-month", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    logging.basicConfig(level=logging.WARNING)
    WRK["path"] = find_wrk()
    print(
        "load generator: "
        + (
            f"wrk ({WRK['path']})"
            if WRK["path"]
            else "Python clients (wrk missing: a lower ceiling)"
        )
    )
    base = Settings.from_env().with_overrides(jobs=False)  # requests only, no scheduler
    work = ROOT / "data" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    if base.database_url.startswith("postgres"):
        full_url = base.database_url
        label = "PostgreSQL"
    else:
        full_url = sqlite_url(work / f"feed-{args.villages}-{args.months}-{args.per_month}.sqlite3")
        label = "SQLite"
    # 10k disclosures with full pages: 480 villages × 22 months, so both feeds show 20 items.
    small_url = (
        asyncio.run(sibling_database(full_url, "_feed10k"))
        if label == "PostgreSQL"
        else sqlite_url(work / "feed-480-22-1.sqlite3")
    )
    full = base.with_overrides(database_url=full_url, redis_url=None)
    small = base.with_overrides(database_url=small_url, redis_url=None)
    started = time.perf_counter()
    n_full = asyncio.run(seed(full, args.villages, args.months, args.per_month))
    n_small = asyncio.run(seed(small, 480, 22, 1))
    print(
        f"datasets ready in {time.perf_counter() - started:.0f} s: {n_full} disclosures "
        f"and {n_small} ({label})"
    )
    big = asyncio.run(
        measure(f"{n_full} disclosures, {label}, one uvicorn worker", full, args.seconds, True)
    )
    little = asyncio.run(measure(f"{n_small} disclosures, {label}", small, args.seconds, False))
    ratio = big["village8"].p50_ms / little["village8"].p50_ms
    print(
        f"\nvillage feed p50 at 8 clients: {big['village8'].p50_ms:.1f} ms on {n_full} vs "
        f"{little['village8'].p50_ms:.1f} ms on {n_small}: {ratio:.2f}× (goal ≤ 1.5×)"
    )


if __name__ == "__main__":
    main()
