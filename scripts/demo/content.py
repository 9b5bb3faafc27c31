"""The demo's year of village life, played through the domain operations in time order.

Every step runs at a time in the past (the operations take `now`), earliest first, so the
hash chains, deadlines and league tables read as if it had happened: months uploaded and
approved, quarterly items published (a few late, a few never), comments answered, flags
worked through to every status. The audit log keeps the real time, with the seed's name.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from api.settings import Settings
from media.operations import UploadLimits, upload_media
from media.service import MediaStore
from media.storage import LocalStorage
from models.accounts import Role, User
from models.accounts.auth import Passwords
from models.accounts.operations import create_user, grant_role, verify_residency
from models.comments.workflow import add_comment
from models.disclosures import PERIODIC, CatalogueItem, Category, Disclosure
from models.disclosures.periods import DEFAULT_DUE_DAY, SHANGHAI, Period, due_at, parse_period
from models.disclosures.workflow import (
    approve_disclosure,
    create_disclosure,
    publish_disclosure,
    submit_disclosure,
)
from models.finance import Direction, MonthlyAccount, RiskHit, RiskStatus
from models.finance.workflow import EnteredLine, approve_month, decide_risk_hit, save_month
from models.flags import FlagReason
from models.flags.escalation import escalate_overdue_flags
from models.flags.workflow import (
    accept_flag,
    confirm_resolution,
    reject_flag,
    reopen_flag,
    resolve_flag,
    start_investigation,
    submit_flag,
    support_flag,
)
from models.media import MediaPurpose
from models.policy import Viewer, viewer_for_user
from models.regions import Region
from scripts.demo.extras import plan_acknowledgements, plan_prices, plan_subsidy_list
from scripts.demo.ledgers import PROFILES, Line, Month, months_for
from scripts.demo.receipts import ReceiptPainter
from scripts.demo.texts import period_label, periodic_text

if TYPE_CHECKING:
    from scripts.seed_demo import Demo

# (phone, name, village, role or None for a verified villager): the people of the
# featured villages, besides the base demo's users (all with the demo password).
PEOPLE = [
    ("13800000007", "村民 钱秀兰", "东溪村", None),
    ("13800000008", "村民 孙志强", "东溪村", None),
    ("13800000009", "村民 周桂芳", "东溪村", None),
    ("13800000010", "村民 吴建华", "柳塘村", None),
    ("13800000011", "村民 郑小燕", "柳塘村", None),
    ("13800000012", "村民 林春生", "南岭村", None),
    ("13800000013", "村文书 冯丽", "柳塘村", Role.CLERK),
    ("13800000014", "监委会 黄海", "柳塘村", Role.SUPERVISOR),
    ("13800000015", "村文书 何静", "南岭村", Role.CLERK),
    ("13800000016", "监委会 罗军", "南岭村", Role.SUPERVISOR),
    ("13800000017", "村民 唐建军", "西坪村", None),
    ("13800000018", "村文书 韩雪", "西坪村", Role.CLERK),
    ("13800000019", "监委会 邓志远", "西坪村", Role.SUPERVISOR),
]
# Which months go wrong, by index in the year (0 = the oldest): published late, the month
# with a risk hit, the month corrected after publication, the month still a draft.
LATE = {"东溪村": {3}, "柳塘村": {2, 7}, "南岭村": {5}, "西坪村": {1, 4, 6, 9}}
RISK_MONTH, CORRECTED_MONTH = ("东溪村", 5), ("东溪村", 8)
DRAFT_MONTH = ("南岭村", 11)
# Of the quarterly, half-yearly and yearly required items: how many are late or missing
# (西坪村 lags behind the others, so the league table has a bottom too).
SHARES = {"西坪村": (0.2, 0.2)}
USUAL_SHARES = (0.08, 0.07)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(UTC)


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def year_of_months(now: datetime) -> list[tuple[int, int]]:
    """The twelve months up to the last one a clerk could have published by now."""
    today = now.astimezone(SHANGHAI).date()
    year, month = today.year, today.month
    for _ in range(1 if today.day >= 3 else 2):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    out = []
    for _ in range(12):
        out.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


Run = Callable[[datetime], Awaitable[Any]]  # a step, given its time


@dataclass(order=True)
class Step:
    at: datetime
    order: int
    run: Run = field(compare=False)


class Timeline:
    """Steps run earliest first; a step may add later ones (a deadline it just learned)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.steps: list[Step] = []
        self.counter = itertools.count()

    def add(self, at: datetime, run: Run) -> None:
        heapq.heappush(self.steps, Step(at.replace(microsecond=0), next(self.counter), run))

    async def play(self) -> None:
        while self.steps:
            step = heapq.heappop(self.steps)
            assert step.at < self.now, "a demo step in the future"
            await step.run(step.at)


@dataclass
class Village:
    region: Region
    clerk: Viewer
    supervisor: Viewer
    villagers: list[Viewer]


@dataclass
class Context:
    settings: Settings
    timeline: Timeline
    villages: dict[str, Village]
    official: Viewer
    store: MediaStore
    painter: ReceiptPainter
    items: dict[str, CatalogueItem]
    receipts: dict[tuple[str, int, int], dict[int, int]] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.timeline.now


async def seed_content(
    demo: Demo, settings: Settings, source: str, password: str, now: datetime | None = None
) -> None:
    """Everything after the regions and base users (see scripts.seed_demo); `now` is the
    demo's present (default the real time): every step happens before it."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    by_name = {v.name: v for v in demo.villages}
    people = await add_people(settings, by_name, source, password)
    demo.people = people
    view = {phone: await viewer_for_user(user, source) for phone, user in people.items()}
    base = {  # read again: their phones were verified since
        role: await viewer_for_user(await User.get(id=user.id), source)
        for role, user in demo.users.items()
    }
    villages = {
        "东溪村": Village(
            by_name["东溪村"],
            base["CLERK"],
            base["SUPERVISOR"],
            [base["VILLAGER"], view["13800000007"], view["13800000008"], view["13800000009"]],
        ),
        "柳塘村": Village(
            by_name["柳塘村"],
            view["13800000013"],
            view["13800000014"],
            [view["13800000010"], view["13800000011"]],
        ),
        "南岭村": Village(
            by_name["南岭村"], view["13800000015"], view["13800000016"], [view["13800000012"]]
        ),
        "西坪村": Village(
            by_name["西坪村"], view["13800000018"], view["13800000019"], [view["13800000017"]]
        ),
    }
    context = Context(
        settings=settings,
        timeline=Timeline(now),
        villages=villages,
        official=base["OFFICIAL"],
        store=MediaStore(LocalStorage(settings.media_root), settings.media_max_pixels),
        painter=ReceiptPainter(settings.font_path),
        items={i.code: i for i in await CatalogueItem.all()},
    )
    for name in villages:
        plan_months(context, name)
        plan_periodic_items(context, name)
    plan_township_notices(context, demo.townships[0])
    plan_prices(context, base["ADMIN"], demo.townships[0], demo.county)
    plan_acknowledgements(context)
    plan_subsidy_list(context)
    plan_comments(context)
    plan_flags(context)
    await context.timeline.play()


async def add_people(
    settings: Settings, by_name: dict[str, Region], source: str, password: str
) -> dict[str, User]:
    system = Viewer.for_system(source)
    passwords = Passwords(settings.auth)
    people = {}
    for phone, name, village, role in PEOPLE:
        home = by_name[village]
        user = await create_user(
            system,
            passwords,
            phone=phone,
            password=password,
            name=name,
            village_id=home.id if role is None else None,
        )
        if role is None:
            user = await verify_residency(system, user.id)
        else:
            await grant_role(system, user.id, role, home.id)
        people[phone] = user
    return people


# --- monthly accounts -------------------------------------------------------------------


def plan_months(context: Context, name: str) -> None:
    profile = PROFILES[name]
    rng = random.Random(profile.seed * 7)
    months = months_for(profile, year_of_months(context.now))
    for index, month in enumerate(months):
        year, number = next_month(month.year, month.month)
        late = index in LATE.get(name, set())
        day = rng.randint(13, 17) if late else rng.randint(3, 8)
        published = local(date(year, number, day), rng.randint(9, 16), rng.randint(0, 59))
        published = min(published, context.now - timedelta(hours=3))
        if (name, index) == RISK_MONTH:
            add_back_pay(month, profile.cleaner)
        if (name, index) == CORRECTED_MONTH:
            misfiled = next(line for line in month.lines if "保洁员" in line.summary)
            misfiled.subject = "513"  # 管理费用 instead of 公益支出: corrected later
        context.timeline.add(
            published - timedelta(days=2), save_step(context, name, month, index == 0)
        )
        if (name, index) == DRAFT_MONTH:
            continue  # uploaded, not approved yet: waiting in the supervisor's queue
        if (name, index) == RISK_MONTH:
            context.timeline.add(
                published - timedelta(hours=20), clear_hits_step(context, name, month)
            )
        context.timeline.add(published, approve_step(context, name, month))
        if (name, index) == CORRECTED_MONTH:
            context.timeline.add(
                published + timedelta(days=12, hours=3), correct_step(context, name, month)
            )


def add_back_pay(month: Month, cleaner: str) -> None:
    """Last month's pay for the cleaner, paid again this month: the DUPLICATE_PAYMENT rule
    fires, and the supervisor clears it."""
    earlier = month.month - 1 or 12
    month.lines.append(
        Line(
            27,
            "EXPENSE",
            "514",
            180_000,
            f"保洁员 {cleaner}",
            f"环境卫生保洁员工资（{earlier}月补发）",
        )
    )


def entered(month: Month, receipts: dict[int, int]) -> list[EnteredLine]:
    return [
        EnteredLine(
            date=month.dated(line),
            direction=Direction(line.direction),
            subject_code=line.subject,
            amount_fen=line.amount_fen,
            counterparty=line.counterparty,
            summary=line.summary,
            receipt_id=receipts.get(number),
        )
        for number, line in enumerate(month.lines, start=1)
    ]


def save_step(context: Context, name: str, month: Month, first: bool) -> Run:
    async def run(at: datetime) -> None:
        village = context.villages[name]
        limits = UploadLimits(
            context.settings.media_max_bytes, context.settings.media_daily_quota_bytes
        )
        receipts = {}
        for number, line in enumerate(month.lines, start=1):
            if not line.receipt:
                continue
            data = context.painter.jpeg(
                f"{village.region.code}-{month.year}{month.month:02d}-{number:02d}",
                month.dated(line),
                line.counterparty,
                line.summary,
                line.amount_fen,
                f"{name}村民委员会",
            )
            media = await upload_media(
                village.clerk,
                context.store,
                data=data,
                purpose=MediaPurpose.RECEIPT,
                region_id=village.region.id,
                limits=limits,
            )
            receipts[number] = media.id
        context.receipts[(name, month.year, month.month)] = receipts
        await save_month(
            village.clerk,
            village.region.id,
            month.year,
            month.month,
            entered(month, receipts),
            opening_fen=PROFILES[name].opening_fen if first else None,
        )

    return run


def approve_step(context: Context, name: str, month: Month) -> Run:
    async def run(at: datetime) -> None:
        village = context.villages[name]
        await approve_month(village.supervisor, village.region.id, month.year, month.month, now=at)

    return run


def clear_hits_step(context: Context, name: str, month: Month) -> Run:
    async def run(at: datetime) -> None:
        village = context.villages[name]
        account = await MonthlyAccount.get(
            village_id=village.region.id, year=month.year, month=month.month
        )
        hits = await RiskHit.filter(account_id=account.id, status=RiskStatus.OPEN)
        assert hits, "the demo's risk month should have a hit"
        for hit in hits:
            await decide_risk_hit(
                village.supervisor,
                hit.id,
                False,
                "上月工资因保洁员银行卡挂失未能发放，本月补发；已核对考勤表和银行回单，不是重复支付。",
                now=at,
            )

    return run


def correct_step(context: Context, name: str, month: Month) -> Run:
    async def run(at: datetime) -> None:
        village = context.villages[name]
        number, line = next(
            (n, line)
            for n, line in enumerate(month.lines, start=1)
            if line.subject == "513" and "保洁员" in line.summary
        )
        line.subject = "514"
        await save_month(
            village.clerk,
            village.region.id,
            month.year,
            month.month,
            entered(month, context.receipts[(name, month.year, month.month)]),
            reason=f"第{number}行环境卫生保洁员工资误记入管理费用（513），应为公益支出（514），"
            "金额不变。",
        )
        await approve_month(
            village.supervisor,
            village.region.id,
            month.year,
            month.month,
            now=at,
        )

    return run


# --- quarterly, half-yearly and yearly items ---------------------------------------------


def periods_due(frequency: str, now: datetime) -> list[Period]:
    """The periods of `frequency` that fell due in the last year, or ended and fall due soon."""
    year = now.astimezone(SHANGHAI).year
    texts = {
        "QUARTERLY": [f"{y}-Q{q}" for y in (year - 2, year - 1, year) for q in range(1, 5)],
        "HALF_YEARLY": [f"{y}-H{h}" for y in (year - 2, year - 1, year) for h in (1, 2)],
        "YEARLY": [str(y) for y in (year - 2, year - 1)],
    }[frequency]
    out = []
    for text in texts:
        period = parse_period(text)
        assert period is not None
        due = due_at(period, DEFAULT_DUE_DAY[period.frequency])
        if now - timedelta(days=365) < due <= now + timedelta(days=40):
            out.append(period)
    return out


def period_end(period: Period) -> date:
    year, month = next_month(period.last_month.year, period.last_month.month)
    return date(year, month, 1) - timedelta(days=1)


def plan_periodic_items(context: Context, name: str) -> None:
    """Each required item of each period: mostly on time, a few late, a few never."""
    rng = random.Random(PROFILES[name].seed * 13)
    for code in sorted(context.items):
        item = context.items[code]
        if not item.required or item.parent_id or item.frequency not in PERIODIC:
            continue
        if item.frequency == "MONTHLY":
            continue  # answered by the monthly accounts
        for period in periods_due(item.frequency, context.now):
            roll = rng.random()
            late_share, missing_share = SHARES.get(name, USUAL_SHARES)
            if roll < missing_share:
                continue
            due = due_at(period, DEFAULT_DUE_DAY[period.frequency])
            if roll < missing_share + late_share:
                at = due + timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 8))
            else:
                start = local(period_end(period) + timedelta(days=2), 9)
                window = (due - start - timedelta(hours=14)).total_seconds()
                at = start + timedelta(seconds=rng.uniform(0, window))
            if at >= context.now - timedelta(hours=1):
                continue  # not published yet
            title, body = periodic_text(code, rng)
            content = {
                "title": f"{period_label(period.text)}{title}",
                "body": body,
                "period": period.text,
                "catalogue_item_id": item.id,
            }
            context.timeline.add(at, publish_step(context, name, item, content))


def publish_step(context: Context, name: str, item: CatalogueItem, content: dict[str, Any]) -> Run:
    async def run(at: datetime) -> None:
        village = context.villages[name]
        disclosure = await create_disclosure(
            village.clerk, village.region.id, Category(item.category), content
        )
        if item.category == Category.FINANCE:  # the supervisor approves finance first
            await submit_disclosure(village.clerk, disclosure.id)
            await approve_disclosure(village.supervisor, disclosure.id, now=at - timedelta(hours=5))
        await publish_disclosure(village.clerk, disclosure.id, now=at)

    return run


NOTICES = [  # (days ago, category, title, body, must read)
    (
        9,
        Category.NOTICE,
        "关于做好秋冬季森林防火工作的通知",
        "即日起至明年4月30日为森林防火期，严禁野外用火。发现火情请立即拨打12119。",
        True,
    ),
    (
        3,
        Category.FARMING,
        "小麦条锈病防治提示",
        "近期气温回升，请注意田间巡查，发现病叶及时喷施三唑酮。",
        False,
    ),
]


def plan_township_notices(context: Context, township: Region) -> None:
    for days, category, title, body, must_read in NOTICES:

        async def run(at: datetime, category: Category = category, content: Any = None) -> None:
            disclosure = await create_disclosure(context.official, township.id, category, content)
            await publish_disclosure(context.official, disclosure.id, now=at)

        content: dict[str, Any] = {"title": title, "body": body, "must_read": must_read}
        if category == Category.FARMING:
            content["tags"] = ["PEST", "CROP"]
        context.timeline.add(
            context.now - timedelta(days=days, hours=2),
            lambda at, run=run, content=content: run(at, content=content),
        )


# --- comments and flags -------------------------------------------------------------------


async def latest_published(region: Region, code: str, before: datetime) -> Disclosure:
    """The region's newest item under catalogue item `code` published before `before` (its
    newest item of any kind if that one was never published)."""
    published = Disclosure.filter(
        region_id=region.id, first_published_at__lt=before - timedelta(hours=1)
    ).order_by("-first_published_at")
    found = await published.filter(catalogue_item__code=code).first() or await published.first()
    assert found is not None, f"nothing published in {region.name} to talk about"
    return found


# (village, code of the item, days ago, author: villager index or a role, body, replies)
# where each reply is (hours later, author, body).
COMMENTS: list[tuple[str, str, float, Any, str, list[tuple[int, Any, str]]]] = [
    (
        "东溪村",
        "FIN-2",
        2.5,
        1,
        "这个月的维修支出是哪一段路？什么时候完工的？",
        [
            (
                20,
                "CLERK",
                "是第二村民小组通往水库的那一段，已于月底完工验收，验收单和收据都附在凭证里。",
            ),
            (30, 1, "看到了，谢谢！"),
        ],
    ),
    (
        "东溪村",
        "FIN-2",
        34,
        2,
        "电费每个月都公开出来挺好，建议把路灯电费和村部电费分开列。",
        [(26, "SUPERVISOR", "建议收到，已请村文书从下个月起分两行记账。")],
    ),
    (
        "东溪村",
        "CW-13",
        12,
        3,
        "名单里有一户去年已经搬到县城住了，还符合条件吗？",
        [
            (48, "OFFICIAL", "已转村民代表会议复核，复核结果将在下一次公示中说明。"),
            (52, 0, "支持复核，评议的时候请通知我们参加。"),
        ],
    ),
    ("东溪村", "DW-05", 40, 0, "党费收缴情况一目了然，希望每次都按时公开。", []),
    (
        "柳塘村",
        "FIN-2",
        5,
        0,
        "竹编合作社的厂房租金今年涨了吗？",
        [(6, 1, "合同是三年一签的，今年还是老价钱。")],
    ),
    (
        "南岭村",
        "FIN-2",
        20,
        0,
        "分红和利息都写清楚了，点个赞。",
        [(28, "CLERK", "谢谢支持，有疑问随时在这里留言。")],
    ),
]


def author(context: Context, village: Village, who: Any) -> Viewer:
    if who == "CLERK":
        return village.clerk
    if who == "SUPERVISOR":
        return village.supervisor
    if who == "OFFICIAL":
        return context.official
    return village.villagers[who]


def plan_comments(context: Context) -> None:
    for name, code, days, who, body, replies in COMMENTS:
        village = context.villages[name]
        at = context.now - timedelta(days=days)

        async def run(
            at: datetime,
            village: Village = village,
            code: str = code,
            who: Any = who,
            body: str = body,
            replies: list[tuple[int, Any, str]] = replies,
        ) -> None:
            target = await latest_published(village.region, code, at)
            comment = await add_comment(author(context, village, who), target.id, body, now=at)
            for hours, replier, text in replies:
                context.timeline.add(
                    at + timedelta(hours=hours),
                    lambda when, replier=replier, text=text: add_comment(
                        author(context, village, replier), target.id, text, comment.id, now=when
                    ),
                )

        context.timeline.add(at, run)


@dataclass
class FlagPlan:
    village: str
    code: str  # the catalogue item of the flagged item
    days_ago: float
    flagger: int
    anonymous: bool
    reason: FlagReason
    body: str
    steps: list[tuple[float, str, str | None]]  # (days after submission, action, note)
    supporters: list[int] = field(default_factory=list)


# Every status of the flag workflow: SUBMITTED (one fresh, one overdue and escalated),
# ACCEPTED, INVESTIGATING, RESOLVED (answered late), REJECTED, CONFIRMED and REOPENED.
FLAGS = [
    FlagPlan(
        "东溪村",
        "FIN-2",
        1,
        2,
        True,
        FlagReason.AMOUNT_QUESTIONED,
        "这个月电费比去年同期高出不少，能否公开电表读数和缴费单？",
        [],
    ),
    FlagPlan(
        "柳塘村",
        "FIN-2",
        26,
        0,
        True,
        FlagReason.RECEIPT_MISSING,
        "机耕路维修款只附了一张收据，能否补充工程量清单和验收记录？",
        [(0, "escalate", None)],
        supporters=[1],
    ),
    FlagPlan(
        "东溪村",
        "FIN-2",
        8,
        0,
        False,
        FlagReason.CONTENT_FALSE,
        "公示的保洁员工资是每月1800元，听说实际只发了1500元，请核实。",
        [(2, "accept", "已受理，将会同村务监督委员会核对工资发放表。")],
    ),
    FlagPlan(
        "东溪村",
        "FIN-2",
        17,
        1,
        True,
        FlagReason.AMOUNT_QUESTIONED,
        "道路维修花了三万多元，修的是哪一段？工程量和单价是多少？",
        [
            (1, "accept", None),
            (3, "investigate", "已调取施工合同和验收单，正在现场核对工程量。"),
        ],
        supporters=[0, 3],
    ),
    FlagPlan(
        "柳塘村",
        "FIN-2",
        48,
        1,
        False,
        FlagReason.RECEIPT_MISSING,
        "办公用品采购没有附发票，请补充。",
        [
            (0, "escalate", None),
            (0, "accept late", "已受理，正在向村文书调取发票。"),
            (18, "resolve", "发票照片已补附在该笔支出上，金额与公示一致。"),
        ],
    ),
    FlagPlan(
        "东溪村",
        "CW-13",
        70,
        3,
        True,
        FlagReason.NOT_DISCLOSED_ON_TIME,
        "本季度的低保名单到现在还没有公示。",
        [(2, "reject", "本季度名单已在规定期限内公示，可在村务公开栏目中查看。")],
    ),
    FlagPlan(
        "东溪村",
        "FIN-2",
        100,
        0,
        False,
        FlagReason.AMOUNT_QUESTIONED,
        "入股分红比去年少了，是什么原因？",
        [
            (1, "accept", None),
            (
                6,
                "resolve",
                "青禾县农业发展有限公司上半年收益下降，分红按持股比例计算，分红通知书已附。",
            ),
            (8, "confirm", None),
        ],
    ),
    FlagPlan(
        "柳塘村",
        "FIN-2",
        60,
        0,
        True,
        FlagReason.CONTENT_FALSE,
        "公示的垃圾清运费按每周两次算，我们组每周只见到一次清运车。",
        [
            (3, "reject", "清运合同约定每周两次，清运记录齐全。"),
            (5, "reopen", "我们组确实每周只来一次，请县里派人核实清运记录。"),
        ],
    ),
]


def plan_flags(context: Context) -> None:
    for plan in FLAGS:
        at = context.now - timedelta(days=plan.days_ago, hours=3)

        async def run(at: datetime, plan: FlagPlan = plan) -> None:
            village = context.villages[plan.village]
            flagger = village.villagers[plan.flagger]
            target = await latest_published(village.region, plan.code, at)
            flag = await submit_flag(
                flagger,
                target.id,
                plan.reason,
                plan.body,
                anonymous=plan.anonymous,
                media_ids=[],
                response_days=context.settings.flag_response_days,
                now=at,
            )
            for n, supporter in enumerate(plan.supporters, start=1):
                context.timeline.add(
                    at + timedelta(hours=5 * n),
                    lambda when, who=village.villagers[supporter]: support_flag(
                        who, flag.id, now=when
                    ),
                )
            late = flag.due_at + timedelta(hours=20)  # a day past the deadline
            for days, action, note in plan.steps:
                when = (
                    late + timedelta(days=days) if "late" in action else at + timedelta(days=days)
                )
                if action == "escalate":  # the hourly job, the hour after the deadline
                    when = flag.due_at + timedelta(minutes=30)
                context.timeline.add(
                    when, flag_step(context, flag.id, action.split()[0], note, flagger)
                )

        context.timeline.add(at, run)


def flag_step(
    context: Context, flag_id: int, action: str, note: str | None, flagger: Viewer
) -> Run:
    async def run(at: datetime) -> None:
        official = context.official
        if action == "escalate":
            await escalate_overdue_flags(at)
        elif action == "accept":
            await accept_flag(official, flag_id, note, now=at)
        elif action == "investigate":
            await start_investigation(official, flag_id, note, now=at)
        elif action == "resolve":
            await resolve_flag(official, flag_id, note, now=at)
        elif action == "reject":
            await reject_flag(official, flag_id, note, now=at)
        elif action == "confirm":
            await confirm_resolution(flagger, flag_id, now=at)
        elif action == "reopen":
            await reopen_flag(flagger, flag_id, note, now=at)

    return run
