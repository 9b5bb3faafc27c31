"""Flag queries and mutations, merged into the root types by api.schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import graphene
from tortoise.expressions import Q

from api.context import Info
from api.flags.mutations import (
    AcceptFlag,
    ConfirmResolution,
    FlagIssue,
    RejectFlag,
    ReopenFlag,
    ResolveFlag,
    StartInvestigation,
    SupportFlag,
)
from api.flags.types import (
    Flag,
    FlagConnection,
    FlagReason,
    FlagStatus,
    IdentityViewConnection,
    RegionStatsConnection,
    StatsSort,
)
from api.inputs import date_arg, datetime_arg, enum_value, year_arg
from api.mutations import BaseMutation
from api.regions.schema import load_region_by_global_id
from api.regions.types import RegionKind
from api.relay import (
    Edge,
    Page,
    PageInfo,
    argument_id,
    build_connection,
    connection_args,
    cursor_key,
    cursor_time,
    decode_cursor,
    decode_int_cursor,
    encode_cursor,
    keyset_page,
    page_size,
)
from api.sync import change_page, parse_change_cursor, server_time, with_server_time
from models.errors import BadUserInput
from models.flags import OPEN_STATUSES, Holiday
from models.flags import Flag as FlagModel
from models.flags import FlagStatus as FlagStatusEnum
from models.flags.calendar import set_holiday
from models.flags.identity import identity_views_below
from models.flags.workflow import own_flags
from models.policy import Action, require_flag_queue_reader
from models.regions import RegionKind as RegionKindEnum
from models.regions import subtree_range
from models.sql import changed_after


class FlagQueries(graphene.ObjectType):
    flags = graphene.Field(
        FlagConnection,
        required=True,
        region_id=graphene.ID(required=True),
        status=graphene.Argument(FlagStatus),
        overdue=graphene.Boolean(),
        escalated=graphene.Boolean(),
        reason_code=graphene.Argument(FlagReason),
        updated_since=graphene.DateTime(
            description="增量同步：此后有变化的质疑，按 (updatedAt, id) 从早到晚"
        ),
        **connection_args(),
        description="乡镇干部、县纪委的待办：辖区内的质疑，最早到期的在前",
    )
    flag = graphene.Field(Flag, id=graphene.ID(required=True), description="质疑及其公开进程")
    identity_views = graphene.Field(
        IdentityViewConnection,
        required=True,
        region_id=graphene.ID(required=True),
        **connection_args(),
        description="县纪委：辖区内谁在何时看到了质疑提出人或附议人的身份，最新在前",
    )
    my_flags = graphene.Field(
        FlagConnection,
        required=True,
        status=graphene.Argument(FlagStatus),
        **connection_args(),
        description="我的质疑：自己提出的质疑（可按状态筛选），最新的在前；须登录",
    )
    similar_flags = graphene.List(
        graphene.NonNull(Flag),
        required=True,
        target_id=graphene.ID(required=True),
        description="同一事项上尚未办结的质疑：提交前先看看，相同的可以附议",
    )

    @staticmethod
    async def resolve_flags(
        root: Any,
        info: Info,
        region_id: str,
        status: Any = None,
        overdue: bool | None = None,
        escalated: bool | None = None,
        reason_code: Any = None,
        updated_since: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        region = await load_region_by_global_id(info, region_id)
        require_flag_queue_reader(info.context.viewer, region.path)
        at = server_time()  # before the read (api.sync)
        size = page_size(first)
        low, high = subtree_range(region.path)
        qs = FlagModel.filter(region_path__gte=low, region_path__lt=high)
        if status is not None:
            qs = qs.filter(status=enum_value(status))
        if reason_code is not None:
            qs = qs.filter(reason_code=enum_value(reason_code))
        now = datetime.now(UTC)
        late = Q(status__in=OPEN_STATUSES, first_response_at=None, due_at__lt=now)
        if overdue is True:
            qs = qs.filter(late)
        elif overdue is False:
            qs = qs.exclude(late)
        if escalated is not None:
            qs = qs.filter(escalated_at__isnull=not escalated)
        if updated_since is not None:  # delta sync: every change at or after, oldest first
            qs = qs.filter(updated_at__gte=datetime_arg(updated_since))
            cursor = parse_change_cursor(after)
            if cursor is not None:
                qs = qs.filter(changed_after(cursor))
            changed = await qs.order_by("updated_at", "id").limit(size + 1)
            return with_server_time(change_page(changed, size), at)
        if after:
            try:
                stamp, pk = decode_cursor(after).split("|")
                due, last = cursor_time(stamp), cursor_key(pk)
            except ValueError:
                raise BadUserInput("INVALID_CURSOR") from None
            qs = qs.filter(Q(due_at__gt=due) | Q(due_at=due, id__gt=last))
        rows = await qs.order_by("due_at", "id").limit(size + 1)
        page = build_connection(rows, size, key=lambda f: f"{f.due_at.isoformat()}|{f.id}")
        return with_server_time(page, at)

    @staticmethod
    async def resolve_identity_views(
        root: Any, info: Info, region_id: str, first: int | None = None, after: str | None = None
    ) -> Any:
        region = await load_region_by_global_id(info, region_id)
        qs = identity_views_below(info.context.viewer, region)
        return await keyset_page(qs, first, after, descending=True)

    @staticmethod
    async def resolve_my_flags(
        root: Any,
        info: Info,
        status: Any = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        wanted = FlagStatusEnum(enum_value(status)) if status is not None else None
        qs = own_flags(info.context.viewer, wanted)
        return await keyset_page(qs, first, after, descending=True)

    @staticmethod
    async def resolve_flag(root: Any, info: Info, id: str) -> Any:  # noqa: A002
        kind, pk = argument_id(id)
        return await FlagModel.get_or_none(id=pk) if kind == "Flag" else None

    @staticmethod
    async def resolve_similar_flags(root: Any, info: Info, target_id: str) -> list[Any]:
        kind, pk = argument_id(target_id)
        return (
            await FlagModel.filter(target_type=kind, target_id=pk, status__in=OPEN_STATUSES)
            .order_by("-support_count", "id")
            .limit(20)
        )


def ranked(rows: list[Any], sort: str, descending: bool) -> list[Any]:
    """Sorted by one measure; regions without data for it come last either way."""
    if sort == "name":
        return sorted(rows, key=lambda r: r.region.name, reverse=descending)
    known = [r for r in rows if getattr(r, sort) is not None]
    unknown = [r for r in rows if getattr(r, sort) is None]
    known.sort(key=lambda r: (getattr(r, sort), r.region.id), reverse=descending)
    return known + unknown


class StatsQueries(graphene.ObjectType):
    supervision_stats = graphene.Field(
        RegionStatsConnection,
        required=True,
        region_id=graphene.ID(required=True),
        from_=graphene.Date(required=True, name="from", description="含当日（北京时间）"),
        to=graphene.Date(required=True, description="不含当日"),
        level=graphene.Argument(RegionKind, description="VILLAGE（默认）或 TOWNSHIP"),
        sort_by=graphene.Argument(StatsSort),
        descending=graphene.Boolean(),
        **connection_args(),
        description="监督统计排行：按期公开率、质疑数、逾期数、答复时长，公开可查",
    )

    @staticmethod
    async def resolve_supervision_stats(
        root: Any,
        info: Info,
        region_id: str,
        from_: Any,
        to: Any,
        level: Any = None,
        sort_by: Any = None,
        descending: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        from_, to = date_arg(from_), date_arg(to)
        if not from_ < to or (to - from_).days > 366:
            raise BadUserInput("BAD_USER_INPUT")
        region = await load_region_by_global_id(info, region_id)
        kind = RegionKindEnum(enum_value(level)) if level is not None else RegionKindEnum.VILLAGE
        rows = await info.context.services.stats.get(region, from_, to, kind)
        sort = enum_value(sort_by) if sort_by is not None else "on_time_rate"
        rows = ranked(rows, sort, bool(descending))
        size = page_size(first)
        last = decode_int_cursor(after)
        offset = last + 1 if last is not None else 0
        page = rows[offset : offset + size + 1]
        edges = [Edge(r, encode_cursor(offset + i)) for i, r in enumerate(page[:size])]
        return Page(edges, PageInfo(edges, len(page) > size, has_previous=offset > 0))


class HolidayType(graphene.ObjectType):
    class Meta:
        name = "Holiday"
        description = "法定节假日（不计入答复期限），或调休上班的周末"

    day = graphene.Date(required=True)
    name = graphene.String(required=True)
    workday = graphene.Boolean(required=True)


class CalendarQueries(graphene.ObjectType):
    holidays = graphene.List(
        graphene.NonNull(HolidayType), required=True, year=graphene.Int(required=True)
    )

    @staticmethod
    async def resolve_holidays(root: Any, info: Info, year: int) -> list[Any]:
        year = year_arg(year)
        return await Holiday.filter(
            day__gte=date(year, 1, 1), day__lt=date(year + 1, 1, 1)
        ).order_by("day")


class SetHolidayInput(graphene.InputObjectType):
    day = graphene.Date(required=True)
    name = graphene.String(required=True)
    workday = graphene.Boolean(default_value=False, description="调休：这个周末要上班")
    remove = graphene.Boolean(default_value=False)


class SetHoliday(BaseMutation):
    class Meta:
        name = "SetHolidayPayload"
        description = "维护节假日表（全系统管理员）：答复期限按工作日计算"

    class Arguments:
        input = SetHolidayInput(required=True)

    holiday = graphene.Field(HolidayType)
    permission = Action.CALENDAR_EDIT

    @classmethod
    async def perform(cls, ctx: Any, data: Any) -> dict[str, Any]:
        holiday = await set_holiday(
            ctx.viewer, data.day, data.name, workday=bool(data.workday), remove=bool(data.remove)
        )
        return {"holiday": holiday}


class FlagMutations(graphene.ObjectType):
    set_holiday = SetHoliday.Field()
    flag_issue = FlagIssue.Field()
    support_flag = SupportFlag.Field()
    accept_flag = AcceptFlag.Field()
    start_investigation = StartInvestigation.Field()
    resolve_flag = ResolveFlag.Field()
    reject_flag = RejectFlag.Field()
    confirm_resolution = ConfirmResolution.Field()
    reopen_flag = ReopenFlag.Field()
