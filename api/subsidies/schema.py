"""我的补贴: the query and mutations, merged into the root types by api.schema."""

from __future__ import annotations

from typing import Any

import graphene

from api.context import Info
from api.relay import build_connection, connection_args, decode_int_cursor, page_size
from api.subsidies.mutations import ClearMyIdNumber, SetMyIdNumber
from api.subsidies.types import SubsidyPaymentConnection
from models.subsidies.operations import my_subsidies


class SubsidyQueries(graphene.ObjectType):
    my_subsidies = graphene.Field(
        SubsidyPaymentConnection,
        required=True,
        **connection_args(),
        description=(
            "我的补贴：已公开名单中写有本人身份证号的行，最新发布在前（须登录；未登记身份证号时"
            "为空）。只按本人登记的号码查找，任何人都不能查询他人"
        ),
    )

    @staticmethod
    async def resolve_my_subsidies(
        root: Any, info: Info, first: int | None = None, after: str | None = None
    ) -> Any:
        size = page_size(first)
        rows = await my_subsidies(info.context.viewer, decode_int_cursor(after), size + 1)
        return build_connection(rows, size, key=lambda row: row.entry_id)


class SubsidyMutations(graphene.ObjectType):
    set_my_id_number = SetMyIdNumber.Field()
    clear_my_id_number = ClearMyIdNumber.Field()
