"""The home screen and the village feed over real HTTP, against a plain Starlette route:
`python -m scripts.bench_http [--postgres URL --redis URL] [--only sqlite|postgres]
[--seconds 5] [--rounds 3] [--connections 64]`.

For each backend (SQLite in a fresh temporary data directory; PostgreSQL + Redis in a
database of its own made on `--postgres` and a Redis key prefix of its own, both dropped
at the end; default TEST_DATABASE_URL / TEST_REDIS_URL) it migrates, seeds the demo with
its year of content (scripts.seed_demo), on PostgreSQL gathers planner statistics (ANALYZE,
as autovacuum would), and serves the app with uvicorn subprocesses on
127.0.0.1 (CUNWU_JOBS=0, no access log). The load comes from wrk (Debian's package,
installed with apt-get when missing): 64 keep-alive connections on 2 wrk threads, every
request with `Accept-Encoding: gzip`. The servers run side by side; each of `--rounds`
rounds measures the plain route, then every case for `--seconds` (the first round after a
warm-up), and a case's ratio is taken against the plain route of its own round: this
machine's speed drifts by 10–20 % within minutes, and a ratio of two figures measured
minutes apart drifted with it. The report gives the median over the rounds and the range.

Cases, in 东溪村 (the demo's village with the most content):
- home, anonymous, cached: GET with the public home query of docs/api.md (query string),
  answered from the response cache; with 1 and with 2 uvicorn workers;
- home, anonymous, uncached: the same GET to a server started with RESPONSE_CACHE=0;
- home, signed in: the whole screen in one query with a villager's token (POST; a
  signed-in request never uses the response cache);
- village feed, anonymous, uncached: bench_feed's `disclosures(regionId, first: 20)` query
  (POST) to the RESPONSE_CACHE=0 server; and the same signed in.

A diagnostic beside the cases, with 1 and 2 workers: the cached home and the plain route
with wrk writing 16 requests at once on each connection (HTTP/1.1 pipelining). wrk then
costs the two cores far less per request, which shows how the server itself scales with a
second worker; phones do not pipeline, so no goal is read from it.

Baseline, same run and same worker count: a plain Starlette app (its own uvicorn process)
whose one route answers the exact bytes and headers of the gzipped cached home answer.
Prints req/s, p50/p99, the server's CPU per request (user + system time of the uvicorn
processes over the measured run, from /proc: with two workers it shows whether the work per
request grows or only the cores run out), each case's ratio to the baseline's req/s, the
gzipped home size, and the speed goals next to the figures (PASS / MISS).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
VILLAGER = "13800000006"  # 赵大山, verified resident of 东溪村 (scripts.seed_demo)
HOME_PUBLIC = """query Home($v: ID!) { home(villageId: $v) { serverTime village { id name }
  latest { id title category publishedAt mustRead urgency thumbnailUrl commentCount }
  prices { commodity { name unit } market { name } date priceFen changePermille }
  compliance { onTimePermille rank ranked grade } } }"""
HOME_SIGNED_IN = """query Home($v: ID!) { home(villageId: $v) {
  serverTime latest { id title category publishedAt mustRead urgency thumbnailUrl commentCount }
  mustReadNotices { id title publishedAt urgency } unreadNotificationCount
  prices { commodity { name unit } market { name } date priceFen changePermille }
  compliance { onTimePermille rank ranked grade } } }"""
FEED = """query Feed($r: ID!) { disclosures(regionId: $r, first: 20) { edges { cursor node {
  id title category period publishedAt region { name } author { name }
  attachments { thumbnailUrl } commentCount } } pageInfo { hasNextPage endCursor } } }"""
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"
GZIP_GOAL_BYTES = 8 * 1024
PLAIN_CASE = "plain Starlette, same bytes"
CACHED_CASES = ("home, anonymous, cached", "home, anon., cached, APQ hash")
# A diagnostic, not a goal: with 16 requests a write, wrk spends far less CPU a request,
# so two workers on two cores show how the server scales once the client leaves it room.
PIPELINE = 16
PIPELINED_CASES = (f"home, cached, {PIPELINE} pipelined", f"plain Starlette, {PIPELINE} pipelined")
# wrk's `done` callback: one JSON line the parent reads (latencies in microseconds)
DONE_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "status_errors": %d, '
    .. '"socket_errors": %d, "p50_us": %.0f, "p95_us": %.0f, "p99_us": %.0f}\\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
# several bodies (one a line in a file): each thread sends them in turn
ROTATE_LUA = """
local bodies = {}
for line in io.lines(%s) do bodies[#bodies + 1] = line end
local prepared = {}
local n = 0
init = function(args)
  for i, body in ipairs(bodies) do prepared[i] = wrk.format(nil, nil, nil, body) end
end
request = function()
  n = n %% #prepared + 1
  return prepared[n]
end
"""


# the same request `n` times in one write (its method, path, headers and body)
PIPELINE_LUA = """
local batch
init = function(args)
  local r = {}
  for i = 1, %d do r[i] = wrk.format() end
  batch = table.concat(r)
end
request = function() return batch end
"""


# -- the load generator -----------------------------------------------------------------------


def find_wrk(install: bool = True) -> str | None:
    """wrk's path; installed from Debian's packages when missing (we run as root)."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print("wrk is missing and cannot be installed here (needs apt-get as root)")
        return None
    print("wrk is missing: installing Debian's package (apt-get install -y wrk)", flush=True)
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run([apt, "install", "-y", "wrk"], env=env, **quiet).returncode != 0:
        subprocess.run([apt, "update"], env=env, **quiet)
        subprocess.run([apt, "install", "-y", "wrk"], env=env, **quiet)
    found = shutil.which("wrk")
    if not found:
        print("wrk could not be installed (apt-get install -y wrk failed)")
    return found


@dataclass
class Request:
    """A request as wrk sends it; `bodies`: sent in turn instead of `body` (same headers)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    bodies: tuple[bytes, ...] = ()
    pipeline: int = 1  # requests written at once on a connection (HTTP/1.1 pipelining)


@dataclass
class Result:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us: float = 0.0  # the server's CPU (its processes, user + system) per request

    @classmethod
    def parse(cls, output: str) -> Result:
        line = next(x for x in output.splitlines() if x.startswith("BENCH "))
        data = json.loads(line[6:])
        return cls(
            rps=data["requests"] / (data["duration_us"] / 1e6),
            p50_ms=data["p50_us"] / 1000,
            p95_ms=data["p95_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            requests=data["requests"],
            errors=data["status_errors"] + data["socket_errors"],
        )


def lua_string(text: str) -> str:
    level = "="
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def wrk_script(request: Request, work: Path) -> Path:
    """A Lua script for wrk: method, headers, the body or bodies (read from a file), `done`."""
    name = secrets.token_hex(4)
    lines = [f"wrk.method = {lua_string(request.method)}"]
    for header, value in request.headers.items():
        lines.append(f"wrk.headers[ {lua_string(header)} ] = {lua_string(value)}")
    if request.bodies:
        bodies_path = work / f"bodies-{name}.txt"
        assert all(b"\n" not in body for body in request.bodies)
        bodies_path.write_bytes(b"\n".join(request.bodies) + b"\n")
        lines.append(ROTATE_LUA % lua_string(str(bodies_path)))
    elif request.body:
        body_path = work / f"body-{name}.bin"
        body_path.write_bytes(request.body)
        lines.append(f"local f = io.open({lua_string(str(body_path))}, 'rb')")
        lines.append("wrk.body = f:read('*a')")
        lines.append("f:close()")
    if request.pipeline > 1:  # wrk sends what `request` answers in one write
        lines.append(PIPELINE_LUA % request.pipeline)
    path = work / f"wrk-{name}.lua"
    path.write_text("\n".join(lines) + "\n" + DONE_LUA)
    return path


def run_wrk(
    wrk: str, base_url: str, request: Request, script: Path, seconds: float, connections: int
) -> Result:
    """wrk for whole seconds: 2 threads (one where there is one connection), 10 s timeout."""
    threads = min(2, connections)
    command = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base_url + request.path,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0 or "BENCH " not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return Result.parse(done.stdout)


# -- the servers ------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plain_app() -> Any:
    """The baseline (uvicorn factory): one Starlette route answering fixed bytes and headers,
    read from the file BENCH_HTTP_PLAIN names (the app's gzipped home answer)."""
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    spec = json.loads(Path(os.environ["BENCH_HTTP_PLAIN"]).read_text())
    body = base64.b64decode(spec["body"])
    headers = dict(spec["headers"])
    media_type = headers.pop("content-type", None)

    async def plain(request: StarletteRequest) -> Response:
        return Response(body, media_type=media_type, headers=headers)

    return Starlette(routes=[Route("/plain", plain, methods=["GET"])])


@contextlib.contextmanager
def uvicorn(
    target: str, env: dict[str, str], workers: int, log_path: Path
) -> Iterator[tuple[str, subprocess.Popen]]:
    """uvicorn in a child process group on a free port; stopped (SIGINT) at the end."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--no-proxy-headers",
        "--log-level",
        "warning",
    ]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield f"http://127.0.0.1:{port}", process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def wait_ready(base_url: str, process: subprocess.Popen, path: str, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the server exited ({process.returncode}):\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base_url + path, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} was not ready in time")


def app_env(data_dir: Path, database_url: str, redis_url: str | None, prefix: str) -> dict:
    return {
        **os.environ,
        "CUNWU_ENV": "development",
        "DATA_DIR": str(data_dir),
        "MEDIA_ROOT": str(data_dir / "media"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "REDIS_PREFIX": prefix,
        "SECRET_KEY": "bench-http-" + secrets.token_hex(24),
        "CUNWU_DEMO": "0",
        "CUNWU_JOBS": "0",
        "ACCESS_TOKEN_SECONDS": "3600",  # the villager's token outlives the run
        "TRUSTED_PROXIES": "",
    }


def prepare_main() -> None:
    """Child (`--prepare`): migrate and seed the demo with content into the database of the
    environment; print the global id of 东溪村."""
    import asyncio

    from tortoise import Tortoise

    from api.app import create_app
    from api.database import migrate
    from api.relay import to_global_id
    from api.settings import Settings
    from scripts.seed_demo import seed_demo

    async def run() -> str:
        settings = Settings.from_env()
        await migrate(settings)
        app = create_app(settings.with_overrides(jobs=False))
        async with app.router.lifespan_context(app):
            demo = await seed_demo(settings, content=True)
            if not settings.is_sqlite:
                # planner statistics, as autovacuum keeps them in production (it may be
                # off on a test cluster: without them every estimate is one row)
                await Tortoise.get_connection("default").execute_script("ANALYZE")
        assert demo is not None, "the database was not empty"
        return to_global_id("Region", demo.villages[0].id)

    print("VILLAGE " + asyncio.run(run()), flush=True)


def prepare(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench_http", "--prepare"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return next(x[8:] for x in done.stdout.splitlines() if x.startswith("VILLAGE "))


# -- one backend ------------------------------------------------------------------------------


@dataclass
class Row:
    """One case over the rounds: each round's result, and the plain route's req/s measured
    in the same round just before it (same worker count)."""

    case: str
    backend: str
    workers: int
    results: list[Result]
    baselines: list[float]
    goal: float | None = None

    @property
    def ratios(self) -> list[float]:
        return [r.rps / b for r, b in zip(self.results, self.baselines, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def result(self) -> Result:
        """The median of each figure over the rounds (errors: their sum)."""
        rs = self.results

        def mid(name: str) -> float:
            return statistics.median(getattr(r, name) for r in rs)

        return Result(
            rps=mid("rps"),
            p50_ms=mid("p50_ms"),
            p95_ms=mid("p95_ms"),
            p99_ms=mid("p99_ms"),
            requests=sum(r.requests for r in rs),
            errors=sum(r.errors for r in rs),
            cpu_us=mid("cpu_us"),
        )


@dataclass
class Measured:
    backend: str
    rows: list[Row]
    home_bytes: int
    home_gzip_bytes: int


GZIP = {"Accept-Encoding": "gzip"}


def home_get(village: str, persisted: bool = False) -> Request:
    """The public home query over GET: its text in the query string, or (`persisted`) only
    its sha256 (automatic persisted queries, as a phone sends it once the server knows it)."""
    params = {"variables": json.dumps({"v": village})}
    if persisted:
        sha256 = hashlib.sha256(HOME_PUBLIC.encode()).hexdigest()
        params["extensions"] = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha256}})
    else:
        params["query"] = HOME_PUBLIC
    return Request("GET", "/graphql?" + urlencode(params), dict(GZIP))


def register_persisted(base_url: str, village: str) -> Request:
    """Teach every worker the home query's hash (without Redis each keeps its own): sent with
    its text on fresh connections until the hash alone is answered on 30 in a row."""
    apq = home_get(village, persisted=True)
    with_text = Request("GET", apq.path + "&" + urlencode({"query": HOME_PUBLIC}), apq.headers)
    for _ in range(20):
        for _ in range(10):
            check(base_url, with_text)
        try:
            for _ in range(30):
                check(base_url, apq)
            return apq
        except RuntimeError:
            continue
    raise RuntimeError("the persisted home query was not learnt by every worker")


def post(query: str, variables: dict, token: str | None = None) -> Request:
    headers = {**GZIP, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    return Request("POST", "/graphql", headers, body)


def check(base_url: str, request: Request) -> httpx.Response:
    """One request the way wrk will send it: a 200 with data and no errors, or stop."""
    response = httpx.request(
        request.method,
        base_url + request.path,
        headers=request.headers,
        content=request.body or None,
        timeout=30,
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors") or not body.get("data"):
        raise RuntimeError(f"{request.method} {request.path[:60]}: {response.text[:500]}")
    return response


def raw_answer(base_url: str, request: Request) -> tuple[bytes, list[tuple[str, str]]]:
    """The answer's bytes as sent (still gzipped) and its headers."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", base_url + request.path, headers=request.headers) as response,
    ):
        body = b"".join(response.iter_raw())
        return body, list(response.headers.items())


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (uvicorn's workers), read
    from /proc (0 where there is none)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    family, total = {pid}, 0.0
    for _ in range(3):  # uvicorn's workers, and whatever they start
        family |= {p for p, (parent, _) in stats.items() if parent in family}
    for member in family:
        total += stats.get(member, (0, 0.0))[1]
    return total


@dataclass
class Case:
    name: str  # as reported (PLAIN_CASE, CACHED_CASES, …)
    label: str  # as printed while measuring
    base_url: str
    request: Request
    server: int  # the uvicorn process's pid
    goal: float | None = None


class Bench:
    def __init__(self, wrk: str, work: Path, seconds: float, connections: int, rounds: int) -> None:
        self.wrk = wrk
        self.work = work
        self.seconds = seconds
        self.connections = connections
        self.rounds = rounds

    def measure(
        self, base_url: str, request: Request, label: str, server: int, warm_up: bool = True
    ) -> Result:
        """`server`: the uvicorn process's pid, whose CPU (with its workers') is counted."""
        script = wrk_script(request, self.work)
        if warm_up:
            run_wrk(self.wrk, base_url, request, script, min(2.0, self.seconds), self.connections)
        before = tree_cpu_seconds(server)
        result = run_wrk(self.wrk, base_url, request, script, self.seconds, self.connections)
        result.cpu_us = (tree_cpu_seconds(server) - before) / max(result.requests, 1) * 1e6
        errors = f"  ({result.errors} errors!)" if result.errors else ""
        print(
            f"  {label:44s} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.1f} ms"
            f"  p99 {result.p99_ms:6.1f} ms  server CPU {result.cpu_us:6.0f} µs/req{errors}",
            flush=True,
        )
        return result

    def rounds_of(self, plain: Case, cases: list[Case], backend: str, workers: int) -> list[Row]:
        """Each round measures the plain route, then every case: a case's ratio is taken
        against the plain route of its own round (this machine's speed drifts by 10–20 %
        within minutes), and the report gives the median over the rounds."""
        results: dict[str, list[Result]] = {c.name: [] for c in (plain, *cases)}
        for number in range(self.rounds):
            print(f"  round {number + 1}/{self.rounds}, {workers} worker(s):", flush=True)
            for case in (plain, *cases):
                result = self.measure(
                    case.base_url, case.request, case.label, case.server, warm_up=number == 0
                )
                results[case.name].append(result)
        baselines = [r.rps for r in results[plain.name]]
        return [
            Row(c.name, backend, workers, results[c.name], baselines, c.goal)
            for c in (plain, *cases)
        ]

    def backend(
        self, label: str, database_url: str, redis_url: str | None, feed_goal: float
    ) -> Measured:
        data_dir = Path(tempfile.mkdtemp(prefix="cunwu-bench-http-", dir=self.work))
        prefix = f"cunwu-bench-http-{os.getpid()}:"
        env = app_env(data_dir, database_url, redis_url, prefix)
        uncached_env = {**env, "RESPONSE_CACHE": "0"}
        log_path = data_dir / "server.log"
        started = time.perf_counter()
        village = prepare(env)
        print(f"\n{label}: demo seeded in {time.perf_counter() - started:.0f} s", flush=True)
        home = home_get(village)
        rows: list[Row] = []
        plain_spec = data_dir / "plain.json"
        plain_env = {**os.environ, "BENCH_HTTP_PLAIN": str(plain_spec)}
        home_bytes = gzip_bytes = 0
        for workers in (1, 2):
            with contextlib.ExitStack() as servers:
                url, process = servers.enter_context(
                    uvicorn("api.app:create_app", env, workers, log_path)
                )
                wait_ready(url, process, "/readyz", log_path)
                server = process.pid
                if workers == 1:
                    plain_body = check(url, home).content
                    home_bytes = len(plain_body)
                    body, headers = raw_answer(url, home)
                    gzip_bytes = len(body)
                    if "public" not in dict(headers).get("cache-control", ""):
                        raise RuntimeError(f"the home answer was not cached: {headers}")
                    kept = [
                        (k, v)
                        for k, v in headers
                        if k not in ("date", "server", "content-length", "transfer-encoding")
                    ]
                    plain_spec.write_text(
                        json.dumps({"body": base64.b64encode(body).decode(), "headers": kept})
                    )
                    print(f"  home answer: {home_bytes} B, {gzip_bytes} B gzipped", flush=True)
                plain_url, plain_process = servers.enter_context(
                    uvicorn("scripts.bench_http:plain_app", plain_env, workers, log_path)
                )
                wait_ready(plain_url, plain_process, "/plain", log_path)
                plain = Case(
                    PLAIN_CASE,
                    "plain",
                    plain_url,
                    Request("GET", "/plain", dict(GZIP)),
                    plain_process.pid,
                )
                apq = register_persisted(url, village)
                piped = Request(home.method, home.path, home.headers, pipeline=PIPELINE)
                piped_plain = Request("GET", "/plain", dict(GZIP), pipeline=PIPELINE)
                cases = [
                    Case(CACHED_CASES[0], "home, anonymous, cached (GET)", url, home, server, 0.6),
                    Case(
                        CACHED_CASES[1],
                        "home, anonymous, cached (GET, APQ hash)",
                        url,
                        apq,
                        server,
                        0.6,
                    ),
                    Case(PIPELINED_CASES[0], PIPELINED_CASES[0], url, piped, server),
                    Case(
                        PIPELINED_CASES[1],
                        PIPELINED_CASES[1],
                        plain_url,
                        piped_plain,
                        plain_process.pid,
                    ),
                ]
                if workers == 1:
                    token = login(url)
                    signed = post(HOME_SIGNED_IN, {"v": village}, token)
                    check(url, signed)
                    feed_signed = post(FEED, {"r": village}, token)
                    check(url, feed_signed)
                    uncached_url, uncached = servers.enter_context(
                        uvicorn("api.app:create_app", uncached_env, 1, log_path)
                    )
                    wait_ready(uncached_url, uncached, "/readyz", log_path)
                    response = check(uncached_url, home)
                    if "public" in response.headers.get("cache-control", ""):
                        raise RuntimeError("RESPONSE_CACHE=0 still answered from the cache")
                    feed = post(FEED, {"r": village})
                    check(uncached_url, feed)
                    cases += [
                        Case(
                            "home, signed in",
                            "home, signed in (POST, whole screen)",
                            url,
                            signed,
                            server,
                        ),
                        Case(
                            "village feed, signed in",
                            "village feed, signed in (POST)",
                            url,
                            feed_signed,
                            server,
                            0.045,
                        ),
                        Case(
                            "home, anonymous, uncached",
                            "home, anonymous, uncached (GET)",
                            uncached_url,
                            home,
                            uncached.pid,
                        ),
                        Case(
                            "village feed, anonymous, uncached",
                            "village feed, anonymous, uncached (POST)",
                            uncached_url,
                            feed,
                            uncached.pid,
                            feed_goal,
                        ),
                    ]
                rows += self.rounds_of(plain, cases, label, workers)
        return Measured(label, rows, home_bytes, gzip_bytes)


def login(base_url: str) -> str:
    from scripts.seed_demo import DEMO_PASSWORD

    variables = {"i": {"phone": VILLAGER, "password": DEMO_PASSWORD}}
    response = httpx.post(
        base_url + "/graphql", json={"query": LOGIN, "variables": variables}, timeout=30
    )
    return str(response.json()["data"]["login"]["accessToken"])


# -- PostgreSQL + Redis: a database and a key prefix of our own ----------------------------


@contextlib.contextmanager
def own_database(postgres: str) -> Iterator[str]:
    import asyncio

    import asyncpg

    name = f"cunwu_bench_http_{os.getpid()}"
    dsn = postgres.replace("postgres://", "postgresql://", 1)

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(postgres)._replace(path="/" + name))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def flush_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# -- the report -------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(measured: list[Measured]) -> None:
    print(
        f"\n{'case':36s} {'backend':18s} {'wkrs':>4s} {'req/s':>8s} {'p50 ms':>7s} "
        f"{'p99 ms':>7s} {'cpu µs':>7s} {'ratio':>6s}  goal"
    )
    for m in measured:
        for row in m.rows:
            r = row.result
            goal = "—" if row.goal is None else f"≥ {row.goal} {verdict(row.ratio >= row.goal)}"
            if row.case == PLAIN_CASE:
                goal = "(the ceiling)"
            elif row.case in PIPELINED_CASES:
                goal = "(diagnostic)"
            errors = f"  {r.errors} errors" if r.errors else ""
            spread = ""
            if len(row.ratios) > 1 and row.case != PLAIN_CASE:
                spread = f"  (rounds {min(row.ratios):.3f}–{max(row.ratios):.3f})"
            print(
                f"{row.case:36s} {row.backend:18s} {row.workers:4d} {r.rps:8.0f} "
                f"{r.p50_ms:7.1f} {r.p99_ms:7.1f} {r.cpu_us:7.0f} {row.ratio:6.3f}  {goal}"
                f"{spread}{errors}"
            )
    print()
    for m in measured:
        print(
            f"{m.backend}: home answer {m.home_bytes} B, gzipped {m.home_gzip_bytes} B "
            f"(goal ≤ {GZIP_GOAL_BYTES} B {verdict(m.home_gzip_bytes <= GZIP_GOAL_BYTES)})"
        )
        for case in (*CACHED_CASES, PLAIN_CASE, *PIPELINED_CASES):
            rps = {r.workers: r.result.rps for r in m.rows if r.case == case}
            cpu = {r.workers: r.result.cpu_us for r in m.rows if r.case == case}
            scale = rps[2] / rps[1]
            if case == PLAIN_CASE:
                goal = "(the same machine's ceiling)"
            elif case in PIPELINED_CASES:
                goal = "(diagnostic: the client pipelines, so it takes less of the two cores)"
            else:
                goal = f"(goal ≥ 1.7× {verdict(scale >= 1.7)})"
            print(
                f"  {case}, 2 workers / 1 worker: {scale:.2f}× {goal}; server CPU per request"
                f" {cpu[1]:.0f} µs with 1 worker, {cpu[2]:.0f} µs with 2"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=float, default=5.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=3, help="each against its own baseline")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare_main()
        return
    if args.only == "postgres" and not (args.postgres and args.redis):
        parser.error("PostgreSQL needs --postgres and --redis (or TEST_DATABASE_URL/REDIS_URL)")
    wrk = find_wrk()
    if wrk is None:
        sys.exit("bench_http needs wrk (Debian's package `wrk`)")
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="cunwu-bench-http-") as tmp:
        bench = Bench(wrk, Path(tmp), args.seconds, args.connections, max(1, args.rounds))
        if args.only != "postgres":
            from api.settings import sqlite_url

            url = sqlite_url(Path(tmp) / "cunwu.sqlite3")
            measured.append(bench.backend("SQLite", url, None, 0.06))
        if args.only != "sqlite" and args.postgres and args.redis:
            prefix = f"cunwu-bench-http-{os.getpid()}:"
            try:
                with own_database(args.postgres) as url:
                    measured.append(bench.backend("PostgreSQL + Redis", url, args.redis, 0.045))
            finally:
                flush_prefix(args.redis, prefix)
    report(measured)


if __name__ == "__main__":
    main()
