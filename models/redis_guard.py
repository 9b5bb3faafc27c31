"""Redis, while it answers: the shared caches fall back to their in-process versions otherwise.

One `RedisGuard` per process is shared by the rate limiter, the view counter and the
persisted queries. The first failure of an outage is logged once; for `backoff` seconds after
it nobody tries Redis (the fallbacks answer at once instead of waiting on a dead socket);
then one call probes Redis again (the others keep to the fallbacks meanwhile), and the
first success is logged as the end of the outage. Connections time out after a second
(`api.app`), so a Redis that does not answer at all costs one probe, not every request.
"""

from __future__ import annotations

import logging
import time

from redis import exceptions as redis_errors
from redis.asyncio import Redis

log = logging.getLogger("cunwu.redis")

# What an unreachable or failing Redis raises (OSError: a refused or reset socket that
# redis-py did not wrap).
REDIS_DOWN: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    OSError,
)


class RedisGuard:
    def __init__(self, redis: Redis | None, backoff: float = 2.0) -> None:
        self.redis = redis
        self.backoff = backoff
        self.down_since: float | None = None
        self._retry_at = 0.0

    def client(self) -> Redis | None:
        """Redis when it is configured and not in its back-off after a failure, else None."""
        if self.redis is None:
            return None
        if self.down_since is not None:
            now = time.monotonic()
            if now < self._retry_at:
                return None
            # this caller probes; the others keep to the fallbacks until it knows
            self._retry_at = now + self.backoff
        return self.redis

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            log.warning(
                "redis unreachable (%s: %s): in-process fallbacks until it answers",
                type(exc).__name__,
                exc,
            )
        self._retry_at = now + self.backoff

    def succeeded(self) -> None:
        if self.down_since is not None:
            log.warning(
                "redis answers again after %.1f s: back to Redis",
                time.monotonic() - self.down_since,
            )
            self.down_since = None


def as_text(value: bytes | str) -> str:
    """A Redis reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else value
