"""One-time codes sent by SMS: verify one's phone, sign in, reset a forgotten password.

A code is 6 digits from `secrets`, good for a few minutes and once; only an HMAC of it is
kept (a plain hash of a 6-digit code is reversed by trying all million). One live code per
phone and purpose: a new one overwrites (supersedes) the old. Every check spends one of the
code's attempts before comparing, so guesses, concurrent ones included, stop at the limit.

For sign-in and reset, an unknown or disabled number is answered exactly like a known one and
gets no SMS; every wrong, expired, used or missing code answers the same CODE_INVALID, so the
answers do not tell which numbers have accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models.accounts import CodePurpose, Session, SmsCode, User
from models.accounts.auth import (
    FULL_WIDTH,
    AuthConfig,
    Passwords,
    TokenPair,
    mask_phone,
    start_session,
)
from models.accounts.validation import check_password, check_phone
from models.accounts.viewer_cache import viewer_changed
from models.audit import record
from models.errors import ErrorCode, UserError, UserErrors, fail
from models.policy import Viewer

CODE_DIGITS = 6
CODE_RE = re.compile(f"[0-9]{{{CODE_DIGITS}}}")

# our template names (notifications.sms); each provider maps them to its approved ids
TEMPLATES = {
    CodePurpose.VERIFY_PHONE: "VERIFY_CODE",
    CodePurpose.LOGIN: "LOGIN_CODE",
    CodePurpose.RESET_PASSWORD: "RESET_CODE",
}


@dataclass(frozen=True)
class CodeConfig:
    secret_key: str = field(repr=False)
    seconds: int  # a code's life
    attempts: int  # checks a code allows (wrong ones kill it)


@dataclass(frozen=True)
class Outgoing:
    """An SMS to send once the code is stored. Never logged or recorded: it holds the code."""

    phone: str
    template: str
    code: str = field(repr=False)
    user_id: int | None = None  # recorded as a delivery (without the code)


@dataclass(frozen=True)
class Phone:
    """The audit log's object for a number that has no account (recorded masked)."""

    masked: str

    @property
    def pk(self) -> str:
        return self.masked


def code_hash(secret_key: str, phone: str, purpose: str, code: str) -> str:
    message = f"sms-code\0{phone}\0{purpose}\0{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def target_phone(viewer: Viewer, purpose: CodePurpose, raw: str | None) -> str:
    """The number a code for `purpose` goes to: the viewer's own for VERIFY_PHONE (signed in
    only), else the one given. Raises UserErrors for a bad or foreign number."""
    if purpose == CodePurpose.VERIFY_PHONE:
        user = viewer.require_user()
        if raw:
            errors: list[UserError] = []
            given = check_phone(raw, errors)
            if errors:
                raise UserErrors(*errors)
            if given != user.phone:
                raise fail(ErrorCode.PHONE_NOT_YOURS, "phone")
        if user.phone_verified_at is not None:
            raise fail(ErrorCode.PHONE_ALREADY_VERIFIED, "phone")
        return user.phone
    problems: list[UserError] = []
    phone = check_phone(raw or "", problems)
    if problems or phone is None:
        raise UserErrors(*problems)
    return phone


async def issue(
    viewer: Viewer, config: CodeConfig, purpose: CodePurpose, phone: str, now: datetime
) -> Outgoing | None:
    """Store a new code for `phone` (superseding any) and return the SMS to send, or None for
    a number without an active account. The database work is the same either way (then the
    stored code belongs to no account and is never sent), so its time tells nothing."""
    user = await User.get_or_none(phone=phone)
    deliver = user is not None and user.is_active
    code = new_code()
    values: dict[str, Any] = {
        "user_id": user.id if deliver and user else None,
        "code_hash": code_hash(config.secret_key, phone, purpose, code),
        "created_at": now,
        "expires_at": now + timedelta(seconds=config.seconds),
        "attempts": 0,
        "used_at": None,
    }
    details = {"purpose": str(purpose), "phone": mask_phone(phone)}
    if not deliver:
        details["reason"] = "NO_ACCOUNT" if user is None else "ACCOUNT_DISABLED"
    for _ in range(2):
        try:
            async with in_transaction():
                stored = await SmsCode.filter(phone=phone, purpose=purpose).update(**values)
                if not stored:
                    await SmsCode.create(phone=phone, purpose=purpose, **values)
                await record(
                    viewer,
                    "sms_code.sent" if deliver else "sms_code.not_sent",
                    user or Phone(mask_phone(phone)),
                    region_id=user.village_id if user else None,
                    after=details,
                )
            break
        except IntegrityError:  # a concurrent first code for this number: overwrite it
            continue
    return Outgoing(phone, TEMPLATES[purpose], code, user.id if user else None) if deliver else None


async def prune(now: datetime) -> int:
    """Forget expired codes (run by the scheduler): they can only be refused."""
    return await SmsCode.filter(expires_at__lt=now).delete()


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _check(
    config: CodeConfig, purpose: CodePurpose, phone: str, code: str, now: datetime
) -> SmsCode:
    """The code's row when `code` is its live code, after spending one attempt; else
    _Refused with why (for the audit log only: the answer is the same)."""
    # full-width digits are the keyboard's, not a guess; any other script's never match
    code = (code or "").strip().translate(FULL_WIDTH)
    if not CODE_RE.fullmatch(code):
        raise _Refused("MALFORMED")
    row = await SmsCode.get_or_none(phone=phone, purpose=purpose)
    if row is None:
        raise _Refused("NO_CODE")
    if row.used_at is not None:
        raise _Refused("USED")
    if row.expires_at <= now:
        raise _Refused("EXPIRED")
    # Spend one attempt first (conditional on this very code still being live), then compare.
    spent = await SmsCode.filter(
        id=row.id, code_hash=row.code_hash, used_at=None, attempts__lt=config.attempts
    ).update(attempts=F("attempts") + 1)
    if not spent:
        raise _Refused("TOO_MANY_ATTEMPTS")
    if not hmac.compare_digest(row.code_hash, code_hash(config.secret_key, phone, purpose, code)):
        raise _Refused("WRONG" if row.attempts + 1 < config.attempts else "WRONG_LAST")
    return row


async def _claim(row: SmsCode, now: datetime) -> None:
    """Mark the code used, inside the caller's transaction; a concurrent use wins once."""
    if not await SmsCode.filter(id=row.id, code_hash=row.code_hash, used_at=None).update(
        used_at=now
    ):
        raise _Refused("USED")


async def _refuse(
    viewer: Viewer, purpose: CodePurpose, phone: str, user: User | None, reason: str
) -> UserErrors:
    """Audit a refused code (committed: the caller's change is not) and the error to raise."""
    await record(
        viewer,
        "sms_code.refused",
        user or Phone(mask_phone(phone)),
        region_id=user.village_id if user else None,
        actor_id=user.id if user else None,
        after={"purpose": str(purpose), "phone": mask_phone(phone), "reason": reason},
    )
    return fail(ErrorCode.CODE_INVALID, "code")


async def _account(row: SmsCode, phone: str) -> User | None:
    user = await User.get_or_none(id=row.user_id) if row.user_id else None
    return user if user is not None and user.phone == phone else None


async def verify_phone(viewer: Viewer, config: CodeConfig, code: str, now: datetime) -> User:
    """The signed-in viewer typed back the code sent to their phone: it is verified."""
    user = viewer.require_user()
    purpose = CodePurpose.VERIFY_PHONE
    try:
        row = await _check(config, purpose, user.phone, code, now)
        if row.user_id != user.id:
            raise _Refused("OTHER_ACCOUNT")
        async with in_transaction():
            await _claim(row, now)
            await _mark_verified(viewer, user, now, purpose)
    except _Refused as exc:
        raise await _refuse(viewer, purpose, user.phone, user, exc.reason) from None
    await viewer_changed(user.id)
    return user


async def _mark_verified(viewer: Viewer, user: User, now: datetime, how: CodePurpose) -> None:
    if user.phone_verified_at is not None:
        return
    user.phone_verified_at = now
    await user.save(update_fields=["phone_verified_at"])
    await record(
        viewer,
        "user.verify_phone",
        user,
        region_id=user.village_id,
        actor_id=user.id,
        after={"phone_verified_at": now.isoformat(), "by": str(how)},
    )


async def _code_account(
    viewer: Viewer, config: CodeConfig, purpose: CodePurpose, phone: str, code: str, now: datetime
) -> tuple[SmsCode, User]:
    """Check a sign-in or reset code for `phone`: its row and its (active) account."""
    try:
        row = await _check(config, purpose, phone, code, now)
        user = await _account(row, phone)
        if user is None:
            raise _Refused("NO_ACCOUNT")
    except _Refused as exc:
        raise await _refuse(viewer, purpose, phone, None, exc.reason) from None
    if not user.is_active:  # like a password sign-in: said only to who proved the number
        await _refuse(viewer, purpose, phone, user, "ACCOUNT_DISABLED")
        raise fail(ErrorCode.ACCOUNT_DISABLED, "phone")
    return row, user


async def login_with_code(
    viewer: Viewer,
    auth: AuthConfig,
    config: CodeConfig,
    *,
    phone: str,
    code: str,
    now: datetime,
    user_agent: str | None = None,
) -> tuple[User, TokenPair]:
    """Sign in with a LOGIN code; the number is thereby verified."""
    errors: list[UserError] = []
    normalized = check_phone(phone, errors)
    if errors or normalized is None:
        raise UserErrors(*errors)
    purpose = CodePurpose.LOGIN
    row, user = await _code_account(viewer, config, purpose, normalized, code, now)
    try:
        async with in_transaction():
            await _claim(row, now)
            user.last_login_at = now
            await user.save(update_fields=["last_login_at"])
            await _mark_verified(viewer, user, now, purpose)
            pair = await start_session(auth, user, user_agent, viewer.ip)
            await record(
                viewer,
                "user.login",
                user,
                region_id=user.village_id,
                actor_id=user.id,
                after={"method": "SMS_CODE"},
            )
    except _Refused as exc:
        raise await _refuse(viewer, purpose, normalized, user, exc.reason) from None
    await viewer_changed(user.id)
    return user, pair


async def reset_password(
    viewer: Viewer,
    passwords: Passwords,
    auth: AuthConfig,
    config: CodeConfig,
    *,
    phone: str,
    code: str,
    new_password: str,
    now: datetime,
    user_agent: str | None = None,
) -> tuple[User, TokenPair]:
    """A new password by a RESET_PASSWORD code: every earlier session ends, the number is
    verified, and a new session starts. The password's rules are checked before the code,
    so a weak password does not spend an attempt."""
    errors: list[UserError] = []
    normalized = check_phone(phone, errors)
    check_password(new_password, errors, field="newPassword", phone=normalized)
    if errors or normalized is None:
        raise UserErrors(*errors)
    purpose = CodePurpose.RESET_PASSWORD
    row, user = await _code_account(viewer, config, purpose, normalized, code, now)
    new_hash = await passwords.hash(new_password)  # only once the code is right: CPU
    try:
        async with in_transaction():
            await _claim(row, now)
            # A live code of another purpose is a session in waiting (its holder may be the
            # thief this reset is for): it ends too. Before the user's row, in the order a
            # sign-in by code locks them (code, then user): no deadlock, and a sign-in that
            # got there first has committed its session before the sessions are ended.
            others = SmsCode.filter(phone=normalized, used_at=None).exclude(id=row.id)
            await others.update(used_at=now)
            user.password_hash = new_hash
            await user.save(update_fields=["password_hash"])
            ended = await Session.filter(user_id=user.id, revoked_at=None).update(revoked_at=now)
            await _mark_verified(viewer, user, now, purpose)
            pair = await start_session(auth, user, user_agent, viewer.ip)
            await record(
                viewer,
                "user.reset_password",
                user,
                region_id=user.village_id,
                actor_id=user.id,
                after={"sessions_ended": ended},
            )
    except _Refused as exc:
        raise await _refuse(viewer, purpose, normalized, user, exc.reason) from None
    await viewer_changed(user.id)  # every earlier session ended
    return user, pair
