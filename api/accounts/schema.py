"""Account queries and mutations, merged into the root types by api.schema."""

from __future__ import annotations

from typing import Any

import graphene
from graphene import relay

from api.accounts.codes import LoginWithSmsCode, RequestSmsCode, ResetPassword, VerifyPhone
from api.accounts.mutations import (
    ChangePassword,
    GrantRole,
    Login,
    Logout,
    RefreshToken,
    Register,
    RevokeRole,
    VerifyResidency,
)
from api.accounts.types import User
from api.context import Context, Info
from api.regions.schema import load_region_by_global_id
from api.relay import connection_args, keyset_page
from models.accounts import User as UserModel
from models.policy import Action


class UserConnection(relay.Connection):
    class Meta:
        node = User


class AccountQueries(graphene.ObjectType):
    me = graphene.Field(User, description="当前登录用户；未登录时为 null")
    residents = graphene.Field(
        UserConnection,
        required=True,
        village_id=graphene.ID(required=True),
        verified=graphene.Boolean(description="只看已核实（true）或待核实（false）的村民"),
        **connection_args(),
        description="某村登记的村民，供村文书和乡镇干部核实身份",
    )

    @staticmethod
    def resolve_me(root: Any, info: Info) -> UserModel | None:
        viewer = info.context.viewer
        if viewer.auth_error is not None:
            raise viewer.auth_error
        return viewer.user

    @staticmethod
    async def resolve_residents(
        root: Any,
        info: Info,
        village_id: str,
        verified: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        ctx: Context = info.context
        village = await load_region_by_global_id(info, village_id)
        ctx.viewer.require(Action.USER_VIEW, village.path)
        qs = UserModel.filter(village_id=village.id)
        if verified is not None:
            qs = qs.filter(residency_verified_at__isnull=not verified)
        return await keyset_page(qs, first, after)


class AccountMutations(graphene.ObjectType):
    register = Register.Field()
    login = Login.Field()
    refresh_token = RefreshToken.Field()
    logout = Logout.Field()
    change_password = ChangePassword.Field()
    request_sms_code = RequestSmsCode.Field()
    verify_phone = VerifyPhone.Field()
    login_with_sms_code = LoginWithSmsCode.Field()
    reset_password = ResetPassword.Field()
    verify_residency = VerifyResidency.Field()
    grant_role = GrantRole.Field()
    revoke_role = RevokeRole.Field()
