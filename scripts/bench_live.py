"""Live notifications to 1,000 WebSocket subscribers on one uvicorn worker:
`python -m scripts.bench_live [--subscribers 1000] [--redis redis://127.0.0.1:6379/0]`.

The app runs under uvicorn in this process on a temporary SQLite file (with `--redis`, its
hub goes through that Redis: the event crosses a real pub/sub connection). The subscribers
are a child process (`websockets`, one event loop): each signs in over graphql-transport-ws
with its own user's token and subscribes to `notificationAdded { id kind text seq
createdAt }`. Then one event per user (a fan-out of one disclosure, say) is recorded and
handed to `notifications.live.publish`, and each subscriber notes when its `next` arrived.
Latency is receipt minus the moment before `publish` (one machine, one wall clock).

Baseline, same run, same child: a plain Starlette WebSocket route holding the same number
of sockets, sending each a JSON message of the same size in a loop (no GraphQL, no hub).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUERY = "subscription { notificationAdded { id kind text seq createdAt } }"
PROTOCOL = "graphql-transport-ws"
ROUND_GAP = 2.0  # seconds between rounds: each round's deliveries are over by then


# -- the child: N sockets that note when their message arrives -----------------------------


async def clients(url: str, tokens: list[str], plain: bool, rounds: int, wait: float) -> None:
    from websockets.asyncio.client import connect

    received: list[list[float]] = [[] for _ in range(rounds)]
    done = asyncio.Event()
    ready = finished = 0

    async def one(token: str) -> None:
        nonlocal ready, finished
        protocols: Any = None if plain else [PROTOCOL]
        async with connect(url, subprotocols=protocols, open_timeout=60, max_queue=64) as ws:
            if not plain:
                await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
                ack = json.loads(await ws.recv())
                assert ack["type"] == "connection_ack", ack
                await ws.send(
                    json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}})
                )
            ready += 1
            if ready == len(tokens):
                print("ready", flush=True)
            for n in range(rounds):
                message = await ws.recv()
                received[n].append(time.time())
                if not plain:
                    body = json.loads(message)
                    assert body["type"] == "next" and "errors" not in body["payload"], body
            finished += 1
            if finished == len(tokens):
                done.set()
            await done.wait()

    tasks = []
    for token in tokens:  # in a stream, not all at once: the listen backlog stays short
        tasks.append(asyncio.create_task(one(token)))
        await asyncio.sleep(0.002)
    try:
        await asyncio.wait_for(done.wait(), wait)
    except TimeoutError:
        pass
    print(json.dumps({"received": received}), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def child_main(argv: list[str]) -> None:
    url, mode, rounds, wait = argv[0], argv[1], int(argv[2]), float(argv[3])
    tokens = [line.strip() for line in sys.stdin if line.strip()]
    asyncio.run(clients(url, tokens, mode == "plain", rounds, wait))


# -- the parent: the app, the users, the measurement ----------------------------------------


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    import uvicorn

    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", backlog=4096, access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def start_child(url: str, mode: str, tokens: list[str], rounds: int) -> Any:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.bench_live",
        "--child",
        url,
        mode,
        str(rounds),
        str(60 + rounds * ROUND_GAP),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        limit=2**24,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("\n".join(tokens).encode() + b"\n")
    await process.stdin.drain()
    process.stdin.close()
    line = await asyncio.wait_for(process.stdout.readline(), 300)
    assert line.strip() == b"ready", line
    return process


async def finish_child(process: Any) -> list[list[float]]:
    line = await asyncio.wait_for(process.stdout.readline(), 300)
    await process.wait()
    return [list(r) for r in json.loads(line)["received"]]


def summary(name: str, started: list[float], received: list[list[float]], expected: int) -> str:
    """One line per round, then the median round (by p99)."""
    lines, rows = [name], []
    for n, (t0, got) in enumerate(zip(started, received, strict=True)):
        ms = sorted((r - t0) * 1000 for r in got) or [float("nan")]
        p50 = statistics.median(ms)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        rows.append((p99, p50, len(got)))
        lines.append(
            f"  round {n + 1}: served {len(got)}/{expected}  p50 {p50:7.1f} ms  "
            f"p99 {p99:7.1f} ms  max {ms[-1]:7.1f} ms"
        )
    p99, p50, served = sorted(rows)[len(rows) // 2]
    lines.append(
        f"  median round: served {served}/{expected}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
    )
    return "\n".join(lines)


async def make_users(count: int, settings: Any) -> tuple[list[int], list[str]]:
    from models.accounts import Session, User
    from models.accounts.auth import issue_access_token

    users = [
        User(phone=f"139{n:08d}", name=f"村民{n}", password_hash="!", is_active=True)
        for n in range(count)
    ]
    await User.bulk_create(users, batch_size=500)
    ids = list(
        await User.filter(phone__startswith="139").order_by("id").values_list("id", flat=True)
    )
    sessions = [Session(id=uuid.uuid4(), user_id=uid) for uid in ids]
    await Session.bulk_create(sessions, batch_size=500)
    tokens = [issue_access_token(settings.auth, s.user_id, str(s.id)) for s in sessions]
    return [int(i) for i in ids], tokens


async def hub_count(expected: int) -> None:
    from notifications import live

    deadline = time.monotonic() + 60
    while True:
        hub = live.current()
        if hub is not None and hub.subscriber_count() >= expected and hub.connected:
            return
        if time.monotonic() > deadline:
            raise SystemExit("the subscribers did not all reach the hub")
        await asyncio.sleep(0.05)


async def latest(ids: list[int]) -> list[Any]:
    """Each user's newest event (the round just recorded)."""
    from models.notifications import NotificationEvent

    rows = await NotificationEvent.filter(user_id__in=ids).order_by("user_id", "-seq")
    newest: dict[int, Any] = {}
    for row in rows:
        newest.setdefault(row.user_id, row)
    return list(newest.values())


async def bench_live(count: int, rounds: int, redis_url: str | None, data_dir: Path) -> str:
    from tortoise.transactions import in_transaction

    from api.app import create_app
    from api.database import migrate
    from api.settings import Settings, sqlite_url
    from models.notifications import NotificationEvent
    from notifications import live
    from notifications.events import insert

    settings = Settings(
        env="bench",
        data_dir=data_dir,
        database_url=sqlite_url(data_dir / "cunwu.sqlite3"),
        media_root=data_dir / "media",
        secret_key="bench-secret-key-" + "x" * 32,
        demo=False,
        jobs=False,  # publish is called here, at a known moment, not by a polling worker
        redis_url=redis_url,
        redis_prefix=f"bench-live-{uuid.uuid4().hex[:8]}:",
        live_max_subscriptions=5,
        # every subscriber comes from this machine's one address
        live_max_pending_per_address=100_000,
    )
    await migrate(settings)
    app = create_app(settings)
    async with serve(app) as url:
        ids, tokens = await make_users(count, settings)
        process = await start_child(url, "graphql", tokens, rounds)
        await hub_count(count)
        batches = []
        for _ in range(rounds):  # one event per user per round, recorded beforehand
            async with in_transaction():
                await insert(
                    [
                        NotificationEvent(
                            user_id=uid,
                            kind="FLAG_STATUS",
                            subject_type="flag",
                            subject_id=1,
                            payload={"status": "ACCEPTED"},
                        )
                        for uid in ids
                    ]
                )
            batches.append(await latest(ids))
        await asyncio.sleep(0.5)  # let the loop settle after the handshakes
        started = []
        for batch in batches:
            started.append(time.time())
            await live.publish(batch)
            await asyncio.sleep(ROUND_GAP)
        received = await finish_child(process)
    hub = "Redis pub/sub" if redis_url else "in-process hub"
    return summary(f"GraphQL subscription ({hub})", started, received, count)


async def bench_plain(count: int, rounds: int) -> str:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    sockets: set[WebSocket] = set()
    all_in = asyncio.Event()

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        sockets.add(ws)
        if len(sockets) >= count:
            all_in.set()
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            sockets.discard(ws)

    app = Starlette(routes=[WebSocketRoute("/graphql", endpoint)])
    message = json.dumps(
        {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {
                    "notificationAdded": {
                        "id": "Tm90aWZpY2F0aW9uOjEyMzQ=",
                        "kind": "FLAG_STATUS",
                        "text": "您关注的问题反映：已受理",
                        "seq": 1,
                        "createdAt": "2026-12-07T12:00:00+00:00",
                    }
                }
            },
        }
    )
    async with serve(app) as url:
        process = await start_child(url, "plain", ["-"] * count, rounds)
        await asyncio.wait_for(all_in.wait(), 60)
        await asyncio.sleep(0.5)
        started = []
        for _ in range(rounds):
            started.append(time.time())
            for ws in list(sockets):
                await ws.send_text(message)
            await asyncio.sleep(ROUND_GAP)
        received = await finish_child(process)
    return summary("plain WebSocket broadcast (baseline)", started, received, count)


async def main(count: int, rounds: int, redis_url: str | None) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{count} subscribers on one uvicorn worker, one event each per round")
        print(await bench_plain(count, rounds), flush=True)
        print(await bench_live(count, rounds, None, Path(tmp) / "local"), flush=True)
        if redis_url:
            print(await bench_live(count, rounds, redis_url, Path(tmp) / "redis"), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--subscribers", type=int, default=1000)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"))
        args = parser.parse_args()
        asyncio.run(main(args.subscribers, args.rounds, args.redis))
