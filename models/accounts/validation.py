"""Input checks shared by the account mutations."""

from __future__ import annotations

from models.accounts.auth import normalize_phone
from models.errors import ErrorCode, UserError

PASSWORD_MIN = 8
PASSWORD_MAX = 128
NAME_MAX = 40


def check_phone(raw: str, errors: list[UserError], field: str = "phone") -> str | None:
    phone = normalize_phone(raw)
    if phone is None:
        errors.append(UserError(ErrorCode.INVALID_PHONE, field))
    return phone


def check_password(
    password: str, errors: list[UserError], field: str = "password", phone: str | None = None
) -> None:
    if len(password) < PASSWORD_MIN:
        errors.append(UserError(ErrorCode.PASSWORD_TOO_SHORT, field, {"min": PASSWORD_MIN}))
    elif len(password) > PASSWORD_MAX:
        errors.append(UserError(ErrorCode.PASSWORD_TOO_LONG, field, {"max": PASSWORD_MAX}))
    elif password.isdigit() or (phone and phone in password):
        errors.append(UserError(ErrorCode.PASSWORD_TOO_WEAK, field))


def check_name(raw: str, errors: list[UserError], field: str = "name") -> str:
    name = " ".join((raw or "").split())
    if not 1 <= len(name) <= NAME_MAX:
        errors.append(UserError(ErrorCode.INVALID_NAME, field, {"max": NAME_MAX}))
    return name
