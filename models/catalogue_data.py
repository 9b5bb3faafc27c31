"""The disclosure catalogue seeded into every database (editable by admins afterwards).

The finance catalogue of the 2011 rules (《农村集体经济组织财务公开规定》, 农经发〔2011〕13号:
8 groups, 44 items; group names as published, the split into items reconstructed), a village
affairs catalogue normalised from the national baseline (中办发〔2004〕17号) and provincial
examples (not an official list), and the village party-branch items of 《中国共产党党务公开
条例（试行）》. Compliance counts the items marked required, at their frequency.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models.disclosures import CatalogueItem, Category, Frequency

M, Q, H, Y, NOW, EV = (
    Frequency.MONTHLY,
    Frequency.QUARTERLY,
    Frequency.HALF_YEARLY,
    Frequency.YEARLY,
    Frequency.IMMEDIATE,
    Frequency.ON_EVENT,
)
FIN_BASIS = "农村集体经济组织财务公开规定（农经发〔2011〕13号）"
VA_BASIS = "村民委员会组织法 第三十条"
PARTY_BASIS = "中国共产党党务公开条例（试行）"

# (code, name, frequency, required, items)
FINANCE: list[tuple[str, str, Frequency, bool, list[str]]] = [
    (
        "FIN-1",
        "财务计划",
        Y,
        True,
        [
            "财务收支计划",
            "固定资产购建计划",
            "农业基本建设计划",
            "兴办企业、农业开发和农业技术推广的投资计划",
            "集体资产资源承包、租赁、出让计划",
        ],
    ),
    (
        "FIN-2",
        "各项收入",
        M,
        True,
        [
            "集体经营收入",
            "发包及上交收入",
            "投资收益",
            "一事一议筹资及以资代劳款项",
            "村级组织运转经费财政补助款项",
            "上级专项补助款项",
            "征占土地补偿款项",
            "救济扶贫款项",
            "社会捐赠款项",
            "资产处置收入",
            "其他收入",
        ],
    ),
    (
        "FIN-3",
        "各项支出",
        M,
        True,
        [
            "集体经营支出",
            "村组（社）干部报酬",
            "报刊费支出",
            "管理费支出",
            "集体公益福利支出",
            "固定资产购建支出",
            "征占土地补偿支出",
            "救济扶贫专项支出",
            "社会捐赠支出",
            "其他支出",
        ],
    ),
    (
        "FIN-4",
        "各项资产",
        Q,
        True,
        [
            "现金及银行存款",
            "产品物资",
            "固定资产",
            "农业资产",
            "对外投资",
            "其他资产",
        ],
    ),
    (
        "FIN-5",
        "各类资源",
        Q,
        True,
        ["集体所有的耕地、林地、草地、园地、滩涂、水面、四荒地、集体建设用地等"],
    ),
    (
        "FIN-6",
        "债权债务",
        Q,
        True,
        [
            "应收单位和个人欠款",
            "银行（信用社）贷款",
            "欠单位和个人款",
            "其他债权债务",
        ],
    ),
    (
        "FIN-7",
        "收益分配",
        Y,
        True,
        [
            "收益总额",
            "提取公积公益金数额",
            "提取福利费数额",
            "外来投资分利数额",
            "成员分配数额",
            "其他分配数额",
        ],
    ),
    ("FIN-8", "其他需要公开的事项", EV, False, ["其他需要公开的财务事项"]),
]

SPECIAL = [  # 专项公开: at once, as they happen
    ("FIN-S1", "集体土地征占补偿及分配情况"),
    ("FIN-S2", "集体资产资源发包、租赁、出让、投资及收益（亏损）情况"),
    ("FIN-S3", "集体工程招投标及预决算情况"),
    ("FIN-S4", "一事一议筹资筹劳及使用情况"),
]

VILLAGE_AFFAIRS: list[tuple[str, str, Frequency, bool]] = [
    ("CW-01", "村民会议、村民代表会议决定事项及实施情况", Q, True),
    ("CW-02", "村民自治章程、村规民约", EV, False),
    ("CW-03", "宅基地使用方案、审批情况", Q, True),
    ("CW-04", "土地承包经营方案", EV, False),
    ("CW-05", "征地补偿费使用、分配方案", NOW, False),
    ("CW-06", "集体经济项目立项、承包方案；集体资产资源发包、租赁、出让、投资", NOW, False),
    ("CW-07", "公益事业兴办、筹资筹劳、建设承包方案；工程招投标及预决算", NOW, False),
    ("CW-08", "一事一议筹资筹劳方案及使用", EV, False),
    ("CW-09", "享受误工补贴人员及标准", Q, True),
    ("CW-10", "集体经济所得收益使用；收益分配", Y, True),
    ("CW-11", "计划生育政策落实方案", Q, True),
    ("CW-12", "救灾救助、补贴补助资金和物资的管理使用", Q, True),
    ("CW-13", "低保、特困供养、残疾人两项补贴名单", Q, True),
    ("CW-14", "村委会协助政府开展工作情况", Q, True),
    ("CW-15", "换届选举、成员变动、民主评议结果", EV, False),
    ("CW-99", "村民普遍关心的其他事项", EV, False),
]

PARTY: list[tuple[str, str, Frequency, bool]] = [
    ("DW-01", "学习贯彻党中央和上级组织决策部署情况", H, True),
    ("DW-02", "任期工作目标、阶段性工作部署、重点工作任务及落实情况", H, True),
    ("DW-03", "党内学习教育、党员教育培训、执行“三会一课”制度情况", H, True),
    ("DW-04", "发展党员（积极分子、发展对象、预备党员接收和转正）公示", EV, False),
    ("DW-05", "党费收缴、使用和管理情况", H, True),
    ("DW-06", "民主评议党员、组织生活会情况", Y, True),
    ("DW-07", "换届选举、党组织设立及班子成员分工", EV, False),
    ("DW-08", "党风廉政建设；党员组织处理和纪律处分", H, True),
    ("DW-09", "联系服务党员和群众情况", H, False),
    ("DW-99", "其他应当公开的党务", EV, False),
]


def item(
    code: str,
    category: Category,
    name: str,
    frequency: Frequency,
    required: bool,
    basis: str,
    order: int,
    parent: str | None = None,
) -> dict:
    return dict(
        code=code,
        category=category,
        name=name,
        frequency=frequency,
        required=required,
        legal_basis=basis,
        sort_order=order,
        parent=parent,
    )


def catalogue_rows() -> list[dict]:
    rows: list[dict] = []
    order = 0
    for code, name, freq, required, items in FINANCE:
        order += 10
        rows.append(item(code, Category.FINANCE, name, freq, required, FIN_BASIS, order))
        for i, sub in enumerate(items, start=1):
            rows.append(
                item(
                    f"{code}-{i:02d}",
                    Category.FINANCE,
                    sub,
                    freq,
                    False,
                    FIN_BASIS,
                    order + i,
                    parent=code,
                )
            )
    for code, name in SPECIAL:
        order += 10
        rows.append(item(code, Category.FINANCE, name, NOW, False, FIN_BASIS, order))
    for category, basis, entries in (
        (Category.VILLAGE_AFFAIRS, VA_BASIS, VILLAGE_AFFAIRS),
        (Category.PARTY, PARTY_BASIS, PARTY),
    ):
        for code, name, freq, required in entries:
            order += 10
            rows.append(item(code, category, name, freq, required, basis, order))
    return rows


async def ensure_catalogue() -> int:
    """Insert the catalogue items that are missing (by code); never overwrite admins' edits."""
    existing = set(await CatalogueItem.all().values_list("code", flat=True))
    added = 0
    async with in_transaction():
        by_code = {c.code: c for c in await CatalogueItem.all()}
        for row in catalogue_rows():
            if row["code"] in existing:
                continue
            parent = by_code.get(row.pop("parent")) if row.get("parent") else row.pop("parent")
            item = await CatalogueItem.create(parent=parent, **row)
            by_code[item.code] = item
            added += 1
    return added
