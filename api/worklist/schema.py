"""The work lists' queries and mutations; merged into the root types."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Info
from api.relay import argument_id, connection_args
from api.worklist.mutations import ReturnDisclosure, ReturnMonthlyAccount, WithdrawDisclosure
from api.worklist.types import ClerkWork, ReviewItemConnection, review_page
from models.worklist.queue import clerk_work, review_queue


class WorklistQueries(graphene.ObjectType):
    review_queue = graphene.Field(
        ReviewItemConnection,
        required=True,
        village_id=graphene.ID(required=True),
        **connection_args(),
        description=(
            "等待本村监督委员会审核的事项，最早提交的在前：公开事项、财务更正、月度账目。"
            "监督委员会，及管辖本村的乡镇干部、县纪委和管理员（只读）可见"
        ),
    )
    my_work = graphene.Field(
        ClerkWork,
        required=True,
        village_id=graphene.ID(required=True),
        description="村文书的工作清单：草稿、被退回的事项及原因、待审核、定时发布、应公开事项",
    )

    @staticmethod
    async def resolve_review_queue(
        root: Any, info: Info, village_id: str, first: int | None = None, after: str | None = None
    ) -> Any:
        _, pk = argument_id(village_id, "Region")
        items = await review_queue(info.context.viewer, pk)
        return review_page(items, first, after)

    @staticmethod
    async def resolve_my_work(root: Any, info: Info, village_id: str) -> Any:
        _, pk = argument_id(village_id, "Region")
        return await clerk_work(info.context.viewer, pk)


class WorklistMutations(graphene.ObjectType):
    return_disclosure = ReturnDisclosure.Field()
    return_monthly_account = ReturnMonthlyAccount.Field()
    withdraw_disclosure = WithdrawDisclosure.Field()
