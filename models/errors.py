"""Errors of the domain, without any transport: operations raise these, the API shapes them.

`AppError` and its kinds end a whole request (the API answers them as top-level errors with
`extensions.code`); `UserErrors` carry what a user can fix and roll the operation back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every code a `UserError` can carry; each has a zh and an en text in `models.messages`."""

    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
    ALREADY_PUBLISHED = "ALREADY_PUBLISHED"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    ATTACHMENT_ELSEWHERE = "ATTACHMENT_ELSEWHERE"
    ATTACHMENT_RESTRICTED = "ATTACHMENT_RESTRICTED"
    BODY_TOO_LONG = "BODY_TOO_LONG"
    CATALOGUE_MISMATCH = "CATALOGUE_MISMATCH"
    CATEGORY_REGION_KIND = "CATEGORY_REGION_KIND"
    EXPIRY_INVALID = "EXPIRY_INVALID"
    FARMING_ONLY = "FARMING_ONLY"
    CLOSING_CHANGES_LATER = "CLOSING_CHANGES_LATER"
    CLOSING_MISMATCH = "CLOSING_MISMATCH"
    CODE_INVALID = "CODE_INVALID"
    CODE_MISMATCH = "CODE_MISMATCH"
    CODE_TAKEN = "CODE_TAKEN"
    CORRECT_THROUGH_MONTH = "CORRECT_THROUGH_MONTH"
    CORRUPT_FILE = "CORRUPT_FILE"
    DEBIT_AND_CREDIT = "DEBIT_AND_CREDIT"
    DUPLICATE_ENTRY = "DUPLICATE_ENTRY"
    EDIT_WINDOW_CLOSED = "EDIT_WINDOW_CLOSED"
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    FONT_MISSING = "FONT_MISSING"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_CHOICE = "INVALID_CHOICE"
    INVALID_CODE = "INVALID_CODE"
    INVALID_COMMENT = "INVALID_COMMENT"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_DATE = "INVALID_DATE"
    INVALID_DAY = "INVALID_DAY"
    INVALID_DIRECTION = "INVALID_DIRECTION"
    INVALID_FLAG_BODY = "INVALID_FLAG_BODY"
    INVALID_FREQUENCY = "INVALID_FREQUENCY"
    INVALID_ID = "INVALID_ID"
    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"
    ID_NUMBER_TAKEN = "ID_NUMBER_TAKEN"
    INVALID_MONTH = "INVALID_MONTH"
    INVALID_NAME = "INVALID_NAME"
    INVALID_PERIOD = "INVALID_PERIOD"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_RECTANGLE = "INVALID_RECTANGLE"
    INVALID_REGION_KIND = "INVALID_REGION_KIND"
    INVALID_TABLE_CELL = "INVALID_TABLE_CELL"
    INVALID_TABLE_ROW = "INVALID_TABLE_ROW"
    INVALID_TITLE = "INVALID_TITLE"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    INVALID_TOKEN = "INVALID_TOKEN"
    LINE_OUTSIDE_MONTH = "LINE_OUTSIDE_MONTH"
    MISSING_COLUMN = "MISSING_COLUMN"
    MISSING_SUBJECT = "MISSING_SUBJECT"
    NAME_TAKEN = "NAME_TAKEN"
    NEEDS_APPROVAL = "NEEDS_APPROVAL"
    NON_POSITIVE_AMOUNT = "NON_POSITIVE_AMOUNT"
    NO_CASH_SIDE = "NO_CASH_SIDE"
    NOT_AN_IMAGE = "NOT_AN_IMAGE"
    NOT_A_VILLAGE = "NOT_A_VILLAGE"
    NOT_COMMENTABLE = "NOT_COMMENTABLE"
    NOT_FOUND = "NOT_FOUND"
    NOT_MUST_READ = "NOT_MUST_READ"
    NOTICE_NOT_PUBLISHED = "NOTICE_NOT_PUBLISHED"
    NOT_PUBLISHED = "NOT_PUBLISHED"
    NOT_WAITING = "NOT_WAITING"
    NOT_YOURS = "NOT_YOURS"
    NO_VILLAGE = "NO_VILLAGE"
    OPENING_MISMATCH = "OPENING_MISMATCH"
    OPENING_REQUIRED = "OPENING_REQUIRED"
    OWN_COMMENT = "OWN_COMMENT"
    OWN_FLAG = "OWN_FLAG"
    PASSWORD_TOO_LONG = "PASSWORD_TOO_LONG"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT"
    PASSWORD_TOO_WEAK = "PASSWORD_TOO_WEAK"
    PERIOD_REQUIRED = "PERIOD_REQUIRED"
    PHONE_ALREADY_VERIFIED = "PHONE_ALREADY_VERIFIED"
    PHONE_NOT_VERIFIED = "PHONE_NOT_VERIFIED"
    PHONE_NOT_YOURS = "PHONE_NOT_YOURS"
    PHONE_TAKEN = "PHONE_TAKEN"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    REASON_REQUIRED = "REASON_REQUIRED"
    REGION_REQUIRED = "REGION_REQUIRED"
    REPLY_DEPTH = "REPLY_DEPTH"
    REQUIRED = "REQUIRED"
    RESIDENCY_REQUIRED = "RESIDENCY_REQUIRED"
    RETURNED = "RETURNED"
    RISK_HITS_OPEN = "RISK_HITS_OPEN"
    RISK_HIT_PUBLISHED = "RISK_HIT_PUBLISHED"
    ROLE_REGION_KIND = "ROLE_REGION_KIND"
    SAME_PASSWORD = "SAME_PASSWORD"
    SEARCH_TOO_SHORT = "SEARCH_TOO_SHORT"
    TABLE_TOO_LARGE = "TABLE_TOO_LARGE"
    TOKEN_REUSED = "TOKEN_REUSED"
    TOKEN_REVOKED = "TOKEN_REVOKED"
    TOO_LONG = "TOO_LONG"
    TOO_MANY_ATTACHMENTS = "TOO_MANY_ATTACHMENTS"
    TOO_MANY_LINES = "TOO_MANY_LINES"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    TOO_MANY_FOLLOWS = "TOO_MANY_FOLLOWS"
    UNBALANCED_VOUCHER = "UNBALANCED_VOUCHER"
    URGENT_NEEDS_WARNING = "URGENT_NEEDS_WARNING"
    UNKNOWN_LINE = "UNKNOWN_LINE"
    UNKNOWN_SUBJECT = "UNKNOWN_SUBJECT"
    UNREADABLE_FILE = "UNREADABLE_FILE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    WRONG_KIND = "WRONG_KIND"
    WRONG_PASSWORD = "WRONG_PASSWORD"
    WRONG_STATUS = "WRONG_STATUS"
    WECHAT_CODE_INVALID = "WECHAT_CODE_INVALID"
    WECHAT_BOUND_ELSEWHERE = "WECHAT_BOUND_ELSEWHERE"
    PRICES_RECORDED_MEANWHILE = "PRICES_RECORDED_MEANWHILE"
    MARKET_REGION_KIND = "MARKET_REGION_KIND"
    DATE_RANGE_TOO_LONG = "DATE_RANGE_TOO_LONG"
    DATE_TOO_OLD = "DATE_TOO_OLD"
    DATE_IN_FUTURE = "DATE_IN_FUTURE"
    UNKNOWN_UNIT = "UNKNOWN_UNIT"
    AMBIGUOUS_MARKET = "AMBIGUOUS_MARKET"
    UNKNOWN_MARKET = "UNKNOWN_MARKET"
    UNKNOWN_COMMODITY = "UNKNOWN_COMMODITY"


class AppError(Exception):
    """An error that ends the request; `key` names its message, `code` its kind."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        self.key = key or self.code
        self.params = params
        self.extensions: dict[str, Any] = {"code": self.code}
        super().__init__(self.key)


class AuthReason(StrEnum):
    """Why a request is UNAUTHENTICATED (`extensions.reason`): whether an app refreshes its
    access token (TOKEN_EXPIRED) or asks the person to sign in (the others)."""

    LOGIN_REQUIRED = "LOGIN_REQUIRED"  # no token was sent
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_INVALID = "TOKEN_INVALID"  # malformed, forged, tampered with, not an access token
    TOKEN_REVOKED = "TOKEN_REVOKED"  # its session ended: logout, reuse, password changed
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED"


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"

    def __init__(self, reason: AuthReason = AuthReason.LOGIN_REQUIRED) -> None:
        super().__init__(f"AUTH_{reason}")
        self.reason = reason
        self.extensions["reason"] = str(reason)


class Forbidden(AppError):
    """`reason` is a `models.policy.ForbiddenReason`: the rule that refused."""

    code = "FORBIDDEN"

    def __init__(self, reason: str = "NO_PERMISSION") -> None:
        super().__init__(f"FORBIDDEN_{reason}")
        self.reason = str(reason)
        self.extensions["reason"] = self.reason


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


class ServiceUnavailable(AppError):
    """A service the request truly needs (Redis, for what has no in-process fallback) is down."""

    code = "SERVICE_UNAVAILABLE"


@dataclass
class UserError:
    """Something the user can fix; the API translates `code` with `params`."""

    code: ErrorCode
    field: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    line: int | None = None  # for imports: the row in the uploaded sheet (1 = header)

    def __post_init__(self) -> None:
        self.code = ErrorCode(self.code)  # an unknown code fails here, not on the wire


class UserErrors(Exception):
    """Raised inside an operation: its transaction rolls back and the caller gets the errors."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__(", ".join(e.code for e in errors))
        self.errors = list(errors)


def fail(code: ErrorCode | str, field: str | None = None, **params: Any) -> UserErrors:
    """`raise fail(ErrorCode.X, "field", max=3)`: one user error, ready to raise."""
    return UserErrors(UserError(ErrorCode(code), field, params))
