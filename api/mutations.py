"""The base of every mutation: one `input`, a payload with `errors`, all-or-nothing."""

from __future__ import annotations

from typing import Any, ClassVar

import graphene
from tortoise.transactions import in_transaction

from api.context import Context, Info
from models.errors import ErrorCode, UserErrors
from models.messages import translate
from models.policy import Action

UserErrorCode = graphene.Enum.from_enum(
    ErrorCode,
    name="UserErrorCode",
    description="UserError 的错误代码；每个代码都有中文和英文说明。",
)


class UserErrorType(graphene.ObjectType):
    class Meta:
        name = "UserError"
        description = "用户可以改正的错误：code 供程序判断，message 供人阅读。"

    code = graphene.Field(UserErrorCode, required=True)
    field = graphene.String(description="出错的输入字段（input 内的名字），导入时为列名")
    line = graphene.Int(description="导入文件中的行号（表头为第1行）")
    message = graphene.String(required=True)
    expected = graphene.List(
        graphene.NonNull(graphene.String), description="导入缺列时：可用的列名"
    )
    found = graphene.List(graphene.NonNull(graphene.String), description="导入缺列时：文件中的列名")

    @staticmethod
    def resolve_expected(root: Any, info: Info) -> list[str] | None:
        return root.params.get("expected_names")

    @staticmethod
    def resolve_found(root: Any, info: Info) -> list[str] | None:
        return root.params.get("found_names")

    @staticmethod
    def resolve_message(root: Any, info: Info) -> str:
        return translate(root.code, info.context.lang, **root.params)


class BaseMutation(graphene.Mutation):
    """Every mutation declares who may call it, and implements `perform`:

    - `permission = Action.X`: a signed-in viewer holding X somewhere; the domain operation
      must check X against the object's region (verified after it returns),
    - `login_required = True`: any signed-in viewer (the operation applies its object rules),
    - `public = True`: anyone.

    `perform` decodes the input, calls one domain operation and shapes the payload; it runs
    in one transaction unless `atomic` is False. Raising UserErrors rolls back and answers
    with the errors.
    """

    class Meta:
        abstract = True

    errors = graphene.List(graphene.NonNull(UserErrorType), required=True)

    permission: ClassVar[Action | None] = None
    login_required: ClassVar[bool] = False
    public: ClassVar[bool] = False
    atomic: ClassVar[bool] = True
    # What a payload's other non-null fields say when the operation answered user errors.
    error_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def __init_subclass_with_meta__(cls, **options: Any) -> None:
        signed_in = cls.permission is not None or cls.login_required
        if signed_in == cls.public:
            raise TypeError(f"{cls.__name__} must declare permission, login_required or public")
        super().__init_subclass_with_meta__(**options)

    @classmethod
    async def perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    async def mutate(cls, root: Any, info: Info, input: Any) -> Any:  # noqa: A002
        ctx: Context = info.context
        viewer = ctx.viewer
        if not cls.public:
            viewer.require_user()
        if cls.permission is not None and not viewer.holds(cls.permission):
            raise viewer.refusal(cls.permission)
        viewer.checked.clear()
        try:
            if cls.atomic:
                async with in_transaction():
                    result = await cls.checked_perform(ctx, input)
            else:
                result = await cls.checked_perform(ctx, input)
        except UserErrors as exc:
            return cls(errors=exc.errors, **cls.error_defaults)
        return cls(errors=[], **result)

    @classmethod
    async def checked_perform(cls, ctx: Context, data: Any) -> dict[str, Any]:
        result = await cls.perform(ctx, data)
        # Inside the transaction: a forgotten check rolls the change back.
        if cls.permission is not None and cls.permission not in ctx.viewer.checked:
            raise RuntimeError(f"{cls.__name__}: its operation never checked {cls.permission}")
        return result
