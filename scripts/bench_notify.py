"""Notifications, both halves of issue 14's goals in one run:
`python -m scripts.bench_notify [--postgres postgres://…] [--redis redis://…]`.

1. Fan-out of one disclosure to 5,000 recipients (scripts.bench_fanout) on SQLite, and on
   PostgreSQL when a server is given: seconds, rows/s, and the ratio against a plain bulk
   insert of the same rows measured in the same run.
2. 1,000 WebSocket subscribers on one uvicorn worker receiving one event
   (scripts.bench_live): p50/p99 from publish to receipt, against a plain WebSocket broadcast
   in the same run; through Redis as well when one is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys

from scripts import bench_live


def fanout(postgres: str | None) -> None:
    # one process per database: tortoise caches statements per connection name, not dialect
    for url in ["", *([postgres] if postgres else [])]:
        env = {**os.environ, "DATABASE_URL": url}
        subprocess.run([sys.executable, "-m", "scripts.bench_fanout"], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--redis", default=os.environ.get("TEST_REDIS_URL"))
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("== fan-out of one disclosure to 5,000 recipients ==", flush=True)
    fanout(args.postgres)
    print(f"== {args.subscribers} live subscribers ==", flush=True)
    asyncio.run(bench_live.main(args.subscribers, args.rounds, args.redis))


if __name__ == "__main__":
    main()
