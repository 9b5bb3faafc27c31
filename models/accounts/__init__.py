"""Users, their role grants on regions, and sign-in sessions with rotating refresh tokens."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.regions import Region


class CodePurpose(StrEnum):
    VERIFY_PHONE = "VERIFY_PHONE"
    LOGIN = "LOGIN"
    RESET_PASSWORD = "RESET_PASSWORD"


class Role(StrEnum):
    CLERK = "CLERK"
    SUPERVISOR = "SUPERVISOR"
    OFFICIAL = "OFFICIAL"
    INSPECTOR = "INSPECTOR"
    ADMIN = "ADMIN"


class User(Model):
    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=11, unique=True)
    name = fields.CharField(max_length=40)
    password_hash = fields.CharField(max_length=200)
    village: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region",
        null=True,
        related_name="residents",
        on_delete=fields.RESTRICT,
        db_index=True,  # a village's residents: notices' read counts, fan-out, re-sends
    )
    residency_verified_at = fields.DatetimeField(null=True)
    residency_verified_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    # set when the user typed back a code sent to `phone`: SMS goes only to verified numbers
    phone_verified_at = fields.DatetimeField(null=True)
    # 我的补贴: the ID number the user entered, only as a keyed hash (HMAC), never shown back
    id_number_hash = fields.CharField(max_length=64, null=True, unique=True)
    id_number_set_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)
    is_active = fields.BooleanField(default=True)

    village_id: int | None
    residency_verified_by_id: int | None

    class Meta:
        table = "user"


class RoleGrant(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name="grants", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=16)
    # NULL region: the whole system (only for the operators' first admin).
    region: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", null=True, related_name="grants", on_delete=fields.RESTRICT
    )
    granted_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    granted_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.SET_NULL
    )

    user_id: int
    region_id: int | None
    granted_by_id: int | None

    class Meta:
        table = "role_grant"
        indexes = (("user_id", "revoked_at"),)


# One signed-in device. Access tokens name it, so logging out ends them at once.
# (No docstrings on models: tortoise emits them as SQL comments.)
class Session(Model):
    id = fields.UUIDField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "cunwu.User", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    user_agent = fields.CharField(max_length=200, null=True)
    ip = fields.CharField(max_length=45, null=True)

    user_id: int

    class Meta:
        table = "session"


# Only the sha256 of a token is kept. A token is good for one refresh.
class RefreshToken(Model):
    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[Session] = fields.ForeignKeyField(
        "cunwu.Session", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    # The token this one replaced: lets a retried refresh drop an unseen successor.
    parent: fields.ForeignKeyNullableRelation[RefreshToken] = fields.ForeignKeyField(
        "cunwu.RefreshToken", null=True, related_name=False, on_delete=fields.SET_NULL
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    session_id: str
    parent_id: int | None

    class Meta:
        table = "refresh_token"


# The one live SMS code per phone and purpose: a new code overwrites the old (supersedes it).
# Only an HMAC of the code is kept (keyed by the secret key, salted by phone and purpose).
class SmsCode(Model):
    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=11)
    purpose = fields.CharEnumField(CodePurpose, max_length=16)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "cunwu.User", null=True, related_name=False, on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    # every check spends one before comparing, so concurrent guesses cannot exceed the limit
    attempts = fields.IntField(default=0)
    used_at = fields.DatetimeField(null=True)

    user_id: int | None

    class Meta:
        table = "sms_code"
        unique_together = (("phone", "purpose"),)
