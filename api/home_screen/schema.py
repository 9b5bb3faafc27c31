"""The app's home screen in one request: `home(villageId)`.

Every part is resolved only when selected, so a client may ask for the public parts
(latest items, notices in force, prices, compliance badge) without a token — an answer the
same for everyone, which the response cache keeps — and for the personal parts
(unacknowledged notices, unread count) in a second small request (docs/api.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import graphene

from api.context import Context, Info
from api.disclosures.feed import feed
from api.disclosures.types import Disclosure
from api.prices.types import LatestPrice
from api.regions.schema import load_region_by_global_id
from api.regions.types import Region
from api.rows import fetch_rows
from api.sync import server_time
from models.disclosures.notices import must_read_for
from models.errors import BadUserInput
from models.flags.badge import compliance_badge
from models.prices.board import latest_prices
from models.prices.recording import beijing_today
from models.regions import Region as RegionModel
from models.regions import RegionKind
from notifications.inbox import unread_count

LATEST = 20  # items on the home screen
NOTICES = 10  # must-read notices shown at most
PRICES = 12  # board rows by default


@dataclass
class HomeRoot:
    village: RegionModel
    now: datetime  # the app's clock: what is expired
    server_time: datetime


class ComplianceBadge(graphene.ObjectType):
    class Meta:
        description = (
            "本村今年按期公开情况（来自监督统计排行，几分钟内更新）："
            "按期率、在全县各村中的名次和等级"
        )

    year = graphene.Int(required=True)
    due = graphene.Int(required=True, description="今年已到期限的必公开项目数")
    on_time = graphene.Int(required=True)
    on_time_permille = graphene.Int(description="按期公开率（‰）；还没有到期项目时为空")
    rank = graphene.Int(description="在本县有到期项目的村中按按期率的名次（1 最好，并列同名次）")
    ranked = graphene.Int(required=True, description="参加排名的村数")
    grade = graphene.String(description="A（≥95%）、B（≥80%）、C（≥60%）、D；没有到期项目时为空")


class Home(graphene.ObjectType):
    class Meta:
        description = (
            "首页：一次请求取齐。未登录部分人人相同（可缓存）；"
            "mustReadNotices 与 unreadNotificationCount 随登录者而变"
        )

    village = graphene.Field(Region, required=True)
    server_time = graphene.DateTime(
        required=True, description="增量同步的起点：之后各列表以此为 updatedSince"
    )
    latest = graphene.List(
        graphene.NonNull(Disclosure),
        required=True,
        description=f"本村（及上级发给本村的通知、农技信息）最新 {LATEST} 条，已到期的不含",
    )
    must_read_notices = graphene.List(
        graphene.NonNull(Disclosure),
        required=True,
        description=(
            f"必读通知（未到期，最多 {NOTICES} 条）：已登录为本人尚未确认的；"
            "未登录为本村现行的全部必读通知"
        ),
    )
    unread_notification_count = graphene.Int(description="本人未读通知数；未登录为空")
    prices = graphene.List(
        graphene.NonNull(LatestPrice),
        required=True,
        first=graphene.Int(default_value=PRICES, description=f"最多几行（默认 {PRICES}，至多 50）"),
        description="行情板（与 latestPrices 相同，按品种顺序）的前几行",
    )
    compliance = graphene.Field(ComplianceBadge, required=True)

    @staticmethod
    def resolve_village(root: HomeRoot, info: Info) -> Any:
        return root.village

    @staticmethod
    def resolve_server_time(root: HomeRoot, info: Info) -> Any:
        return root.server_time

    @staticmethod
    async def resolve_latest(root: HomeRoot, info: Info) -> list[Any]:
        # one statement with the visible comment counts; thumbnails in one batch after
        page = await feed(
            regions=[root.village], first=LATEST, now=root.now, with_comment_count=True
        )
        rows = [edge.node for edge in page.edges]
        for row in rows:
            # counted by the statement of the short cuts; without them (ORM instances) the
            # field's resolver counts
            if hasattr(row, "comment_count"):
                row._prefetched = {"commentCount": row.comment_count}
        return rows

    @staticmethod
    async def resolve_must_read_notices(root: HomeRoot, info: Info) -> list[Any]:
        ctx: Context = info.context
        qs = must_read_for(root.village.path, root.now, ctx.viewer.user_id)
        return list(await fetch_rows(qs.order_by("-published_at", "-id").limit(NOTICES)))

    @staticmethod
    async def resolve_unread_notification_count(root: HomeRoot, info: Info) -> int | None:
        ctx: Context = info.context
        if ctx.viewer.user_id is None:
            return None
        return await unread_count(ctx.viewer)

    @staticmethod
    async def resolve_prices(root: HomeRoot, info: Info, first: int = PRICES) -> list[Any]:
        if not 0 <= first <= 50:
            raise BadUserInput("PAGE_SIZE", limit=50)
        return (await latest_prices(root.village, root.now))[:first]

    @staticmethod
    async def resolve_compliance(root: HomeRoot, info: Info) -> Any:
        ctx: Context = info.context
        return await compliance_badge(ctx.services.stats, root.village, beijing_today(root.now))


class HomeQueries(graphene.ObjectType):
    home = graphene.Field(
        Home,
        required=True,
        village_id=graphene.ID(required=True),
        description="首页一次取齐：最新事项、必读通知、未读数、行情板和本村公开评级",
    )

    @staticmethod
    async def resolve_home(root: Any, info: Info, village_id: str) -> HomeRoot:
        village = await load_region_by_global_id(info, village_id)
        if village.kind != RegionKind.VILLAGE:
            raise BadUserInput("NOT_A_VILLAGE")
        return HomeRoot(village, info.context.settings.clock(), server_time())
