"""A published table row that names the viewer (我的补贴)."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.context import Info
from api.disclosures.types import Disclosure
from api.loaders import RegionLoader
from api.regions.types import Region
from models.subsidies.operations import SubsidyPayment as Payment


class SubsidyCell(graphene.ObjectType):
    label = graphene.String(required=True, description="列名")
    value = graphene.String(description="如公示所示（身份证号、手机号打码）；金额为整数（分）")

    @staticmethod
    def resolve_label(root: tuple[str, str | None], info: Info) -> str:
        return root[0]

    @staticmethod
    def resolve_value(root: tuple[str, str | None], info: Info) -> str | None:
        return root[1]


class SubsidyPayment(graphene.ObjectType):
    class Meta:
        description = (
            "已公开名单中写有本人身份证号的一行（按号码的加密摘要匹配，号码本身从不保存）；"
            "只列各公开事项当前版本中的行"
        )

    disclosure = graphene.Field(Disclosure, required=True)
    version = graphene.Int(required=True, description="所在的发布版本")
    village = graphene.Field(Region, required=True, description="发布的区划（通常是行政村）")
    item = graphene.String(required=True, description="补贴项目：表格标题，没有时为公开事项标题")
    amount_fen = graphene.Float(description="该行第一个金额列（分，整数）；没有金额列时为空")
    period = graphene.String()
    published_at = graphene.DateTime(required=True)
    cells = graphene.List(
        graphene.NonNull(SubsidyCell), required=True, description="该行各列，如公示所示"
    )

    @staticmethod
    def resolve_disclosure(root: Payment, info: Info) -> Any:
        return root.disclosure

    @staticmethod
    def resolve_version(root: Payment, info: Info) -> int:
        return root.version.version

    @staticmethod
    def resolve_village(root: Payment, info: Info) -> Any:
        return info.context.loaders[RegionLoader].load(root.disclosure.region_id)

    @staticmethod
    def resolve_item(root: Payment, info: Info) -> str:
        return root.item

    @staticmethod
    def resolve_amount_fen(root: Payment, info: Info) -> int | None:
        return root.amount_fen

    @staticmethod
    def resolve_period(root: Payment, info: Info) -> str | None:
        return root.version.period

    @staticmethod
    def resolve_published_at(root: Payment, info: Info) -> Any:
        return root.version.published_at

    @staticmethod
    def resolve_cells(root: Payment, info: Info) -> list[tuple[str, str | None]]:
        return root.cells


class SubsidyPaymentConnection(relay.Connection):
    class Meta:
        node = SubsidyPayment
