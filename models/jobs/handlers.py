"""What a job kind does: `@job_handler("kind")` registers an async function of a context.

A handler may run again after its effect happened and before its acknowledgement (a
worker killed in between): each must find its effect done and do nothing the second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.policy import Viewer

Handler = Callable[["JobContext"], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


@dataclass
class JobContext:
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    now: datetime  # the injectable clock's time when the attempt started
    clock: Callable[[], datetime]
    viewer: Viewer  # Viewer.for_system("job:<kind>"): the audit log's actor
    services: Any  # what the process opened (the API's Services): caches, media store


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register
