"""What the lifespan opens and every request shares: settings, Redis, limiters, caches."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis

from api.persisted import PersistedQueries
from api.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from api.rows import fetch_rows
from api.settings import Settings
from media.service import MediaStore
from media.storage import LocalStorage
from models.accounts.auth import Passwords
from models.disclosures.views import ViewCounter
from models.flags.stats import StatsCache, stats_store
from models.redis_guard import RedisGuard
from notifications.live import Hub, RedisHub
from notifications.sms import LogSmsProvider, SmsProvider

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
    region_cache: dict = field(default_factory=dict)  # id -> Region; regions never change
    live: Hub | None = None  # this process's live hub, while the lifespan runs

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
        )


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
    )
