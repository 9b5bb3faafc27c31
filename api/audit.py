"""Write the audit log from inside a mutation's transaction."""

from __future__ import annotations

from typing import Any

from api.context import Context
from models.audit import AuditEntry


async def record(
    ctx: Context,
    action: str,
    obj: Any,
    *,
    region_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> AuditEntry:
    return await AuditEntry.create(
        actor_id=actor_id if actor_id is not None else ctx.viewer.user_id,
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.pk),
        region_id=region_id,
        before=before,
        after=after,
        ip=ctx.ip,
        request_id=ctx.request_id,
    )
