"""Live delivery to this process's subscribers, and across processes through Redis.

`publish(events)` (the `notify_dispatch` job) hands recorded events to the process's hub.
Without Redis the hub delivers them in process. With Redis it publishes them on ONE channel
(`<REDIS_PREFIX>live`) and every process listens on ONE pub/sub connection, fanning each
event out to the subscribers of its user in that process.

A subscriber (`stream()`) reads what it missed from the database and then follows the hub:
events come in seq order, each once (a seq already given is dropped; a gap is filled from
the database). The hub never holds more than `queue_size` events per subscriber: a slow
one's queue is emptied and it catches up from the database instead. After the pub/sub
connection is re-established every subscriber catches up too, so what was published while
it was down is read from the inbox rather than lost (redis-py's async pub/sub neither
reconnects nor resubscribes by itself, and Redis keeps nothing for absent subscribers).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from models.notifications import NotificationEvent

log = logging.getLogger("cunwu.live")

PAGE = 100  # events read from the database at once when replaying or catching up
EVENTS_PER_MESSAGE = 500  # events in one Redis message (a large fan-out is split)
REDIS_TIMEOUT = 1.0


class Subscriber:
    """One subscription's mailbox: a bounded list of events and a catch-up flag."""

    __slots__ = ("user_id", "limit", "items", "catch_up", "wake", "dropped")

    def __init__(self, user_id: int, limit: int) -> None:
        self.user_id = user_id
        self.limit = limit
        self.items: list[Event] = []
        self.catch_up = False
        self.wake = asyncio.Event()
        self.dropped = 0  # overflows, for tests and logs

    def offer(self, event: Event) -> None:
        if len(self.items) >= self.limit:
            # too slow: keep nothing, read the inbox instead (memory stays bounded)
            self.items.clear()
            self.catch_up = True
            self.dropped += 1
        else:
            self.items.append(event)
        self.wake.set()

    def request_catch_up(self) -> None:
        self.catch_up = True
        self.wake.set()

    async def take(self) -> tuple[list[Event], bool]:
        while not self.items and not self.catch_up:
            self.wake.clear()
            await self.wake.wait()
        items, self.items = self.items, []
        catch_up, self.catch_up = self.catch_up, False
        return items, catch_up


class Hub:
    """In process: `publish` delivers to this process's subscribers directly."""

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self.subscribers: dict[int, set[Subscriber]] = {}

    @property
    def connected(self) -> bool:
        return True

    async def wait_connected(self, within: float) -> bool:
        return True

    def subscribe(self, user_id: int) -> Subscriber:
        sub = Subscriber(user_id, self.queue_size)
        self.subscribers.setdefault(user_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self.subscribers.get(sub.user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subscribers[sub.user_id]

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self.subscribers.values())

    def deliver(self, events: Sequence[Event]) -> int:
        """Hand events to this process's subscribers; how many handed over."""
        handed = 0
        for event in events:
            for sub in self.subscribers.get(event.user_id, ()):
                sub.offer(event)
                handed += 1
        return handed

    def catch_up_all(self) -> None:
        for subs in self.subscribers.values():
            for sub in subs:
                sub.request_catch_up()

    async def publish(self, events: Sequence[NotificationEvent]) -> None:
        self.deliver(events)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def encode(events: Sequence[NotificationEvent]) -> bytes:
    """What a subscriber needs to render a notification without reading the database."""
    return orjson.dumps(
        [
            [
                e.id,
                e.user_id,
                e.seq,
                e.kind,
                e.subject_type,
                e.subject_id,
                e.payload,
                e.created_at.isoformat() if e.created_at else None,
            ]
            for e in events
        ]
    )


@dataclass(slots=True)
class LiveEvent:
    """A notification as it came over Redis: a NotificationEvent's columns, without the
    cost of building an ORM instance per event (a fan-out brings thousands at once)."""

    id: int
    user_id: int
    seq: int
    kind: str
    subject_type: str
    subject_id: int
    payload: dict[str, Any]
    created_at: datetime | None
    read_at: datetime | None = None


Event = NotificationEvent | LiveEvent


MAC_SIZE = 32  # HMAC-SHA256 in front of each Redis message


def live_key(secret_key: str) -> bytes:
    """The key that signs Redis messages: derived from SECRET_KEY, not the JWT key itself."""
    return hashlib.sha256(b"cunwu live channel\0" + secret_key.encode()).digest()


def sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest() + body


def decode(data: bytes, key: bytes) -> list[LiveEvent]:
    """A signed batch. Whoever can PUBLISH on Redis is not thereby trusted to put words in
    a villager's inbox (a fake "flag rejected"): a message without our MAC is refused."""
    mac, body = data[:MAC_SIZE], data[MAC_SIZE:]
    if len(mac) < MAC_SIZE or not hmac.compare_digest(
        mac, hmac.new(key, body, hashlib.sha256).digest()
    ):
        raise ValueError("not signed with this deployment's key")
    return [
        LiveEvent(
            pk,
            user_id,
            seq,
            kind,
            subject_type,
            subject_id,
            payload,
            datetime.fromisoformat(created) if created else None,
        )
        for pk, user_id, seq, kind, subject_type, subject_id, payload, created in orjson.loads(body)
    ]


class RedisHub(Hub):
    """Across processes: publish on one channel, listen on one pub/sub connection with a
    reconnect loop (exponential backoff with jitter), pings while idle, and a catch-up of
    every subscriber after each (re)subscription."""

    def __init__(
        self,
        url: str,
        prefix: str,
        queue_size: int = 256,
        keepalive_seconds: float = 15.0,
        reconnect_seconds: float = 0.5,
        reconnect_max_seconds: float = 30.0,
        listen: bool = True,
        secret_key: str = "",
    ) -> None:
        super().__init__(queue_size)
        self.channel = f"{prefix}live"
        self.key = live_key(secret_key)
        self.keepalive = keepalive_seconds
        self.reconnect_base = reconnect_seconds
        self.reconnect_max = reconnect_max_seconds
        self.listen = listen
        self.publisher = Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
        # no retries inside redis-py: every lost connection must reach the loop below,
        # which resubscribes and then has every subscriber catch up
        self.listener_client = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_keepalive=True,
            retry=Retry(NoBackoff(), 0),
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected = False
        self._up = asyncio.Event()  # set while connected
        self.connects = 0  # successful subscriptions, for tests and logs
        self.rejected = 0  # messages on the channel that were not ours
        self._rejected_logged = -60.0

    @property
    def connected(self) -> bool:
        return self._connected or not self.listen

    async def wait_connected(self, within: float) -> bool:
        """Connected now, or within `within` seconds (a process just started)."""
        if self.connected:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), within)
        return self.connected

    async def start(self) -> None:
        if self.listen and self._task is None:
            # in the background: a Redis that is down must not hold up startup
            self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        # redis-py may swallow a cancellation that lands while it connects (and the loop
        # would go on): cancel until the task is really done
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        self._connected = False
        self._up.clear()
        for client in (self.publisher, self.listener_client):
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()

    async def publish(self, events: Sequence[NotificationEvent]) -> None:
        for start in range(0, len(events), EVENTS_PER_MESSAGE):
            chunk = events[start : start + EVENTS_PER_MESSAGE]
            try:
                await self.publisher.publish(self.channel, sign(self.key, encode(chunk)))
            except (RedisError, OSError) as exc:
                # this process's subscribers need not wait; the others catch up from the
                # inbox when their connection comes back (or at their next event's gap).
                # No further attempt for the rest: one timeout per batch, not per chunk.
                log.warning("live: publish failed (%r); delivered in process only", exc)
                self.deliver(events[start:])
                return

    def note_rejected(self, exc: Exception) -> None:
        """A forged or foreign message: counted, and logged at most once a minute (someone
        flooding the channel must not flood the log as well)."""
        self.rejected += 1
        now = time.monotonic()
        if now - self._rejected_logged >= 60:
            self._rejected_logged = now
            log.error(
                "live: %d unsigned or unreadable message(s) on %s dropped so far (last: %r)",
                self.rejected,
                self.channel,
                exc,
            )

    def backoff(self, attempt: int) -> float:
        # the exponent capped: hours of outage must not overflow a float
        ceiling = min(self.reconnect_max, self.reconnect_base * 2 ** min(attempt, 32))
        return ceiling * random.uniform(0.5, 1.0)

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            try:
                await self._listen_once()  # returns only by raising
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure ends this connection; the loop goes on
                if self._stopping:
                    return
                if self._connected:
                    log.warning("live: Redis pub/sub lost (%r); reconnecting", exc)
                    attempt = 0
                elif attempt == 0:
                    log.warning("live: Redis pub/sub unreachable (%r); retrying", exc)
            self._connected = False
            self._up.clear()
            await asyncio.sleep(self.backoff(attempt))
            attempt += 1

    async def _listen_once(self) -> None:
        pubsub = self.listener_client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            deadline = time.monotonic() + max(self.keepalive, REDIS_TIMEOUT)
            while True:  # Redis confirms the subscription before anything else arrives
                message = await pubsub.get_message(timeout=REDIS_TIMEOUT)
                if message is not None and message["type"] == "subscribe":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("no subscription confirmation")
            self._connected = True
            self._up.set()
            self.connects += 1
            if self.connects > 1:
                log.info("live: Redis pub/sub back; subscribers catch up from the inbox")
            # anything published while no connection listened is in the inbox
            self.catch_up_all()
            seen = time.monotonic()
            pinged = False
            while True:
                message = await pubsub.get_message(timeout=self.keepalive)
                now = time.monotonic()
                if message is None:
                    if pinged and now - seen > self.keepalive * 2:
                        raise TimeoutError("no answer to ping")
                    if not pinged or now - seen > self.keepalive:
                        await pubsub.ping()
                        pinged = True
                    continue
                seen, pinged = now, False
                if message["type"] == "message":
                    try:
                        self.deliver(decode(message["data"], self.key))
                    except (ValueError, TypeError) as exc:  # not ours: dropped, go on
                        self.note_rejected(exc)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), REDIS_TIMEOUT)


# The process's hub: set by the app's lifespan (and the worker), read by `publish`.
_hub: Hub | None = None


def install(hub: Hub | None) -> None:
    global _hub
    _hub = hub


def current() -> Hub | None:
    return _hub


def uninstall(hub: Hub) -> None:
    global _hub
    if _hub is hub:
        _hub = None


async def publish(events: Sequence[NotificationEvent]) -> None:
    """Tell every process's subscribers of these users about these events. Harmless when
    run twice: subscribers drop a seq they have already given."""
    hub = _hub
    if hub is None or not events:
        return
    await hub.publish(events)


async def latest_seq(user_id: int) -> int:
    row: Any = (
        await NotificationEvent.filter(user_id=user_id)
        .order_by("-seq")
        .first()
        .values_list("seq", flat=True)
    )
    return int(row or 0)


async def read_after(user_id: int, after: int, upto: int | None = None) -> list[NotificationEvent]:
    qs = NotificationEvent.filter(user_id=user_id, seq__gt=after)
    if upto is not None:
        qs = qs.filter(seq__lte=upto)
    return await qs.order_by("seq").limit(PAGE)


async def stream(hub: Hub, user_id: int, since: int | None) -> AsyncGenerator[Event, None]:
    """The user's events with seq > `since` from the inbox (none when `since` is None: only
    what comes after now), then live ones: in seq order, each once."""
    sub = hub.subscribe(user_id)  # before reading: nothing falls between the two
    try:
        if since is None:
            last = await latest_seq(user_id)
            catch_up = False
        else:
            # not past the inbox's end: a seq kept from another account (one phone, two
            # people) would otherwise drop every new event until the seq caught up
            last, catch_up = min(since, await latest_seq(user_id)), True
        while True:
            if catch_up:
                while True:
                    rows = await read_after(user_id, last)
                    for row in rows:
                        yield row
                        last = row.seq
                    if len(rows) < PAGE:
                        break
            events, catch_up = await sub.take()
            for event in sorted(events, key=lambda e: e.seq):
                if event.seq <= last:
                    continue  # given already (a job run twice, a catch-up that read it)
                while event.seq > last + 1:  # a gap: the missing ones are in the inbox
                    rows = await read_after(user_id, last, event.seq - 1)
                    for row in rows:
                        yield row
                        last = row.seq
                    if len(rows) < PAGE:
                        break
                yield event
                last = event.seq
    finally:
        hub.unsubscribe(sub)
