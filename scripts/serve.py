"""What `make run` does: migrate, load demo data into an empty database, serve (the app's
lifespan also runs the scheduler and a job worker: CUNWU_JOBS, on by default).

Production runs `python -m scripts.migrate` once, then uvicorn with several workers and
CUNWU_JOBS=0, and `python -m scripts.worker` for the jobs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

from api.live import MAX_MESSAGE_CHARS
from api.settings import Settings
from scripts.migrate import migrate
from scripts.seed_demo import run as seed


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    asyncio.run(migrate(settings))
    if settings.demo:
        asyncio.run(seed())
    print(f"GraphiQL: http://{settings.host}:{settings.port}/graphql")
    uvicorn.run("api.app:create_app", factory=True, **uvicorn_options(settings))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        # uvicorn's own reading trusts X-Forwarded-For from loopback: off; the app believes
        # it only from TRUSTED_PROXIES (api.middleware.ProxyHeadersMiddleware)
        "proxy_headers": False,
        "access_log": False,  # api.middleware logs each request with its request id
        # a WebSocket frame is refused (1009) before it is buffered: 16 MiB by default
        "ws_max_size": MAX_MESSAGE_CHARS * 4,
    }


if __name__ == "__main__":
    main()
