"""The append-only audit log: who did what to which object, before and after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models import data_versions
from models.accounts import User
from models.regions import Region

if TYPE_CHECKING:
    from models.policy import Viewer


class AuditLogIsAppendOnly(RuntimeError):
    pass


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    action = fields.CharField(max_length=64)
    object_type = fields.CharField(max_length=32)
    object_id = fields.CharField(max_length=64)
    # The region the object belongs to, so inspectors can read their subtree's log.
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", null=True, related_name=False, on_delete=fields.RESTRICT
    )
    before: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    after: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    ip = fields.CharField(max_length=45, null=True)
    request_id = fields.CharField(max_length=64, null=True)

    actor_id: int | None
    region_id: int | None

    class Meta:
        table = "audit_entry"
        indexes = (("object_type", "object_id"),)

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if self._saved_in_db:
            raise AuditLogIsAppendOnly("audit entries cannot be changed")
        await super().save(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise AuditLogIsAppendOnly("audit entries cannot be deleted")


async def record(
    actor: Viewer,
    action: str,
    obj: Any,
    *,
    region_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> AuditEntry:
    """Write one audit entry for `actor` (a signed-in viewer, or a script or job acting for the
    system), inside the caller's transaction so the entry and the change commit together."""
    entry = await AuditEntry.create(
        **entry_fields(actor, action, obj, region_id, before, after, actor_id)
    )
    await data_versions.touched(region_id)  # the cached answers of the region go at commit
    return entry


def entry_fields(
    actor: Viewer,
    action: str,
    obj: Any,
    region_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> dict[str, Any]:
    return {
        "actor_id": actor_id if actor_id is not None else actor.user_id,
        "action": action,
        "object_type": type(obj).__name__,
        "object_id": str(obj.pk),
        "region_id": region_id,
        "before": before,
        "after": after,
        "ip": actor.ip,
        "request_id": actor.request_id,
    }


async def record_many(
    actor: Viewer,
    action: str,
    entries: list[tuple[Any, int | None, dict[str, Any] | None, dict[str, Any] | None]],
) -> int:
    """`record` for many objects in one statement (a batch): (object, region id, before,
    after) each, every entry as `record` would write it."""
    if entries:
        await AuditEntry.bulk_create(
            [
                AuditEntry(**entry_fields(actor, action, obj, region_id, before, after))
                for obj, region_id, before, after in entries
            ],
            batch_size=1000,
        )
        for region_id in {region_id for _, region_id, _, _ in entries}:
            await data_versions.touched(region_id)
    return len(entries)
