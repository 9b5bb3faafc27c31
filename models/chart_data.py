"""Charts of accounts for rural collective economic organisations, seeded on every migrate.

The 2004 chart (《村集体经济组织会计制度》, 财会〔2004〕12号, 33 accounts, for months before
2024) and the 2023 chart (《农村集体经济组织会计制度》, 财会〔2023〕14号, 42 accounts, in force
since 2024-01-01; some of its codes are still to be checked against the published text).
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models.finance import AccountSubject, SubjectClass

A, L, E, C, IN, X = (
    SubjectClass.ASSET,
    SubjectClass.LIABILITY,
    SubjectClass.EQUITY,
    SubjectClass.COST,
    SubjectClass.INCOME,
    SubjectClass.EXPENSE,
)
CREDIT = {"152", "133", "162"}  # contra asset accounts

CHART_2004 = [
    ("101", "现金", A),
    ("102", "银行存款", A),
    ("111", "短期投资", A),
    ("112", "应收款", A),
    ("113", "内部往来", A),
    ("121", "库存物资", A),
    ("131", "牲畜（禽）资产", A),
    ("132", "林木资产", A),
    ("141", "长期投资", A),
    ("151", "固定资产", A),
    ("152", "累计折旧", A),
    ("153", "固定资产清理", A),
    ("154", "在建工程", A),
    ("201", "短期借款", L),
    ("202", "应付款", L),
    ("211", "应付工资", L),
    ("212", "应付福利费", L),
    ("221", "长期借款及应付款", L),
    ("231", "一事一议资金", L),
    ("301", "资本", E),
    ("311", "公积公益金", E),
    ("321", "本年收益", E),
    ("322", "收益分配", E),
    ("401", "生产（劳务）成本", C),
    ("501", "经营收入", IN),
    ("502", "经营支出", X),
    ("511", "发包及上交收入", IN),
    ("521", "农业税附加返还收入", IN),
    ("522", "补助收入", IN),
    ("531", "其他收入", IN),
    ("541", "管理费用", X),
    ("551", "其他支出", X),
    ("561", "投资收益", IN),
]
CHART_2023 = [
    ("101", "库存现金", A),
    ("102", "银行存款", A),
    ("111", "短期投资", A),
    ("112", "应收款", A),
    ("113", "内部往来", A),
    ("121", "库存物资", A),
    ("131", "消耗性生物资产", A),
    ("132", "生产性生物资产", A),
    ("133", "生产性生物资产累计折旧", A),
    ("134", "公益性生物资产", A),
    ("141", "长期投资", A),
    ("151", "固定资产", A),
    ("152", "累计折旧", A),
    ("153", "在建工程", A),
    ("154", "固定资产清理", A),
    ("161", "无形资产", A),
    ("162", "累计摊销", A),
    ("171", "长期待摊费用", A),
    ("181", "待处理财产损溢", A),
    ("201", "短期借款", L),
    ("211", "应付款", L),
    ("212", "应付工资", L),
    ("213", "应付劳务费", L),
    ("214", "应交税费", L),
    ("221", "长期借款及应付款", L),
    ("231", "一事一议资金", L),
    ("241", "专项应付款", L),
    ("301", "资本", E),
    ("311", "公积公益金", E),
    ("321", "本年收益", E),
    ("322", "收益分配", E),
    ("401", "生产（劳务）成本", C),
    ("501", "经营收入", IN),
    ("502", "投资收益", IN),
    ("503", "补助收入", IN),
    ("504", "其他收入", IN),
    ("511", "经营支出", X),
    ("512", "税金及附加", X),
    ("513", "管理费用", X),
    ("514", "公益支出", X),
    ("515", "其他支出", X),
    ("521", "所得税费用", X),
]
CHARTS = {"2004": CHART_2004, "2023": CHART_2023}


def chart_for(year: int) -> str:
    """The chart in force for a month: 2023's from 2024-01-01 on."""
    return "2023" if year >= 2024 else "2004"


async def ensure_charts() -> int:
    existing = set(await AccountSubject.all().values_list("chart_version", "code"))
    added = 0
    async with in_transaction():
        for version, rows in CHARTS.items():
            for order, (code, name, kind) in enumerate(rows):
                if (version, code) in existing:
                    continue
                debit = kind in (A, C, X) and code not in CREDIT
                await AccountSubject.create(
                    chart_version=version,
                    code=code,
                    name=name,
                    subject_class=kind,
                    debit_normal=debit,
                    sort_order=order,
                )
                added += 1
    return added
