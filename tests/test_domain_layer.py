"""The domain layer's contracts: typed error codes with both languages, declared access."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import graphene
import pytest

from api.mutations import BaseMutation
from models.accounts import Role, User
from models.errors import ErrorCode, Forbidden, Unauthenticated, UserError
from models.flags import Holiday
from models.messages import EN, MESSAGES, translate
from models.policy import SYSTEM, Action, Grant, Viewer


def test_every_error_code_has_a_chinese_and_an_english_text():
    for code in ErrorCode:
        zh, en = MESSAGES[code]
        assert zh and en and zh != code and en != code, code
        assert translate(code, EN) != translate(code), code


def test_an_unknown_user_error_code_is_refused_where_it_is_raised():
    with pytest.raises(ValueError):
        UserError("NO_SUCH_CODE")


def test_a_mutation_that_declares_no_access_cannot_be_defined():
    with pytest.raises(TypeError, match="must declare"):

        class Undeclared(BaseMutation):
            class Arguments:
                input = graphene.String()


def test_a_mutation_cannot_be_both_public_and_signed_in():
    with pytest.raises(TypeError, match="must declare"):

        class Both(BaseMutation):
            class Arguments:
                input = graphene.String()

            public = True
            login_required = True


class _Unchecked(BaseMutation):
    """Declares a permission, but its perform forgets to have it checked."""

    class Arguments:
        input = graphene.String()

    permission = Action.ROLE_GRANT
    atomic = False

    @classmethod
    async def perform(cls, ctx, data):
        return {}


def _info(viewer: Viewer) -> SimpleNamespace:
    return SimpleNamespace(context=SimpleNamespace(viewer=viewer))


async def test_a_declared_permission_that_the_operation_never_checks_fails_loudly():
    admin = Viewer(user=User(id=1), grants=(Grant(1, Role.ADMIN, None, SYSTEM),))
    with pytest.raises(RuntimeError, match="never checked"):
        await _Unchecked.mutate(None, _info(admin), "x")


async def test_the_declared_permission_is_required_before_perform_runs():
    villager = Viewer(user=User(id=2))
    with pytest.raises(Forbidden):
        await _Unchecked.mutate(None, _info(villager), "x")
    with pytest.raises(Unauthenticated):
        await _Unchecked.mutate(None, _info(Viewer()), "x")


class _WritesUnchecked(BaseMutation):
    """Writes, then returns without having had its permission checked."""

    class Arguments:
        input = graphene.String()

    permission = Action.CALENDAR_EDIT

    @classmethod
    async def perform(cls, ctx, data):
        await Holiday.create(day=date(2026, 10, 1), name="国庆节")
        return {}


async def test_a_forgotten_permission_check_rolls_the_change_back(app):
    admin = Viewer(user=User(id=1), grants=(Grant(1, Role.ADMIN, None, SYSTEM),))
    with pytest.raises(RuntimeError, match="never checked"):
        await _WritesUnchecked.mutate(None, _info(admin), "x")
    assert not await Holiday.exists()
