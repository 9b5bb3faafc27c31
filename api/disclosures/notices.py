"""Must-read notices over the API: acknowledging one, my notices still to read, and who
read a notice per village (models.disclosures.notices does the work)."""

from __future__ import annotations

from typing import Any

import graphene
from aiodataloader import DataLoader

from api.context import Context, Info
from api.disclosures.feed import newest, page_cursor, parse_cursor
from api.disclosures.types import Disclosure, DisclosureConnection, prefetch
from api.mutations import BaseMutation
from api.regions.types import Region
from api.relay import argument_id, build_connection, decode_id, node_fields, page_size
from models.disclosures import notices

NAMES = notices.NAMES_PER_VILLAGE


class AcknowledgeNoticeInput(graphene.InputObjectType):
    id = graphene.ID(required=True)


class AcknowledgeNotice(BaseMutation):
    class Meta:
        name = "AcknowledgeNoticePayload"
        description = "村民确认已读一条必读通知（重复确认不报错，也不再记录）"

    class Arguments:
        input = AcknowledgeNoticeInput(required=True)

    disclosure = graphene.Field(Disclosure)
    login_required = True

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        now = ctx.settings.clock()
        return {"disclosure": await notices.acknowledge_notice(ctx.viewer, disclosure_id, now)}


class PendingNamesLoader(DataLoader):
    """village id → names of who has not acknowledged the notice (fixed per loader)."""

    def __init__(self, disclosure_id: int) -> None:
        super().__init__()
        self.disclosure_id = disclosure_id

    async def batch_load_fn(self, village_ids: list[int]) -> list[list[str]]:
        found = await notices.pending_names(self.disclosure_id, village_ids)
        return [found[v] for v in village_ids]


class VillageReadStats(graphene.ObjectType):
    class Meta:
        description = "一个村的必读通知阅读情况"

    village = graphene.Field(Region, required=True)
    residents = graphene.Int(required=True, description="已核实身份的在册村民（账号有效）")
    acknowledged = graphene.Int(required=True, description="其中已确认已读的人数")
    not_acknowledged_count = graphene.Int(required=True)
    not_acknowledged = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description=f"尚未确认的村民姓名（按姓名排序，每村最多 {NAMES} 个；只有姓名）",
    )

    @staticmethod
    async def resolve_village(root: Any, info: Info) -> Any:
        from api.loaders import RegionLoader

        return await info.context.loaders[RegionLoader].load(root.village_id)

    @staticmethod
    def resolve_not_acknowledged_count(root: Any, info: Info) -> int:
        return int(root.pending)

    @staticmethod
    async def resolve_not_acknowledged(root: Any, info: Info) -> list[str]:
        if not root.pending:
            return []
        disclosure_id = root.disclosure_id
        loader = info.context.loaders.get_or_create(
            ("pending", disclosure_id), lambda: PendingNamesLoader(disclosure_id)
        )
        return list(await loader.load(root.village_id))


class NoticeReadStats(graphene.ObjectType):
    class Meta:
        description = "必读通知的阅读情况：合计及所辖各村"

    notice = graphene.Field(Disclosure, required=True)
    residents = graphene.Int(required=True)
    acknowledged = graphene.Int(required=True)
    villages = graphene.List(graphene.NonNull(VillageReadStats), required=True)

    @staticmethod
    def resolve_notice(root: Any, info: Info) -> Any:
        return root.disclosure

    @staticmethod
    def resolve_villages(root: Any, info: Info) -> list[Any]:
        for village in root.villages:
            village.disclosure_id = root.disclosure.id
        return list(root.villages)


class NoticeQueries(graphene.ObjectType):
    my_must_read_notices = graphene.Field(
        DisclosureConnection,
        required=True,
        first=graphene.Int(),
        after=graphene.String(),
        description="我尚未确认已读的必读通知（本村及上级发布、未到期），最新在前",
    )
    notice_read_stats = graphene.Field(
        NoticeReadStats,
        required=True,
        id=graphene.ID(required=True),
        village_id=graphene.ID(description="只看这一个村"),
        description=(
            "必读通知的阅读情况：发布地区及上级的干部、管理员和县纪委看所辖各村，村文书只看本村"
        ),
    )

    @staticmethod
    async def resolve_my_must_read_notices(
        root: Any, info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        ctx: Context = info.context
        size = page_size(first)
        cursor = parse_cursor(after)
        qs = await notices.my_must_read(ctx.viewer, ctx.settings.clock())
        if qs is None:
            return build_connection([], size)
        page = build_connection(await newest(qs, cursor, size + 1), size, cursor=page_cursor(0))
        await prefetch(info, [edge.node for edge in page.edges], node_fields(info))
        return page

    @staticmethod
    async def resolve_notice_read_stats(
        root: Any,
        info: Info,
        id: str,
        village_id: str | None = None,  # noqa: A002
    ) -> Any:
        disclosure_id = argument_id(id, "Disclosure")[1]
        village = argument_id(village_id, "Region")[1] if village_id else None
        return await notices.read_stats(info.context.viewer, disclosure_id, village)


class NoticeMutations(graphene.ObjectType):
    acknowledge_notice = AcknowledgeNotice.Field()
