"""What the lifespan opens and every request shares: settings, Redis, limiters, caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from api.persisted import PersistedQueries
from api.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from api.response_cache import DataVersionProbe, ResponseCache
from api.rows import fetch_rows
from api.settings import Settings
from media.service import MediaStore
from media.storage import LocalStorage
from models.accounts.auth import Passwords
from models.accounts.viewer_cache import FileStamps, RedisStamps, Stamps, ViewerCache
from models.disclosures.views import ViewCounter
from models.flags.stats import StatsCache, stats_store
from models.redis_guard import RedisGuard
from notifications.live import Hub, RedisHub
from notifications.sms import LogSmsProvider, SmsProvider
from notifications.sms_providers import SmsConfig, build_sms_provider
from notifications.wechat import WechatClient, WechatConfig, token_store

REDIS_TIMEOUT = 1.0


def connect_redis(settings: Settings) -> Redis | None:
    if not settings.redis_url:
        return None
    return Redis.from_url(
        settings.redis_url,
        health_check_interval=30,
        # a dead Redis must fail fast: the fallbacks answer instead (models.redis_guard)
        socket_connect_timeout=REDIS_TIMEOUT,
        socket_timeout=REDIS_TIMEOUT,
    )


@dataclass
class Services:
    settings: Settings
    redis: Redis | None
    redis_guard: RedisGuard
    limiter: RateLimiter
    passwords: Passwords
    persisted: PersistedQueries
    media: MediaStore
    views: ViewCounter
    stats: StatsCache
    sms: SmsProvider = field(default_factory=LogSmsProvider)
    wechat: WechatClient | None = None  # None: WeChat not configured
    region_cache: dict = field(default_factory=dict)  # id -> Region; regions never change
    live: Hub | None = None  # this process's live hub, while the lifespan runs
    viewers: ViewerCache | None = None  # signed-in viewers between requests; None: off
    response_cache: ResponseCache | None = None  # while the lifespan runs, when enabled

    @classmethod
    def build(cls, settings: Settings, redis: Redis | None) -> Services:
        # one guard: one log line per outage, one back-off for every Redis user
        guard = RedisGuard(redis)
        limiter: RateLimiter = (
            RedisRateLimiter(redis, settings.redis_prefix, guard) if redis else MemoryRateLimiter()
        )
        return cls(
            settings=settings,
            redis=redis,
            redis_guard=guard,
            limiter=limiter,
            passwords=Passwords(settings.auth),
            persisted=PersistedQueries(redis, settings.redis_prefix, guard=guard),
            media=MediaStore(LocalStorage(settings.media_root), settings.media_max_pixels),
            views=ViewCounter(redis, settings.redis_prefix, guard),
            # shared by every worker: the scheduler's refresh warms what the API reads
            stats=StatsCache(fetch_rows, store=stats_store(redis, settings.redis_prefix, guard)),
            sms=build_sms_provider(sms_config(settings), reveal=settings.env != "production"),
            wechat=wechat_client(settings, redis, guard),
            viewers=viewer_cache(settings, redis, guard),
        )

    async def aclose(self) -> None:
        """The HTTP clients the channels keep open (Tencent's and WeChat's pools)."""
        if self.wechat is not None:
            await self.wechat.aclose()
        close = getattr(self.sms, "aclose", None)
        if close is not None:
            await close()


def viewer_stamps(settings: Settings, redis: Redis | None, guard: RedisGuard) -> Stamps:
    """Where this process hears of viewer changes: Redis when configured (every worker), else
    a file in DATA_DIR (every process of this host)."""
    if redis is not None:
        return RedisStamps(redis, settings.redis_prefix, guard)
    return FileStamps(settings.data_dir / "viewer-stamp")


def viewer_cache(settings: Settings, redis: Redis | None, guard: RedisGuard) -> ViewerCache | None:
    if settings.viewer_cache_seconds <= 0 or settings.viewer_cache_size <= 0:
        return None
    return ViewerCache(
        viewer_stamps(settings, redis, guard),
        size=settings.viewer_cache_size,
        seconds=min(settings.viewer_cache_seconds, settings.access_token_seconds),
    )


def response_cache(
    settings: Settings, redis: Redis | None, guard: RedisGuard, sqlite_file: str | None
) -> ResponseCache | None:
    """The anonymous answers' cache: Redis when configured, else in process; none for
    PostgreSQL without Redis (another process's writes could not be seen) or an in-memory
    SQLite database."""
    if not settings.response_cache:
        return None
    if redis is None and (sqlite_file is None or sqlite_file == ":memory:"):
        return None
    probe = None
    if sqlite_file is not None:
        if sqlite_file == ":memory:":
            return None
        probe = DataVersionProbe(sqlite_file)
    return ResponseCache(
        max_bytes=settings.response_cache_bytes,
        entry_bytes=settings.response_cache_entry_bytes,
        ttl_seconds=settings.response_cache_ttl_seconds,
        window_seconds=settings.response_cache_window_seconds,
        redis=redis,
        prefix=settings.redis_prefix,
        guard=guard,
        probe=probe,
        clock=settings.clock,
    )


def sms_config(settings: Settings) -> SmsConfig:
    return SmsConfig(
        provider=settings.sms_provider,
        endpoint=settings.sms_endpoint,
        access_key_id=settings.sms_access_key_id,
        access_key_secret=settings.sms_access_key_secret,
        sign_name=settings.sms_sign_name,
        region=settings.sms_region,
        app_id=settings.sms_app_id,
        templates=dict(settings.sms_templates),
        timeout_seconds=settings.sms_timeout_seconds,
    )


def wechat_client(
    settings: Settings, redis: Redis | None, guard: RedisGuard | None = None
) -> WechatClient | None:
    config = WechatConfig(
        app_id=settings.wechat_app_id,
        app_secret=settings.wechat_app_secret,
        base_url=settings.wechat_base_url,
        templates=dict(settings.wechat_templates),
        page=settings.wechat_page,
        state=settings.wechat_state,
    )
    if not config.enabled:
        return None
    store = token_store(redis, settings.redis_prefix, config.app_id, guard)
    return WechatClient(config, store)


def live_hub(settings: Settings, listen: bool = True) -> Hub:
    """The process's live hub: through Redis when configured, else in process."""
    if not settings.redis_url:
        return Hub(settings.live_queue_size)
    return RedisHub(
        settings.redis_url,
        settings.redis_prefix,
        queue_size=settings.live_queue_size,
        keepalive_seconds=settings.live_keepalive_seconds,
        reconnect_seconds=settings.live_reconnect_seconds,
        reconnect_max_seconds=settings.live_reconnect_max_seconds,
        listen=listen,
        secret_key=settings.secret_key,
    )
