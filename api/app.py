"""The ASGI application: `create_app()` wires settings, lifespan, routes and middleware."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from tortoise import Tortoise

from api.accounts.codes import settle as sms_codes_sent
from api.cache_hits import CacheHits
from api.compat import sqlite_filename
from api.compression import CompressionMiddleware
from api.database import close_db, open_db, ping_db
from api.endpoint import GraphQLEndpoint
from api.graphiql import serve_static
from api.home import home
from api.jobs.periodic import JobRunner
from api.live import LiveSocket
from api.media.files import serve_media, serve_summary
from api.middleware import ProxyHeadersMiddleware, RequestIdMiddleware
from api.schema import schema
from api.security import BodyLimitMiddleware, SecurityHeadersMiddleware
from api.services import Services, connect_redis, live_hub, response_cache
from api.settings import Settings
from api.uploads import MAX_FILES
from models import data_versions
from models.accounts import viewer_cache
from notifications import live

log = logging.getLogger("cunwu.app")
READY_TIMEOUT = 2.0
# what a browser client on another origin (CORS_ORIGINS) may send and read
CORS_HEADERS = [
    "Authorization",
    "Content-Type",
    "Accept-Language",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
    "GraphQL-Preflight",
    "Apollo-Require-Preflight",
]
CORS_EXPOSED = ["ETag", "X-Request-ID", "Idempotent-Replayed", "Retry-After"]
MULTIPART_OVERHEAD = 1024 * 1024  # the operations and map fields, part headers


def cors(settings: Settings) -> list[Middleware]:
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            allow_credentials=False,  # bearer tokens, no cookies
            max_age=86400,
        )
    ]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        orm = await open_db(settings)
        redis = connect_redis(settings)
        services = app.state.services = Services.build(settings, redis)
        if services.viewers is not None:
            viewer_cache.install(services.viewers)
        store = data_versions.current()
        if isinstance(store, data_versions.RedisVersions):
            store.guard = services.redis_guard  # one log line per outage, one back-off
            store.follow()  # a mirror of the versions: cache hits read no Redis
        conn = Tortoise.get_connection("default")
        services.response_cache = response_cache(
            settings,
            redis,
            services.redis_guard,
            sqlite_filename(conn) if conn.capabilities.dialect == "sqlite" else None,
        )
        # before the job runner: its dispatch jobs publish here; never waits for Redis
        hub = services.live = live_hub(settings)
        await hub.start()
        live.install(hub)
        runner = app.state.jobs = JobRunner(settings, services) if settings.jobs else None
        if runner is not None:
            await runner.start()
        if settings.fast_paths and settings.env != "test":
            # The ~125k objects of startup (schema, models, modules) live as long as the
            # process: out of the collector's sight, each full collection stops walking
            # them (some 60 ms every few thousand requests). Tests start many apps in one
            # process, whose garbage this would keep.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if runner is not None:
                await runner.stop()
            if isinstance(store, data_versions.RedisVersions):
                await store.stop()
            live.uninstall(hub)
            await hub.stop()
            # codes being sent: a short wait, else they are lost (the villager asks again)
            try:
                await asyncio.wait_for(sms_codes_sent(), READY_TIMEOUT)
            except TimeoutError:
                log.warning("SMS codes still being sent at shutdown were dropped")
            # views buffered in process would die with it (Redis's wait for the next flush)
            try:
                await services.views.flush()
            except Exception:  # shutting down regardless: say what was lost
                log.exception("view counts not flushed at shutdown")
            if services.viewers is not None:
                viewer_cache.uninstall(services.viewers)
            await services.aclose()
            if services.response_cache is not None:
                services.response_cache.close()
            if redis is not None:
                await redis.aclose()
            await close_db(orm)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        services: Services = request.app.state.services
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping_db(), READY_TIMEOUT)
            checks["database"] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            checks["database"] = f"error: {type(exc).__name__}"
        if services.redis is not None:
            try:
                await asyncio.wait_for(services.redis.ping(), READY_TIMEOUT)
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"error: {type(exc).__name__}"
        if services.live is not None and not await services.live.wait_connected(READY_TIMEOUT):
            checks["live"] = "reconnecting"  # live events wait for the hub's pub/sub
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    graphql = GraphQLEndpoint(schema.graphql_schema, settings)
    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            # the same path over WebSocket: subscriptions (graphql-transport-ws)
            WebSocketRoute("/graphql", LiveSocket(graphql)),
            Route("/media/{sha256}/{variant}", serve_media, methods=["GET", "HEAD"]),
            Route("/summaries/{name}", serve_summary, methods=["GET", "HEAD"]),
            Route("/static/{path:path}", serve_static, methods=["GET", "HEAD"]),
        ],
        middleware=[
            # X-Forwarded-For only from TRUSTED_PROXIES (none by default): outermost, so the
            # access log, the rate limits and the audit see the same client
            *(
                [Middleware(ProxyHeadersMiddleware, trusted=settings.trusted_proxies)]
                if settings.trusted_proxies
                else []
            ),
            # repeated anonymous GETs answered from memory before the rest (api.cache_hits)
            Middleware(CacheHits, path="/graphql", cors=bool(settings.cors_origins)),
            # outside the request id: its own 500 answers carry the headers too
            Middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds),
            Middleware(RequestIdMiddleware),
            *cors(settings),
            Middleware(
                BodyLimitMiddleware,
                json_bytes=settings.max_json_body_bytes,
                multipart_bytes=MAX_FILES * settings.media_max_bytes + MULTIPART_OVERHEAD,
            ),
            Middleware(CompressionMiddleware, minimum_size=1000),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.graphql = graphql
    return app
