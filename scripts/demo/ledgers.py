"""A village's year of monthly accounts, as a clerk would type them in: the lines of each
month under the 2023 chart's subjects (501 经营收入, 502 投资收益, 503 补助收入,
504 其他收入, 511 经营支出, 513 管理费用, 514 公益支出, 515 其他支出).

Deterministic (a seeded random generator per village) and chosen so that no risk rule fires
by accident: one payee per month, a receipt on every expense of 2,000 yuan or more.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass, field
from datetime import date

RECEIPT_FROM_FEN = 200_000  # expenses of 2,000 yuan or more carry a receipt photo


@dataclass(frozen=True)
class Profile:
    village: str
    township: str
    opening_fen: int
    officers: int  # 村两委干部 paid each month
    pay_fen: int  # their monthly pay in total
    cleaner: str
    tenant: str | None  # who rents the collective workshop
    rent_fen: int
    pond_tenant: str
    seed: int


PROFILES = {
    "东溪村": Profile(
        "东溪村",
        "东溪镇",
        38_642_055,
        5,
        1_260_000,
        "李秀英",
        "青禾县绿源农产品有限公司",
        650_000,
        "王建国",
        101,
    ),
    "柳塘村": Profile(
        "柳塘村",
        "东溪镇",
        21_530_870,
        4,
        1_020_000,
        "陈桂兰",
        "柳塘竹编专业合作社",
        320_000,
        "刘长水",
        202,
    ),
    "南岭村": Profile(
        "南岭村",
        "南岭乡",
        15_218_430,
        4,
        980_000,
        "杨春梅",
        None,
        0,
        "黄德明",
        303,
    ),
    "西坪村": Profile(
        "西坪村",
        "西坪镇",
        9_876_210,
        3,
        810_000,
        "唐玉兰",
        "西坪茶叶专业合作社",
        240_000,
        "谢永福",
        404,
    ),
}


@dataclass
class Line:
    day: int
    direction: str  # INCOME or EXPENSE
    subject: str
    amount_fen: int
    counterparty: str
    summary: str
    receipt: bool = False


@dataclass
class Month:
    year: int
    month: int
    lines: list[Line] = field(default_factory=list)

    def dated(self, line: Line) -> date:
        return date(
            self.year, self.month, min(line.day, calendar.monthrange(self.year, self.month)[1])
        )


QUARTER = "一二三四"
# Expenses that come with the season: (months, subject, summary, payee, low, high) in yuan.
SEASONAL = [
    ((1, 2), "514", "春节走访慰问困难户（{n}户）", "困难群众（名单见附件）", 4_000, 9_000),
    ((3,), "514", "植树造林苗木采购（{n}株）", "青禾县国营林场苗圃", 3_000, 7_500),
    ((4,), "514", "春耕灌溉渠清淤（{n}米）", "{village}水利互助组", 5_000, 12_000),
    ((5,), "514", "山塘水库安全巡查补贴", "山塘巡查员（{n}人）", 1_200, 2_400),
    ((6,), "514", "防汛物资采购（编织袋、雨衣、手电）", "青禾县五金建材店", 2_500, 6_000),
    ((7,), "514", "汛后水毁道路抢修", "青禾县路通工程队", 12_000, 28_000),
    ((8,), "514", "第二村民小组机耕路维修（{n}米）", "青禾县顺达道路养护队", 18_000, 45_000),
    ((9,), "514", "水利设施：泵站电机维修", "青禾县农机水电维修部", 3_500, 8_800),
    ((10,), "514", "秋冬季森林防火巡护补贴", "护林员（{n}人）", 2_000, 4_500),
    ((11,), "514", "文化广场路灯更换（{n}盏）", "青禾县明亮电器维修部", 2_600, 5_200),
    ((12,), "513", "年度财务审计费", "青禾县正信会计师事务所", 2_000, 3_000),
]
# Smaller expenses, one or two a month, none twice in a year.
POOL = [
    ("513", "办公用品采购（打印纸、墨盒）", "{township}文具店", 300, 900),
    ("513", "村民代表会议误工补贴（{n}人）", "村民代表（{n}人）", 900, 1_500),
    ("513", "村部网络宽带费（全年）", "中国电信青禾分公司", 960, 1_200),
    ("514", "垃圾清运费", "青禾县环卫服务有限公司", 800, 1_600),
    ("514", "饮水安全水质检测费", "青禾县疾病预防控制中心", 600, 1_000),
    ("514", "村道护栏修补（{n}米）", "青禾县安通交通设施厂", 1_500, 3_800),
    ("514", "文化广场健身器材维护", "青禾县康体器材服务部", 700, 1_800),
    ("515", "银行账户管理费", "青禾农商银行{township}支行", 100, 200),
    ("511", "鱼塘增氧机维修", "{township}农机维修店", 500, 1_400),
    ("514", "村卫生室消毒用品采购", "{township}惠民药店", 400, 900),
    ("513", "党员活动室空调维修", "{township}家电维修部", 350, 800),
    ("514", "农村公路标志牌更换（{n}块）", "青禾县安通交通设施厂", 1_200, 2_600),
    ("514", "留守儿童暑期托管补助", "{village}关爱服务站", 1_000, 2_500),
]


def yuan_fen(rng: random.Random, low: int, high: int) -> int:
    """An amount between low and high yuan, with the odd jiao and fen real bills have."""
    return rng.randint(low, high) * 100 + rng.choice([0, 0, 0, 50, rng.randint(1, 99)])


def months_for(profile: Profile, months: list[tuple[int, int]]) -> list[Month]:
    """The lines of each (year, month), in order."""
    rng = random.Random(profile.seed)
    pool = list(POOL)
    rng.shuffle(pool)
    out = []
    for year, month in months:
        m = Month(year, month)
        fill = {"village": profile.village, "township": profile.township}
        quarter = (month - 1) // 3
        if month in (1, 4, 7, 10):
            m.lines.append(
                Line(
                    rng.randint(5, 12),
                    "INCOME",
                    "503",
                    6_000_000 + rng.randint(0, 20) * 50_000,
                    f"{profile.township}财政所",
                    f"村级组织运转经费财政补助（第{QUARTER[quarter]}季度）",
                )
            )
        if profile.tenant:
            m.lines.append(
                Line(
                    rng.randint(1, 6),
                    "INCOME",
                    "501",
                    profile.rent_fen,
                    profile.tenant,
                    f"集体厂房租金（{month}月）",
                )
            )
        if month == 3:
            m.lines.append(
                Line(
                    rng.randint(10, 20),
                    "INCOME",
                    "501",
                    yuan_fen(rng, 12_000, 24_000),
                    f"承包户 {profile.pond_tenant}",
                    f"鱼塘发包收入（{year}年度）",
                )
            )
        if month in (6, 12):
            m.lines.append(
                Line(
                    rng.randint(20, 28),
                    "INCOME",
                    "502",
                    yuan_fen(rng, 15_000, 36_000),
                    "青禾县农业发展有限公司",
                    f"入股分红（{year}年{'上' if month == 6 else '下'}半年）",
                )
            )
        if month in (3, 6, 9, 12):
            m.lines.append(
                Line(
                    21,
                    "INCOME",
                    "504",
                    yuan_fen(rng, 180, 620),
                    f"青禾农商银行{profile.township}支行",
                    f"银行存款利息（第{QUARTER[quarter]}季度）",
                )
            )
        if month == 9:
            m.lines.append(
                Line(
                    rng.randint(8, 18),
                    "INCOME",
                    "503",
                    yuan_fen(rng, 50_000, 120_000),
                    "青禾县农业农村局",
                    "高标准农田建设上级专项补助",
                )
            )
        m.lines.append(
            Line(
                rng.randint(8, 12),
                "EXPENSE",
                "513",
                profile.pay_fen,
                f"村两委干部（{profile.officers}人）",
                f"村干部基本报酬（{month}月）",
            )
        )
        m.lines.append(
            Line(
                rng.randint(25, 28),
                "EXPENSE",
                "514",
                180_000,
                f"保洁员 {profile.cleaner}",
                f"环境卫生保洁员工资（{month}月）",
            )
        )
        summer = month in (6, 7, 8, 9)
        m.lines.append(
            Line(
                rng.randint(14, 18),
                "EXPENSE",
                "513",
                yuan_fen(rng, 420 if summer else 260, 880 if summer else 520),
                "国网青禾县供电公司",
                f"村部及路灯电费（{month}月）",
            )
        )
        for months_, subject, summary, payee, low, high in SEASONAL:
            if month in months_:
                n = str(rng.randint(3, 60))
                m.lines.append(
                    Line(
                        rng.randint(3, 27),
                        "EXPENSE",
                        subject,
                        yuan_fen(rng, low, high),
                        payee.format(n=n, **fill),
                        summary.format(n=n, **fill),
                    )
                )
        for _ in range(1 if month % 2 else 2):
            subject, summary, payee, low, high = pool.pop() if pool else POOL[month % len(POOL)]
            n = str(rng.randint(4, 30))
            m.lines.append(
                Line(
                    rng.randint(2, 27),
                    "EXPENSE",
                    subject,
                    yuan_fen(rng, low, high),
                    payee.format(n=n, **fill),
                    summary.format(n=n, **fill),
                )
            )
        m.lines.sort(key=lambda line: (line.day, line.direction != "INCOME"))
        for line in m.lines:
            line.receipt = line.direction == "EXPENSE" and line.amount_fen >= RECEIPT_FROM_FEN
        out.append(m)
    return out
