"""Errors a client sees: top-level GraphQL errors with extensions.code, and typed UserErrors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError


class AppError(GraphQLError):
    """A GraphQL error whose message is translated when the response is written."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        self.key = key or self.code
        self.params = params
        super().__init__(self.key, extensions={"code": self.code})


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"


class Forbidden(AppError):
    code = "FORBIDDEN"


class NotFound(AppError):
    code = "NOT_FOUND"


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"


class RateLimited(AppError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int) -> None:
        super().__init__("RATE_LIMITED", retry_after=retry_after)
        self.extensions["retryAfter"] = retry_after


class QueryTooComplex(AppError):
    code = "QUERY_TOO_COMPLEX"


@dataclass
class UserError:
    """Something the user can fix; `message` is translated by the GraphQL type."""

    code: str
    field: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    line: int | None = None  # for imports: the row in the uploaded sheet (1 = header)


class UserErrors(Exception):
    """Raised inside a mutation: the transaction rolls back and the payload carries errors."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__(", ".join(e.code for e in errors))
        self.errors = list(errors)
