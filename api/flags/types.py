"""Flag and its public timeline. Who flagged or supported is shown only to the flagger and
to the township officials and county inspectors covering the village."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import graphene
from aiodataloader import DataLoader
from graphene import relay

from api.accounts.types import User
from api.compiled import by_class
from api.context import Context, Info
from api.loaders import MediaLoader, ModelByIdLoader, RegionLoader, UserLoader
from api.media.types import Media
from api.regions.types import Region
from api.relay import Node, register_node, target_node, to_global_id
from api.rows import is_row_of
from api.sync import resolve_server_time, server_time_field
from models.accounts import User as UserModel
from models.flags import OPEN_STATUSES, FlagSupport, IdentityShown
from models.flags import Flag as FlagModel
from models.flags import FlagEvent as FlagEventModel
from models.flags import FlagEventKind as FlagEventKindEnum
from models.flags import FlagReason as FlagReasonEnum
from models.flags import FlagStatus as FlagStatusEnum
from models.flags import IdentityView as IdentityViewModel
from models.flags.identity import record_identity_views
from models.messages import translate
from models.policy import Viewer, may_see_flag_identity, reveals_flag_identity

FlagReason = graphene.Enum.from_enum(FlagReasonEnum, description="质疑理由")
FlagStatus = graphene.Enum.from_enum(FlagStatusEnum)
FlagEventKind = graphene.Enum.from_enum(
    FlagEventKindEnum, description="处理进程中一步的类型：各个状态，以及逾期转县纪委"
)


class SupportersLoader(DataLoader):
    """flag id → its supporters, earliest first: one query for a whole page of flags."""

    async def batch_load_fn(self, ids: list[int]) -> list[list[UserModel]]:
        grouped: dict[int, list[UserModel]] = {i: [] for i in ids}
        supports = FlagSupport.filter(flag_id__in=ids).select_related("user").order_by("id")
        for support in await supports:
            grouped[support.flag_id].append(support.user)
        return [grouped[i] for i in ids]


class IdentityViewRecorder(DataLoader):
    """Records the identity showings of one request's viewer: every (flag id, region path,
    what) a response shows gathers into one insert per batch, not one per flag."""

    def __init__(self, viewer: Viewer) -> None:
        super().__init__()
        self.viewer = viewer

    async def batch_load_fn(self, keys: list[tuple[int, str, IdentityShown]]) -> list[None]:
        await record_identity_views(self.viewer, keys)
        return [None] * len(keys)


async def identity_shown(ctx: Context, flag_id: int, path: str, what: IdentityShown) -> None:
    """Note that this response shows a flag's flagger or supporters to its viewer."""
    recorder = ctx.loaders.get_or_create(
        IdentityViewRecorder, lambda: IdentityViewRecorder(ctx.viewer)
    )
    await recorder.load((flag_id, path, what))


class EventsLoader(DataLoader):
    async def batch_load_fn(self, ids: list[int]) -> list[list[FlagEventModel]]:
        grouped: dict[int, list[FlagEventModel]] = {i: [] for i in ids}
        for event in await FlagEventModel.filter(flag_id__in=ids).order_by("id"):
            grouped[event.flag_id].append(event)
        return [grouped[i] for i in ids]


class FlagEvent(graphene.ObjectType):
    class Meta:
        description = "处理进程中的一步，附公开说明"

    kind = graphene.Field(FlagEventKind, required=True)
    note = graphene.String()
    by_official = graphene.Boolean(required=True)
    actor = graphene.Field(User, description="处理的工作人员；提出人的操作不显示是谁")
    at = graphene.DateTime(required=True)

    @staticmethod
    def resolve_actor(root: FlagEventModel, info: Info) -> Any:
        if not root.by_official or root.actor_id is None:
            return None
        return info.context.loaders[UserLoader].load(root.actor_id)


@register_node
class Flag(graphene.ObjectType):
    class Meta:
        interfaces = (Node,)
        description = "对公开事项的质疑。提出人和附议人的身份只有管辖该村的乡镇干部和县纪委可见。"

    target_id = graphene.ID(required=True)
    target = graphene.Field(Node, description="被质疑的事项（草稿或无权查看时为空）")
    region = graphene.Field(Region, required=True)
    reason_code = graphene.Field(FlagReason, required=True)
    body = graphene.String(required=True)
    attachments = graphene.List(graphene.NonNull(Media), required=True)
    status = graphene.Field(FlagStatus, required=True)
    updated_at = graphene.DateTime(required=True, description="最近一次变化（增量同步）")
    anonymous = graphene.Boolean(required=True)
    by_committee = graphene.Boolean(
        required=True,
        description="由村务监督委员会提出（审核账目时确认的问题），不是村民个人",
    )
    raised_by = graphene.String(
        description="提出方的公开名称：村务监督委员会提出的为“村务监督委员会”，村民提出的为空"
    )
    support_count = graphene.Int(required=True)
    supported_by_me = graphene.Boolean(required=True)
    due_at = graphene.DateTime(required=True, description="乡镇首次答复的期限")
    overdue = graphene.Boolean(required=True)
    escalated = graphene.Boolean(required=True, description="已转县里处理（逾期或被重新提出）")
    first_response_at = graphene.DateTime()
    closed_at = graphene.DateTime()
    created_at = graphene.DateTime(required=True)
    events = graphene.List(graphene.NonNull(FlagEvent), required=True)
    flagger_name = graphene.String(
        description="署名：提出人选择不匿名时公开显示的名字；匿名（默认）时对所有人为空"
    )
    flagger = graphene.Field(User, description="提出人（仅授权的干部和本人可见）")
    supporters = graphene.List(
        graphene.NonNull(User), required=True, description="附议人（仅授权的干部可见）"
    )

    @classmethod
    @by_class
    def is_type_of(cls, root: Any, info: Info) -> bool:
        return is_row_of(root, FlagModel)

    @classmethod
    async def get_node(cls, info: Info, pk: str) -> Any:
        return await FlagModel.get_or_none(id=int(pk)) if pk.isdigit() else None

    @staticmethod
    def resolve_target_id(root: FlagModel, info: Info) -> str:
        return to_global_id(root.target_type, root.target_id)

    @staticmethod
    async def resolve_target(root: FlagModel, info: Info) -> Any:
        return await target_node(info, root.target_type, root.target_id)

    @staticmethod
    async def resolve_flagger_name(root: FlagModel, info: Info) -> str | None:
        # The flagger chose to stand by it: only their name, never their id or phone, and
        # no identity view (they made it public themselves). A committee flag speaks for the
        # committee (raisedBy), never for the member who confirmed the problem.
        if root.anonymous or root.by_committee:
            return None
        user = await info.context.loaders[UserLoader].load(root.flagger_id)
        return user.name if user is not None else None

    @staticmethod
    def resolve_region(root: FlagModel, info: Info) -> Any:
        return info.context.loaders[RegionLoader].load(root.region_id)

    @staticmethod
    async def resolve_attachments(root: FlagModel, info: Info) -> list[Any]:
        media = await info.context.loaders[MediaLoader].load_many(root.media_ids)
        return [m for m in media if m is not None]

    @staticmethod
    def resolve_raised_by(root: FlagModel, info: Info) -> str | None:
        return translate("SUPERVISION_COMMITTEE", info.context.lang) if root.by_committee else None

    @staticmethod
    def resolve_overdue(root: FlagModel, info: Info) -> bool:
        return root.first_response_at is None and datetime.now(UTC) > root.due_at

    @staticmethod
    def resolve_escalated(root: FlagModel, info: Info) -> bool:
        return root.escalated_at is not None

    @staticmethod
    async def resolve_supported_by_me(root: FlagModel, info: Info) -> bool:
        ctx = info.context
        user_id = ctx.viewer.user_id
        if not user_id:
            return False
        loader = ctx.loaders.get_or_create(
            ("supported", user_id), lambda: SupportedByViewerLoader(user_id)
        )
        return await loader.load(root.id)

    @staticmethod
    def resolve_events(root: FlagModel, info: Info) -> Any:
        return info.context.loaders[EventsLoader].load(root.id)

    @staticmethod
    async def resolve_flagger(root: FlagModel, info: Info) -> Any:
        ctx = info.context
        if not may_see_flag_identity(ctx.viewer, root.region_path, root.flagger_id):
            return None
        if reveals_flag_identity(ctx.viewer, root.region_path, root.flagger_id):
            await identity_shown(ctx, root.id, root.region_path, IdentityShown.FLAGGER)
        return await ctx.loaders[UserLoader].load(root.flagger_id)

    @staticmethod
    async def resolve_supporters(root: FlagModel, info: Info) -> list[Any]:
        ctx = info.context
        if not may_see_flag_identity(ctx.viewer, root.region_path):
            return []
        supporters = await ctx.loaders[SupportersLoader].load(root.id)
        if supporters and reveals_flag_identity(ctx.viewer, root.region_path):
            await identity_shown(ctx, root.id, root.region_path, IdentityShown.SUPPORTERS)
        return supporters


class FlagConnection(relay.Connection):
    class Meta:
        node = Flag

    server_time = server_time_field()
    resolve_server_time = staticmethod(resolve_server_time)


class FlagCounts(graphene.ObjectType):
    class Meta:
        description = "某事项收到的质疑数（公开，不含个人信息）"

    total = graphene.Int(required=True)
    open = graphene.Int(required=True)
    resolved = graphene.Int(required=True)
    rejected = graphene.Int(required=True)


class FlagsByDisclosureLoader(DataLoader):
    """disclosure id → its flags, oldest first: one query for a whole feed page."""

    target_type = "Disclosure"

    async def batch_load_fn(self, ids: list[int]) -> list[list[FlagModel]]:
        grouped: dict[int, list[FlagModel]] = {i: [] for i in ids}
        for flag in await FlagModel.filter(
            target_type=self.target_type, target_id__in=ids
        ).order_by("id"):
            grouped[flag.target_id].append(flag)
        return [grouped[i] for i in ids]


class SupportedByViewerLoader(DataLoader):
    """flag id → whether the viewer (fixed per loader) supported it."""

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id

    async def batch_load_fn(self, ids: list[int]) -> list[bool]:
        supported = set(
            await FlagSupport.filter(user_id=self.user_id, flag_id__in=ids).values_list(
                "flag_id", flat=True
            )
        )
        return [i in supported for i in ids]


class FlagsByLineLoader(FlagsByDisclosureLoader):
    """account line id → its flags, oldest first."""

    target_type = "AccountLine"


def flag_counts(flags: list[FlagModel]) -> FlagCounts:
    statuses = [f.status for f in flags]
    return FlagCounts(
        total=len(statuses),
        open=sum(1 for s in statuses if s in OPEN_STATUSES),
        resolved=sum(1 for s in statuses if s in ("RESOLVED", "CONFIRMED")),
        rejected=sum(1 for s in statuses if s == "REJECTED"),
    )


class RegionStatsType(graphene.ObjectType):
    class Meta:
        name = "RegionStats"
        description = "一个村或乡镇在统计期间内的公开和答复情况（不含个人信息）"

    region = graphene.Field(Region, required=True)
    on_time_disclosure_rate = graphene.Float(description="按期公开率 0–1；期间内无到期项目时为空")
    disclosures_due = graphene.Int(required=True)
    disclosures_on_time = graphene.Int(required=True)
    flags_received = graphene.Int(required=True)
    flags_resolved = graphene.Int(required=True)
    flags_rejected = graphene.Int(required=True)
    flags_overdue = graphene.Int(required=True, description="逾期答复或至今未答复")
    flags_reopened = graphene.Int(required=True)
    median_hours_to_first_response = graphene.Float()
    median_hours_to_resolution = graphene.Float()

    @staticmethod
    def resolve_on_time_disclosure_rate(root: Any, info: Info) -> float | None:
        rate = root.on_time_rate
        return round(rate, 4) if rate is not None else None


class RegionStatsConnection(relay.Connection):
    class Meta:
        node = RegionStatsType


class StatsSort(graphene.Enum):
    ON_TIME_RATE = "on_time_rate"
    FLAGS_RECEIVED = "flags_received"
    FLAGS_OVERDUE = "flags_overdue"
    MEDIAN_RESPONSE = "median_hours_to_first_response"
    NAME = "name"


IdentityShownEnum = graphene.Enum.from_enum(
    IdentityShown,
    name="IdentityShown",
    description="显示了谁的身份：提出人、附议人、审计日志中的操作人",
)


class IdentityView(graphene.ObjectType):
    class Meta:
        description = "一次身份查看：谁在何时看到了哪条质疑的提出人或附议人（县纪委可查）"

    id = graphene.ID(required=True)
    at = graphene.DateTime(required=True)
    viewer = graphene.Field(User, description="看到身份的人")
    flag = graphene.Field(Flag, required=True)
    shown = graphene.Field(IdentityShownEnum, required=True)

    @staticmethod
    def resolve_id(root: IdentityViewModel, info: Info) -> str:
        return str(root.id)

    @staticmethod
    def resolve_viewer(root: IdentityViewModel, info: Info) -> Any:
        return info.context.loaders[UserLoader].load(root.viewer_id)

    @staticmethod
    def resolve_flag(root: IdentityViewModel, info: Info) -> Any:
        return info.context.loaders[FlagLoader].load(root.flag_id)


class FlagLoader(ModelByIdLoader):
    model = FlagModel


class IdentityViewConnection(relay.Connection):
    class Meta:
        node = IdentityView
