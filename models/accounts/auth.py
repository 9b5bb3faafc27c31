"""Passwords (argon2id), access tokens (JWT, short-lived) and rotating refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jwt.algorithms import HMACAlgorithm
from tortoise.exceptions import IntegrityError

from models.accounts import RefreshToken, Session, User
from models.accounts.viewer_cache import viewer_changed
from models.errors import AuthReason, Unauthenticated
from models.kept import Kept

# ASCII digits only: `\d` also matches other scripts' digits, and "13８…" was then a number
# of its own (its own SMS limits, a second account for the owner's number).
PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
# what a Chinese keyboard in full-width mode types for digits and "+"
FULL_WIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")
ALGORITHM = "HS256"


@dataclass(frozen=True)
class AuthConfig:
    """What passwords and tokens need from the configuration (the API builds it from its
    settings; the names are the settings' own)."""

    secret_key: str = field(repr=False)
    access_token_seconds: int
    refresh_token_seconds: int
    refresh_reuse_grace_seconds: int
    argon2_time_cost: int
    argon2_memory_kib: int


def normalize_phone(raw: str) -> str | None:
    """A mainland mobile number as 11 digits, or None. Accepts +86/0086 and separators."""
    digits = re.sub(r"[\s\-()]", "", (raw or "").translate(FULL_WIDTH))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix) :]
            break
    return digits if PHONE_RE.fullmatch(digits) else None


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


class Passwords:
    """argon2id hashing off the event loop: one hash costs tens of milliseconds of CPU."""

    def __init__(self, config: AuthConfig) -> None:
        self._hasher = PasswordHasher(
            time_cost=config.argon2_time_cost, memory_cost=config.argon2_memory_kib
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            # Spend the same time for an unknown phone, so timing does not reveal accounts.
            self._dummy = self._dummy or await self.hash(secrets.token_hex(8))
            password_hash = self._dummy
        try:
            return await anyio.to_thread.run_sync(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str
    expires_at: float = 0.0  # epoch seconds


def issue_access_token(
    config: AuthConfig, user_id: int, session_id: str, now: datetime | None = None
) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(seconds=config.access_token_seconds),
    }
    return jwt.encode(claims, config.secret_key, algorithm=ALGORITHM)


# what `issue_access_token` writes for sub and sid: str(user.id), str(session.id) (a uuid4);
# (two regexes: some 1 µs a signed-in request, uuid.UUID() alone some 4)
USER_ID_RE = re.compile(r"[1-9][0-9]{0,9}")
SESSION_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The header `issue_access_token` writes (PyJWT's for HS256), and the claims it writes.
PLAIN_HEADER = {"alg": ALGORITHM, "typ": "JWT"}
PLAIN_CLAIMS = frozenset({"sub", "sid", "typ", "iat", "exp"})


@lru_cache(maxsize=8)
def hmac_key(secret_key: str) -> bytes | None:
    """The key as PyJWT prepares it for HS256 (None where PyJWT refuses it)."""
    try:
        return HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret_key)
    except jwt.PyJWTError:
        return None


def plain_claims(secret_key: str, token: str) -> dict[str, Any] | None:
    """The claims of a token as this server issues them — its header, its claims, a
    signature that matches, unexpired — checked without PyJWT's general machinery (a
    sixth of a signed-in feed request). None for anything else, which `jwt.decode` then
    judges (and names the error of): this accepts only what it would accept too."""
    key = hmac_key(secret_key)
    parts = token.split(".")
    if key is None or len(parts) != 3:
        return None
    head, body, signature = parts
    signed = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256)
    expected = base64.urlsafe_b64encode(signed.digest()).rstrip(b"=").decode()
    # as bytes: compare_digest refuses str with non-ASCII characters (a hostile header)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if header != PLAIN_HEADER or claims.__class__ is not dict or claims.keys() != PLAIN_CLAIMS:
        return None
    exp, iat, now = claims["exp"], claims["iat"], time.time()
    if exp.__class__ is not int or iat.__class__ is not int or not iat <= now < exp - 1:
        return None
    if claims["sub"].__class__ is not str or claims["sid"].__class__ is not str:
        return None
    return claims


# Tokens already judged good, by (key, token): a phone sends the same token with every
# request of its life, and checking it again costs a signed-in request more than its
# viewer does. Only tokens of our own shape are kept (those `plain_claims` accepted,
# whose bytes are the signed ones); the time window is checked again on every use.
# Bounded: emptied when full (a flood of fresh tokens needs the key to make them).
_verified = Kept(4096)


def decode_access_token(config: AuthConfig, token: str) -> AccessClaims:
    found = _verified.get((config.secret_key, token))
    if found is not None and found[1] <= time.time() < found[2] - 1:
        return found[0]
    claims = plain_claims(config.secret_key, token)
    ours = claims is not None
    if claims is None:
        try:
            claims = jwt.decode(
                token,
                config.secret_key,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "sub", "sid"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(AuthReason.TOKEN_EXPIRED) from None
        except jwt.PyJWTError:
            raise Unauthenticated(AuthReason.TOKEN_INVALID) from None
    if claims.get("typ") != "access":
        raise Unauthenticated(AuthReason.TOKEN_INVALID)
    # Signed with our key yet not of our shape (only the key's holder can make one): refused
    # as invalid, not an INTERNAL_SERVER_ERROR from int("abc") or a database refusing the id.
    sub, sid = claims["sub"], claims["sid"]
    if sub.__class__ is not str or not USER_ID_RE.fullmatch(sub) or int(sub) >= 2**31:
        raise Unauthenticated(AuthReason.TOKEN_INVALID)
    if sid.__class__ is not str or not SESSION_ID_RE.fullmatch(sid):
        raise Unauthenticated(AuthReason.TOKEN_INVALID)
    decoded = AccessClaims(user_id=int(sub), session_id=sid, expires_at=float(claims["exp"]))
    if ours:
        _verified.keep((config.secret_key, token), (decoded, claims["iat"], claims["exp"]))
    return decoded


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str


async def issue_refresh_token(
    config: AuthConfig, session: Session, parent: RefreshToken | None = None
) -> str:
    token = secrets.token_urlsafe(32)
    await RefreshToken.create(
        session=session,
        parent=parent,
        token_hash=hash_refresh_token(token),
        expires_at=datetime.now(UTC) + timedelta(seconds=config.refresh_token_seconds),
    )
    return token


async def start_session(
    config: AuthConfig, user: User, user_agent: str | None, ip: str | None
) -> TokenPair:
    session = await Session.create(
        id=uuid.uuid4(), user=user, user_agent=(user_agent or "")[:200] or None, ip=ip
    )
    refresh = await issue_refresh_token(config, session)
    return TokenPair(
        access_token=issue_access_token(config, user.id, str(session.id)),
        refresh_token=refresh,
        expires_in=config.access_token_seconds,
        session_id=str(session.id),
    )


class RefreshRefused(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


async def rotate_refresh_token(config: AuthConfig, token: str) -> tuple[User, TokenPair]:
    """Trade a refresh token for a new pair. A token presented twice ends its whole session,

    except for a retry on a flaky network or a second tab: presented again within the grace
    period while its successor was never used, the same successor pair is answered again
    (the successor token is derived from the token and the secret key, so it can be given
    twice although only its hash is kept). Raises RefreshRefused with the user-facing key.
    The caller must commit the revocation that reuse causes, so this runs outside a
    rolled-back transaction.
    """
    now = datetime.now(UTC)
    row = await RefreshToken.get_or_none(token_hash=hash_refresh_token(token)).select_related(
        "session__user"
    )
    if row is None:
        raise RefreshRefused("INVALID_TOKEN")
    session = row.session
    if session.revoked_at is not None:
        raise RefreshRefused("TOKEN_REVOKED")
    if row.expires_at <= now:
        raise RefreshRefused("TOKEN_EXPIRED")
    user = session.user
    if not user.is_active:
        raise RefreshRefused("ACCOUNT_DISABLED")
    refresh = successor_token(config, token)
    # Conditional update: of two concurrent refreshes with one token, only one wins.
    won = await RefreshToken.filter(id=row.id, used_at=None).update(used_at=now)
    if not won and not await _is_retry(config, row, refresh, now):
        await Session.filter(id=session.id, revoked_at=None).update(revoked_at=now)
        await viewer_changed(user.id)
        raise RefreshRefused("TOKEN_REUSED")
    successor = await _successor(config, session, row, refresh, now)
    issued = successor.created_at
    pair = TokenPair(
        # issued at the successor's time: a retry gets the very same access token
        access_token=issue_access_token(config, user.id, str(session.id), issued),
        refresh_token=refresh,
        expires_in=max(0, config.access_token_seconds - int((now - issued).total_seconds())),
        session_id=str(session.id),
    )
    return user, pair


def successor_token(config: AuthConfig, token: str) -> str:
    """The refresh token that replaces `token`: the same every time `token` is presented."""
    mac = hmac.new(config.secret_key.encode(), b"refresh-successor\0" + token.encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


async def _successor(
    config: AuthConfig, session: Session, parent: RefreshToken, token: str, now: datetime
) -> RefreshToken:
    digest = hash_refresh_token(token)
    existing = await RefreshToken.get_or_none(token_hash=digest)
    if existing is not None:
        return existing
    try:
        return await RefreshToken.create(
            session=session,
            parent=parent,
            token_hash=digest,
            expires_at=now + timedelta(seconds=config.refresh_token_seconds),
        )
    except IntegrityError:  # a concurrent presentation of the same token stored it first
        return await RefreshToken.get(token_hash=digest)


async def _is_retry(config: AuthConfig, row: RefreshToken, successor: str, now: datetime) -> bool:
    """A used token comes back soon and its successors are untouched: answer it again."""
    used_at = row.used_at or now  # None: used by a concurrent request this very moment
    if (now - used_at).total_seconds() > config.refresh_reuse_grace_seconds:
        return False
    successors = await RefreshToken.filter(parent_id=row.id)
    if any(s.used_at is not None for s in successors):
        return False
    # a successor issued before successors were derived (random) is dropped, as it was then
    await (
        RefreshToken.filter(parent_id=row.id, used_at=None)
        .exclude(token_hash=hash_refresh_token(successor))
        .delete()
    )
    return True
