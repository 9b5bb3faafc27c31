"""Sending back to the clerk with a reason, and withdrawing a submission."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Context
from api.disclosures.types import Disclosure
from api.finance.types import MonthlyAccount
from api.mutations import BaseMutation
from api.relay import decode_id
from models.disclosures.workflow import withdraw_disclosure
from models.policy import Action
from models.worklist.send_back import return_disclosure, return_month


class ReturnDisclosureInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    reason = graphene.String(required=True, description="退回原因，村文书可见")


class ReturnDisclosure(BaseMutation):
    class Meta:
        name = "ReturnDisclosurePayload"
        description = (
            "村务监督委员会退回待审核的公开事项（回到草稿）或财务更正，并说明原因；"
            "起草人收到通知，在工作清单中看到原因"
        )

    class Arguments:
        input = ReturnDisclosureInput(required=True)

    disclosure = graphene.Field(Disclosure)
    permission = Action.DISCLOSURE_APPROVE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        return {"disclosure": await return_disclosure(ctx.viewer, disclosure_id, data.reason)}


class ReturnMonthlyAccountInput(graphene.InputObjectType):
    village_id = graphene.ID(required=True)
    year = graphene.Int(required=True)
    month = graphene.Int(required=True)
    reason = graphene.String(required=True, description="退回原因，村文书可见")


class ReturnMonthlyAccount(BaseMutation):
    class Meta:
        name = "ReturnMonthlyAccountPayload"
        description = (
            "村务监督委员会退回已上传待审核的月度账目（或其更正），并说明原因；"
            "重新上传前不能审核公开"
        )

    class Arguments:
        input = ReturnMonthlyAccountInput(required=True)

    account = graphene.Field(MonthlyAccount)
    permission = Action.DISCLOSURE_APPROVE

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        village_id = decode_id(data.village_id, "Region", "villageId")
        account = await return_month(ctx.viewer, village_id, data.year, data.month, data.reason)
        return {"account": account}


class WithdrawDisclosureInput(graphene.InputObjectType):
    id = graphene.ID(required=True)


class WithdrawDisclosure(BaseMutation):
    class Meta:
        name = "WithdrawDisclosurePayload"
        description = "撤回已提交审核、尚未审核的公开事项（回到草稿，可再修改）"

    class Arguments:
        input = WithdrawDisclosureInput(required=True)

    disclosure = graphene.Field(Disclosure)
    permission = Action.DISCLOSURE_EDIT

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        disclosure_id = decode_id(data.id, "Disclosure")
        return {"disclosure": await withdraw_disclosure(ctx.viewer, disclosure_id)}
