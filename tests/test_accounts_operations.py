"""Accounts, regions and media operations called directly, without GraphQL: the same checks
and the same audit entries as through the API."""

from __future__ import annotations

import pytest

from media.operations import UploadLimits, redact_media, upload_media, upload_region
from media.processing import Rect
from models.accounts import Role, RoleGrant, User
from models.accounts.auth import Passwords
from models.accounts.operations import (
    grant_role,
    login,
    register,
    revoke_role,
    verify_residency,
)
from models.audit import AuditEntry
from models.errors import ErrorCode, Forbidden, UserErrors
from models.media import Media, MediaPurpose
from models.policy import Viewer, viewer_for_user
from models.regions import Region, RegionKind
from models.regions.operations import create_region
from scripts.create_admin import create_admin
from scripts.seed_demo import DEMO_PASSWORD
from tests import media_files

LIMITS = UploadLimits(max_bytes=15 * 1024 * 1024, daily_quota_bytes=500 * 1024 * 1024)


async def as_user(role: str, demo, source: str) -> Viewer:
    return await viewer_for_user(demo.users[role], source)


def codes(exc: pytest.ExceptionInfo[UserErrors]) -> list[tuple[str, str | None]]:
    return [(e.code, e.field) for e in exc.value.errors]


async def newcomer(settings, demo, phone: str = "13911112222") -> User:
    viewer = Viewer(ip="198.51.100.4", request_id="test:register")
    user, pair = await register(
        viewer,
        Passwords(settings.auth),
        settings.auth,
        phone=phone,
        password="newcomer-pass",
        name="新村民 丙",
        village_id=demo.villages[0].id,
    )
    assert pair.access_token and pair.refresh_token
    return user


async def test_register_and_login_write_their_entries_as_the_new_user(app, settings, demo):
    user = await newcomer(settings, demo)
    entry = await AuditEntry.get(action="user.register", object_id=str(user.id))
    assert (entry.actor_id, entry.request_id, entry.ip) == (
        user.id,
        "test:register",
        "198.51.100.4",
    )
    assert entry.after == {"name": "新村民 丙", "village_id": demo.villages[0].id}

    again = Viewer(request_id="test:login")
    signed_in, _ = await login(
        again,
        Passwords(settings.auth),
        settings.auth,
        phone="139 1111 2222",
        password="newcomer-pass",
    )
    assert signed_in.id == user.id
    entry = await AuditEntry.get(action="user.login", object_id=str(user.id))
    assert (entry.actor_id, entry.request_id) == (user.id, "test:login")


async def test_register_refuses_a_taken_phone_and_a_township(app, settings, demo):
    with pytest.raises(UserErrors) as refused:
        await register(
            Viewer(),
            Passwords(settings.auth),
            settings.auth,
            phone="13800000006",
            password="newcomer-pass",
            name="重名",
            village_id=demo.townships[0].id,
        )
    assert codes(refused) == [("NOT_A_VILLAGE", "villageId"), ("PHONE_TAKEN", "phone")]
    assert not await AuditEntry.filter(action="user.register").exists()


async def test_a_clerk_verifies_residency_and_a_supervisor_may_not(app, settings, demo):
    user = await newcomer(settings, demo)
    with pytest.raises(Forbidden):
        await verify_residency(await as_user("SUPERVISOR", demo, "test:verify"), user.id)
    clerk = await as_user("CLERK", demo, "test:verify")
    verified = await verify_residency(clerk, user.id)
    assert verified.residency_verified_at is not None
    assert verified.residency_verified_by_id == demo.users["CLERK"].id
    await verify_residency(clerk, user.id)  # a retry changes nothing
    entries = await AuditEntry.filter(action="user.verify_residency", object_id=str(user.id))
    assert [(e.actor_id, e.request_id) for e in entries] == [
        (demo.users["CLERK"].id, "test:verify")
    ]


async def test_verify_residency_refuses_a_user_without_village(app, demo):
    admin = await as_user("ADMIN", demo, "test:verify")
    with pytest.raises(UserErrors) as refused:
        await verify_residency(admin, demo.users["OFFICIAL"].id)
    assert codes(refused) == [(ErrorCode.NO_VILLAGE, "userId")]


async def test_an_admin_grants_and_revokes_a_role_others_may_not(app, settings, demo):
    user = await newcomer(settings, demo)
    village = demo.villages[0]
    with pytest.raises(Forbidden):
        await grant_role(
            await as_user("OFFICIAL", demo, "test:grant"), user.id, Role.CLERK, village.id
        )
    admin = await as_user("ADMIN", demo, "test:grant")
    with pytest.raises(UserErrors) as refused:
        await grant_role(admin, user.id, Role.OFFICIAL, village.id)
    assert codes(refused) == [("ROLE_REGION_KIND", "regionId")]

    grant = await grant_role(admin, user.id, Role.CLERK, village.id)
    assert (await grant_role(admin, user.id, Role.CLERK, village.id)).id == grant.id
    entry = await AuditEntry.get(action="role.grant", object_id=str(grant.id))
    assert (entry.actor_id, entry.request_id) == (demo.users["ADMIN"].id, "test:grant")
    assert entry.after == {"user_id": user.id, "role": "CLERK", "region_id": village.id}

    with pytest.raises(Forbidden):
        await revoke_role(await as_user("CLERK", demo, "test:revoke"), grant.id)
    revoked = await revoke_role(await as_user("ADMIN", demo, "test:revoke"), grant.id)
    assert revoked.revoked_at is not None
    entry = await AuditEntry.get(action="role.revoke", object_id=str(grant.id))
    assert (entry.actor_id, entry.request_id) == (demo.users["ADMIN"].id, "test:revoke")
    assert entry.before == {"user_id": user.id, "role": "CLERK"}


async def test_create_region_as_admin_and_as_the_system(app, demo):
    township = demo.townships[0]
    with pytest.raises(Forbidden):
        await create_region(
            await as_user("OFFICIAL", demo, "test:region"),
            township.id,
            RegionKind.VILLAGE,
            "新村",
            None,
        )
    admin = await as_user("ADMIN", demo, "test:region")
    with pytest.raises(UserErrors) as refused:
        await create_region(admin, township.id, RegionKind.GROUP, "新村", None)
    assert codes(refused) == [("INVALID_REGION_KIND", "kind")]

    village = await create_region(admin, township.id, RegionKind.VILLAGE, " 新村 ", None)
    assert village.name == "新村" and village.path.startswith(township.path)
    entry = await AuditEntry.get(action="region.create", object_id=str(village.id))
    assert (entry.actor_id, entry.request_id, entry.region_id) == (
        demo.users["ADMIN"].id,
        "test:region",
        village.id,
    )
    job = Viewer.for_system("job:regions")
    group = await create_region(job, village.id, RegionKind.GROUP, "一组", None)
    entry = await AuditEntry.get(action="region.create", object_id=str(group.id))
    assert (entry.actor_id, entry.request_id) == (None, "job:regions")


async def test_upload_and_redact_without_the_api(app, settings, demo):
    store = app.state.services.media
    villager = await as_user("VILLAGER", demo, "test:media")
    with pytest.raises(Forbidden):
        await upload_region(villager, None, MediaPurpose.RECEIPT)
    clerk = await as_user("CLERK", demo, "test:media")
    region = await upload_region(clerk, None, MediaPurpose.RECEIPT)
    assert region.id == demo.villages[0].id
    data = media_files.phone_jpeg()
    media = await upload_media(
        clerk, store, data=data, purpose=MediaPurpose.RECEIPT, region_id=None, limits=LIMITS
    )
    assert media.region_id == region.id
    assert (media.width, media.height) == (300, 400)  # turned upright
    same = await upload_media(
        clerk, store, data=data, purpose=MediaPurpose.RECEIPT, region_id=region.id, limits=LIMITS
    )
    assert same.id == media.id

    with pytest.raises(UserErrors) as refused:
        await redact_media(clerk, store, media.id, [Rect(0, 0, 301, 10)])
    assert codes(refused) == [("INVALID_RECTANGLE", "rectangles")]
    redacted = await redact_media(clerk, store, media.id, [Rect(10, 10, 50, 20)])
    assert redacted.redacted_from_id == media.id
    assert (await Media.get(id=media.id)).restricted
    entry = await AuditEntry.get(action="media.redact", object_id=str(media.id))
    assert (entry.actor_id, entry.request_id) == (demo.users["CLERK"].id, "test:media")
    assert entry.after == {
        "redacted_media_id": redacted.id,
        "rectangles": [{"x": 10, "y": 10, "w": 50, "h": 20}],
    }


async def test_create_admin_writes_audit_entries_for_the_system(app, settings):
    user = await create_admin(settings, "13700000011", "operator-password", "运维")
    await create_admin(settings, "13700000011", "operator-password-2", "运维")
    entries = await AuditEntry.filter(object_id=str(user.id), object_type="User").order_by("id")
    assert [(e.action, e.actor_id, e.request_id) for e in entries] == [
        ("admin.create", None, "script:create_admin"),
        ("admin.reset", None, "script:create_admin"),
    ]
    assert entries[0].after == {"phone": "137****0011"}
    grant = await RoleGrant.get(user_id=user.id)
    assert (grant.role, grant.region_id) == (Role.ADMIN, None)
    assert await AuditEntry.filter(action="role.grant", object_id=str(grant.id)).count() == 1


async def test_create_admin_refuses_a_bad_phone_and_a_weak_password(app, settings):
    with pytest.raises(UserErrors) as refused:
        await create_admin(settings, "12345", "12345678", "运维")
    assert codes(refused) == [("INVALID_PHONE", "phone"), ("PASSWORD_TOO_WEAK", "password")]
    assert not await User.filter(phone="12345").exists()


async def test_demo_users_sign_in_with_the_demo_password(app, settings, demo):
    user, _ = await login(
        Viewer(),
        Passwords(settings.auth),
        settings.auth,
        phone="13800000001",
        password=DEMO_PASSWORD,
    )
    assert user.id == demo.users["ADMIN"].id
    assert await Region.filter(kind=RegionKind.VILLAGE).count() == 12
