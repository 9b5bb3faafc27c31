"""The audit log, readable by inspectors and admins over their regions.

Whistleblower protection applies here too: on a flag's entries the actor, IP address and
request id are removed, and the time rounded to the day, for anyone who may not see who
flagged (admins, for instance).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import graphene
from graphene import relay
from graphene.types.generic import GenericScalar
from tortoise.expressions import Subquery

from api.accounts.types import User
from api.context import Context, Info
from api.flags.types import identity_shown
from api.loaders import RegionLoader, UserLoader
from api.regions.schema import load_region_by_global_id
from api.regions.types import Region
from api.relay import connection_args, keyset_page
from models.audit import AuditEntry as AuditEntryModel
from models.flags import IdentityShown
from models.policy import SYSTEM, Action, may_see_flag_identity, reveals_flag_identity
from models.regions import Region as RegionModel
from models.regions import subtree_range

# Entries whose actor is a villager raising or following up a flag.
IDENTITY_OBJECTS = frozenset({"Flag"})
# Their actions by the flagger or a supporter: showing the actor is an identity view.
FLAGGER_ACTIONS = frozenset({"flag.submit", "flag.support", "flag.confirm", "flag.reopen"})


async def hides_identity(ctx: Context, entry: AuditEntryModel) -> bool:
    if entry.object_type not in IDENTITY_OBJECTS or entry.region_id is None:
        return False
    region = await ctx.loaders[RegionLoader].load(entry.region_id)
    return not may_see_flag_identity(ctx.viewer, region.path if region else SYSTEM)


class AuditEntry(graphene.ObjectType):
    class Meta:
        description = "审计日志：谁在何时对什么做了什么（只增不改）"

    id = graphene.ID(required=True)
    at = graphene.DateTime(required=True)
    action = graphene.String(required=True)
    object_type = graphene.String(required=True)
    object_id = graphene.String(required=True)
    region = graphene.Field(Region)
    actor = graphene.Field(User)
    before = GenericScalar()
    after = GenericScalar()
    ip = graphene.String()
    request_id = graphene.String()

    @staticmethod
    def resolve_id(root: AuditEntryModel, info: Info) -> str:
        return str(root.id)

    @staticmethod
    def resolve_region(root: AuditEntryModel, info: Info) -> Any:
        if root.region_id is None:
            return None
        return info.context.loaders[RegionLoader].load(root.region_id)

    @staticmethod
    async def resolve_actor(root: AuditEntryModel, info: Info) -> Any:
        ctx = info.context
        if root.actor_id is None or await hides_identity(ctx, root):
            return None
        if root.action in FLAGGER_ACTIONS and root.object_id.isdigit():
            region = await ctx.loaders[RegionLoader].load(root.region_id)
            path = region.path if region else SYSTEM
            if reveals_flag_identity(ctx.viewer, path, root.actor_id):
                await identity_shown(ctx, int(root.object_id), path, IdentityShown.AUDIT_ACTOR)
        return await ctx.loaders[UserLoader].load(root.actor_id)

    @staticmethod
    async def resolve_ip(root: AuditEntryModel, info: Info) -> str | None:
        return None if await hides_identity(info.context, root) else root.ip

    @staticmethod
    async def resolve_request_id(root: AuditEntryModel, info: Info) -> str | None:
        # The client's request id is logged with its IP and other requests: it leads back.
        return None if await hides_identity(info.context, root) else root.request_id

    @staticmethod
    async def resolve_at(root: AuditEntryModel, info: Info) -> datetime:
        # The exact time matches the flagger's login a few milliseconds earlier: the day only.
        if await hides_identity(info.context, root):
            return root.at.replace(hour=0, minute=0, second=0, microsecond=0)
        return root.at


class AuditEntryConnection(relay.Connection):
    class Meta:
        node = AuditEntry


class AuditQueries(graphene.ObjectType):
    audit_log = graphene.Field(
        AuditEntryConnection,
        required=True,
        region_id=graphene.ID(required=True),
        action=graphene.String(description="如 flag.submit、disclosure.publish"),
        **connection_args(),
        description="辖区内的审计日志，最新在前（县纪委、管理员）",
    )

    @staticmethod
    async def resolve_audit_log(
        root: Any,
        info: Info,
        region_id: str,
        action: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        region = await load_region_by_global_id(info, region_id)
        info.context.viewer.require(Action.AUDIT_READ, region.path)
        low, high = subtree_range(region.path)
        region_ids = RegionModel.filter(path__gte=low, path__lt=high).values("id")
        qs = AuditEntryModel.filter(region_id__in=Subquery(region_ids))
        if action:
            qs = qs.filter(action=action)
        return await keyset_page(qs, first, after, descending=True)
