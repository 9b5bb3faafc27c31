"""The one place that decides who may do what: the role × region table and the object rules.

A grant on a region covers that region and everything below it (its materialized
path is a prefix of theirs); a grant without a region covers the whole system.
Operations and resolvers ask `viewer.can(...)`, `require(...)` or one of the object
rules below; none of them re-implements this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, cast

from models.accounts import Role, RoleGrant, User
from models.errors import AppError, ErrorCode, Forbidden, NotFound, Unauthenticated, fail
from models.finance import AccountLine, MonthlyAccount
from models.media import Media, MediaPurpose
from models.regions import Region, covers

if TYPE_CHECKING:
    from models.comments import Comment
    from models.flags import Flag

SYSTEM = ""  # the path of "the whole system": only region-less grants cover it


class Action(StrEnum):
    REGION_CREATE = "region.create"
    ROLE_GRANT = "role.grant"
    ROLE_REVOKE = "role.revoke"
    ROLE_VIEW = "role.view"
    USER_VIEW = "user.view"
    USER_VIEW_PHONE = "user.view_phone"
    RESIDENCY_VERIFY = "residency.verify"
    AUDIT_READ = "audit.read"
    MEDIA_UPLOAD = "media.upload"
    MEDIA_REDACT = "media.redact"
    MEDIA_VIEW_RESTRICTED = "media.view_restricted"
    DISCLOSURE_EDIT = "disclosure.edit"
    DISCLOSURE_APPROVE = "disclosure.approve"
    DISCLOSURE_VIEW_DRAFT = "disclosure.view_draft"
    CATALOGUE_EDIT = "catalogue.edit"
    CALENDAR_EDIT = "calendar.edit"
    ACCOUNTS_UPLOAD = "accounts.upload"
    RISK_VIEW = "risk.view"
    RISK_DECIDE = "risk.decide"
    COMMENT_AS_STAFF = "comment.as_staff"
    COMMENT_MODERATE = "comment.moderate"
    FLAG_HANDLE = "flag.handle"
    FLAG_HANDLE_ESCALATED = "flag.handle_escalated"
    FLAG_SEE_IDENTITY = "flag.see_identity"
    IDENTITY_VIEWS_READ = "identity_views.read"
    DUE_DAY_SET = "due_day.set"
    REVIEW_QUEUE_READ = "review_queue.read"
    JOBS_MANAGE = "jobs.manage"
    NOTICE_STATS_READ = "notice.stats_read"
    NOTICE_STATS_VILLAGE = "notice.stats_village"
    MARKET_CREATE = "market.create"
    PRICES_RECORD = "prices.record"


class ForbiddenReason(StrEnum):
    """Why a request is FORBIDDEN (`extensions.reason`), from the rule that refused; each has
    a zh and an en text in `models.messages` (key FORBIDDEN_<reason>). None may tell more
    than the refused person may know (not whether a draft exists, nor who flagged)."""

    NO_PERMISSION = "NO_PERMISSION"  # only where nothing more specific applies
    OUTSIDE_REGION = "OUTSIDE_REGION"  # the right role, but no grant covering the region
    NATIONAL_ONLY = "NATIONAL_ONLY"  # a national table: system-wide admins only
    ADMIN_ONLY = "ADMIN_ONLY"
    STAFF_ONLY = "STAFF_ONLY"
    EDITORS_ONLY = "EDITORS_ONLY"
    SUPERVISION_COMMITTEE_ONLY = "SUPERVISION_COMMITTEE_ONLY"
    CLERK_ONLY = "CLERK_ONLY"
    RISK_REVIEWERS_ONLY = "RISK_REVIEWERS_ONLY"
    FLAG_HANDLERS_ONLY = "FLAG_HANDLERS_ONLY"
    FLAG_NOT_ESCALATED = "FLAG_NOT_ESCALATED"
    COMMENT_MODERATORS_ONLY = "COMMENT_MODERATORS_ONLY"
    FLAGGERS_PROTECTED = "FLAGGERS_PROTECTED"
    INSPECTORS_ONLY = "INSPECTORS_ONLY"
    AUDITORS_ONLY = "AUDITORS_ONLY"
    RESIDENCY_VERIFIERS_ONLY = "RESIDENCY_VERIFIERS_ONLY"
    DUE_DAY_SETTERS_ONLY = "DUE_DAY_SETTERS_ONLY"
    REDACTORS_ONLY = "REDACTORS_ONLY"
    REVIEWERS_ONLY = "REVIEWERS_ONLY"
    OWN_VILLAGE_ONLY = "OWN_VILLAGE_ONLY"
    RESIDENCY_NOT_VERIFIED = "RESIDENCY_NOT_VERIFIED"
    EVIDENCE_ONLY = "EVIDENCE_ONLY"
    AUTHOR_CANNOT_APPROVE = "AUTHOR_CANNOT_APPROVE"
    FLAGGER_ONLY = "FLAGGER_ONLY"
    COMMENT_AUTHOR_ONLY = "COMMENT_AUTHOR_ONLY"
    ACCOUNT_PRIVATE = "ACCOUNT_PRIVATE"
    NOT_FOR_YOURSELF = "NOT_FOR_YOURSELF"
    OPERATORS_ONLY = "OPERATORS_ONLY"
    NOTICE_RESIDENTS_ONLY = "NOTICE_RESIDENTS_ONLY"
    NOTICE_STATS_READERS_ONLY = "NOTICE_STATS_READERS_ONLY"
    PRICE_RECORDERS_ONLY = "PRICE_RECORDERS_ONLY"


STAFF = frozenset({Role.CLERK, Role.SUPERVISOR, Role.OFFICIAL, Role.INSPECTOR, Role.ADMIN})

RULES: dict[Action, frozenset[Role]] = {
    Action.REGION_CREATE: frozenset({Role.ADMIN}),
    Action.ROLE_GRANT: frozenset({Role.ADMIN}),
    Action.ROLE_REVOKE: frozenset({Role.ADMIN}),
    Action.ROLE_VIEW: frozenset({Role.OFFICIAL, Role.INSPECTOR, Role.ADMIN}),
    Action.USER_VIEW: STAFF,
    Action.USER_VIEW_PHONE: frozenset({Role.OFFICIAL, Role.ADMIN}),
    Action.RESIDENCY_VERIFY: frozenset({Role.CLERK, Role.OFFICIAL, Role.ADMIN}),
    Action.AUDIT_READ: frozenset({Role.INSPECTOR, Role.ADMIN}),
    Action.MEDIA_UPLOAD: STAFF,
    Action.MEDIA_REDACT: frozenset({Role.CLERK, Role.SUPERVISOR, Role.OFFICIAL, Role.ADMIN}),
    Action.MEDIA_VIEW_RESTRICTED: STAFF,
    Action.DISCLOSURE_EDIT: frozenset({Role.CLERK, Role.OFFICIAL, Role.ADMIN}),
    Action.DISCLOSURE_APPROVE: frozenset({Role.SUPERVISOR}),
    Action.DISCLOSURE_VIEW_DRAFT: STAFF,
    Action.CATALOGUE_EDIT: frozenset({Role.ADMIN}),
    Action.CALENDAR_EDIT: frozenset({Role.ADMIN}),
    Action.ACCOUNTS_UPLOAD: frozenset({Role.CLERK}),
    Action.RISK_VIEW: frozenset({Role.SUPERVISOR, Role.OFFICIAL, Role.INSPECTOR}),
    Action.RISK_DECIDE: frozenset({Role.SUPERVISOR, Role.OFFICIAL}),
    Action.COMMENT_AS_STAFF: STAFF,
    Action.COMMENT_MODERATE: frozenset({Role.OFFICIAL}),
    Action.FLAG_HANDLE: frozenset({Role.OFFICIAL}),
    Action.FLAG_HANDLE_ESCALATED: frozenset({Role.OFFICIAL, Role.INSPECTOR}),
    # Whistleblower protection: never the village's clerk or supervisors, never admins.
    Action.FLAG_SEE_IDENTITY: frozenset({Role.OFFICIAL, Role.INSPECTOR}),
    # Who saw a flagger's identity: the county's inspectors watch the officials (and
    # each other); nobody else, admins least of all.
    Action.IDENTITY_VIEWS_READ: frozenset({Role.INSPECTOR}),
    Action.DUE_DAY_SET: frozenset({Role.OFFICIAL, Role.ADMIN}),
    # What waits for the supervisor: theirs to act on; the staff above read it.
    Action.REVIEW_QUEUE_READ: frozenset(
        {Role.SUPERVISOR, Role.OFFICIAL, Role.INSPECTOR, Role.ADMIN}
    ),
    # the job queue spans every region: checked against SYSTEM, so region-less admins only
    Action.JOBS_MANAGE: frozenset({Role.ADMIN}),
    # Who read a must-read notice: those who may publish in its region or above, and the
    # inspectors covering it, see every village below ...
    Action.NOTICE_STATS_READ: frozenset({Role.OFFICIAL, Role.ADMIN, Role.INSPECTOR}),
    # ... a village's clerk only their own village's row (to visit who has not read it); a
    # township's officials and inspectors the villages of their township under a county notice
    Action.NOTICE_STATS_VILLAGE: frozenset({Role.CLERK, Role.OFFICIAL, Role.INSPECTOR}),
    # Market prices are the township's to publish (and an admin's, to set up or correct);
    # the village's staff and the county's inspectors read them like everyone.
    Action.MARKET_CREATE: frozenset({Role.OFFICIAL, Role.ADMIN}),
    Action.PRICES_RECORD: frozenset({Role.OFFICIAL, Role.ADMIN}),
}


R = ForbiddenReason
# Why someone holding no role that may do an action (anywhere) is refused it.
NEEDS_ROLE: dict[Action, ForbiddenReason] = {
    Action.REGION_CREATE: R.ADMIN_ONLY,
    Action.ROLE_GRANT: R.ADMIN_ONLY,
    Action.ROLE_REVOKE: R.ADMIN_ONLY,
    Action.ROLE_VIEW: R.ACCOUNT_PRIVATE,
    Action.USER_VIEW: R.STAFF_ONLY,
    Action.USER_VIEW_PHONE: R.ACCOUNT_PRIVATE,
    Action.RESIDENCY_VERIFY: R.RESIDENCY_VERIFIERS_ONLY,
    Action.AUDIT_READ: R.AUDITORS_ONLY,
    Action.MEDIA_UPLOAD: R.STAFF_ONLY,
    Action.MEDIA_REDACT: R.REDACTORS_ONLY,
    Action.MEDIA_VIEW_RESTRICTED: R.STAFF_ONLY,
    Action.DISCLOSURE_EDIT: R.EDITORS_ONLY,
    Action.DISCLOSURE_APPROVE: R.SUPERVISION_COMMITTEE_ONLY,
    Action.DISCLOSURE_VIEW_DRAFT: R.STAFF_ONLY,
    Action.CATALOGUE_EDIT: R.NATIONAL_ONLY,
    Action.CALENDAR_EDIT: R.NATIONAL_ONLY,
    Action.ACCOUNTS_UPLOAD: R.CLERK_ONLY,
    Action.RISK_VIEW: R.RISK_REVIEWERS_ONLY,
    Action.RISK_DECIDE: R.RISK_REVIEWERS_ONLY,
    Action.COMMENT_AS_STAFF: R.STAFF_ONLY,
    Action.COMMENT_MODERATE: R.COMMENT_MODERATORS_ONLY,
    Action.FLAG_HANDLE: R.FLAG_HANDLERS_ONLY,
    Action.FLAG_HANDLE_ESCALATED: R.FLAG_HANDLERS_ONLY,
    Action.FLAG_SEE_IDENTITY: R.FLAGGERS_PROTECTED,
    Action.IDENTITY_VIEWS_READ: R.INSPECTORS_ONLY,
    Action.DUE_DAY_SET: R.DUE_DAY_SETTERS_ONLY,
    Action.REVIEW_QUEUE_READ: R.REVIEWERS_ONLY,
    Action.JOBS_MANAGE: R.NATIONAL_ONLY,
    Action.NOTICE_STATS_READ: R.NOTICE_STATS_READERS_ONLY,
    Action.NOTICE_STATS_VILLAGE: R.NOTICE_STATS_READERS_ONLY,
    Action.MARKET_CREATE: R.PRICE_RECORDERS_ONLY,
    Action.PRICES_RECORD: R.PRICE_RECORDERS_ONLY,
}


@dataclass(frozen=True)
class Grant:
    id: int
    role: Role
    region_id: int | None
    path: str  # SYSTEM for a region-less grant


@dataclass
class Viewer:
    user: User | None = None
    session_id: str | None = None
    grants: tuple[Grant, ...] = ()
    # Set when a token was sent but is unusable: asking for a signed-in viewer then says why.
    auth_error: AppError | None = None
    # Where the acting comes from, for the audit log: the request, or a script or job.
    ip: str | None = None
    request_id: str | None = None
    # A script or job acting for the system: allowed what an operation lets the system do.
    system: bool = False
    # Actions this viewer was checked for: the API's base mutation verifies that an
    # operation really checked the permission its mutation declares.
    checked: set[Action] = field(default_factory=set, compare=False, repr=False)

    @classmethod
    def for_system(cls, source: str) -> Viewer:
        """The acting party of a scheduler job or an operator script (`source` names it)."""
        return cls(system=True, request_id=source)

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    def roles_on(self, path: str) -> set[Role]:
        return {g.role for g in self.grants if covers(g.path, path)}

    def holds(self, action: Action) -> bool:
        """Whether any grant's role may do `action` somewhere (a cheap first check)."""
        if self.system:
            return True
        allowed = RULES[action]
        return any(g.role in allowed for g in self.grants)

    def can(self, action: Action, path: str | None) -> bool:
        self.checked.add(action)
        if self.system:
            return True
        if self.user is None:
            return False
        allowed = RULES[action]
        target = SYSTEM if path is None else path
        return any(g.role in allowed and covers(g.path, target) for g in self.grants)

    def can_any(self, action: Action, paths: Iterable[str | None]) -> bool:
        return any(self.can(action, p) for p in paths)

    def is_verified_resident(self, village_id: int) -> bool:
        user = self.user
        return bool(user and user.village_id == village_id and user.residency_verified_at)

    def can_participate(self, path: str, home_path: str | None) -> bool:
        """Comment on (or report, flag) an item of the region at `path`: staff covering it,
        or a villager whose verified home village lies in that region."""
        if self.can(Action.COMMENT_AS_STAFF, path):
            return True
        user = self.user
        return bool(user and user.residency_verified_at and home_path and covers(path, home_path))

    def require_user(self) -> User:
        if self.user is None:
            if self.system:
                raise RuntimeError("this operation needs a user, not the system")
            raise self.auth_error or Unauthenticated()
        return self.user

    def require(self, action: Action, path: str | None) -> None:
        if self.system:
            self.checked.add(action)
            return
        self.require_user()
        if not self.can(action, path):
            raise self.refusal(action, path)

    def refusal(self, action: Action, path: str | None = None) -> Forbidden:
        """Why this viewer may not do `action` on `path`: a national table, a region their
        role does not cover, or the role itself."""
        if self.holds(action):
            national = path is None or path == SYSTEM
            return Forbidden(R.NATIONAL_ONLY if national else R.OUTSIDE_REGION)
        return Forbidden(NEEDS_ROLE.get(action, R.NO_PERMISSION))


# Which region kinds each role may be granted on.
ROLE_KINDS: dict[Role, tuple[str, ...]] = {
    Role.CLERK: ("VILLAGE",),
    Role.SUPERVISOR: ("VILLAGE",),
    Role.OFFICIAL: ("TOWNSHIP",),
    Role.INSPECTOR: ("COUNTY", "PREFECTURE", "PROVINCE"),
    Role.ADMIN: ("COUNTY", "PREFECTURE", "PROVINCE", "TOWNSHIP"),
}


async def viewer_for_user(user: User, source: str | None = None) -> Viewer:
    """`user` with their active grants: the acting party of a request, or of a script that
    acts for a named user (`source` names the script, for the audit log)."""
    rows = await RoleGrant.filter(user_id=user.id, revoked_at=None).values(
        "id", "role", "region_id", "region__path"
    )
    grants = tuple(
        Grant(
            id=r["id"],
            role=Role(r["role"]),
            region_id=r["region_id"],
            path=r["region__path"] if r["region_id"] is not None else SYSTEM,
        )
        for r in rows
    )
    return Viewer(user=user, grants=grants, request_id=source)


# --- finance rules ---


def sees_account_drafts(viewer: Viewer, village_path: str) -> bool:
    """Staff covering the village see a month's unpublished lines and a staged correction."""
    return viewer.can(Action.DISCLOSURE_VIEW_DRAFT, village_path)


def require_account_readable(viewer: Viewer, village_path: str, published: bool) -> None:
    """A month ever published is public (its published version); a draft is for staff and
    answers like a missing month to everyone else (which months a village is preparing is
    not public, as with a draft disclosure)."""
    if not published and not sees_account_drafts(viewer, village_path):
        raise NotFound()


def shown_account_version(
    viewer: Viewer, village_path: str, version: int, published_version: int | None
) -> int:
    """Staff see the lines being prepared; everyone else the last published ones."""
    if published_version is None or sees_account_drafts(viewer, village_path):
        return version
    return published_version


def line_published(line: AccountLine, account: MonthlyAccount) -> bool:
    """A line of a published version (versions up to the published one were all published:
    a correction's unapproved versions are replaced, never kept below it)."""
    return account.published_version is not None and line.version <= account.published_version


@dataclass(frozen=True)
class ReadableLine:
    line: AccountLine
    account: MonthlyAccount
    village_path: str
    published: bool


async def readable_line(viewer: Viewer, line_id: int) -> ReadableLine | None:
    """One account line as `viewer` may read it: a published version's line is public (old
    published versions stay public); the lines being prepared (a draft month, a staged
    correction) only to staff covering the village. None for a missing id and a draft alike."""
    line = await AccountLine.get_or_none(id=line_id)
    if line is None:
        return None
    account = await MonthlyAccount.get(id=line.account_id)
    path = await Region.filter(id=account.village_id).first().values_list("path", flat=True)
    published = line_published(line, account)
    if not published and not sees_account_drafts(viewer, str(path)):
        return None
    return ReadableLine(line, account, str(path), published)


def sees_risk_hits(viewer: Viewer, village_path: str) -> bool:
    """Risk hits are notes for the supervisors, the township and the county, not the clerk."""
    return viewer.can(Action.RISK_VIEW, village_path)


def require_review_queue_reader(viewer: Viewer, village_path: str) -> None:
    """A village's review queue: its supervisors, and officials, inspectors and admins
    covering it (who read it; approving stays the supervisors')."""
    viewer.require(Action.REVIEW_QUEUE_READ, village_path)


def require_clerk_work_reader(viewer: Viewer, village_path: str) -> None:
    """A village's clerk work list (drafts, items sent back, due items): those who write its
    disclosures — its clerks, and officials and admins covering it."""
    viewer.require(Action.DISCLOSURE_EDIT, village_path)


# --- flags rules ---


def may_see_flag_identity(viewer: Viewer, path: str, person_id: int | None = None) -> bool:
    """Whether `viewer` may learn who flagged, supported or acted on a flag of the region at
    `path` (`person_id` is that person, when one is named): the person themself, and the
    officials and inspectors covering the village; never its clerk, supervisors or admins."""
    if person_id is not None and viewer.user_id == person_id:
        return True
    return viewer.can(Action.FLAG_SEE_IDENTITY, path)


def reveals_flag_identity(viewer: Viewer, path: str, person_id: int | None = None) -> bool:
    """`may_see_flag_identity` answered yes to someone other than the person named: that
    showing is recorded (an identity view)."""
    if viewer.user_id is None:
        return False
    return person_id is None or viewer.user_id != person_id


def require_identity_views_reader(viewer: Viewer, path: str) -> None:
    """The record of who saw flaggers' identities in a region: its inspectors only."""
    viewer.require(Action.IDENTITY_VIEWS_READ, path)


def require_flag_queue_reader(viewer: Viewer, path: str) -> None:
    """The officials' queue names flaggers: only those who may see them read it."""
    if not may_see_flag_identity(viewer, path):
        viewer.require_user()  # nobody signed in: say so rather than "forbidden"
        raise viewer.refusal(Action.FLAG_SEE_IDENTITY, path)


def require_calendar_editor(viewer: Viewer) -> None:
    """The holiday table is national: system-wide admins, or the system itself, keep it."""
    if not viewer.can(Action.CALENDAR_EDIT, SYSTEM):
        viewer.require_user()
        raise viewer.refusal(Action.CALENDAR_EDIT, SYSTEM)


def require_flag_handler(viewer: Viewer, flag: Flag) -> None:
    """An official's step on a flag: the township's officials, and once it has gone to the
    county (overdue or reopened) its inspectors too."""
    action = Action.FLAG_HANDLE_ESCALATED if flag.escalated_at else Action.FLAG_HANDLE
    if (
        action == Action.FLAG_HANDLE
        and viewer.user is not None
        and not viewer.can(action, flag.region_path)
        and viewer.can(Action.FLAG_HANDLE_ESCALATED, flag.region_path)
    ):
        raise Forbidden(R.FLAG_NOT_ESCALATED)  # an inspector, before the county's turn
    viewer.require(action, flag.region_path)


def require_flagger(viewer: Viewer, flag: Flag) -> None:
    """Only the flagger answers the officials' resolution."""
    if viewer.user_id != flag.flagger_id:
        raise Forbidden(R.FLAGGER_ONLY)  # the same to everyone else: it names nobody


# --- comments rules ---


async def require_participant(viewer: Viewer, path: str, field: str = "targetId") -> None:
    """Comment on, report or flag an item of the region at `path`: staff covering it, or a
    verified villager of a village under it (RESIDENCY_REQUIRED when only that is missing)."""
    user = viewer.require_user()
    home = None
    if user.village_id:
        home = cast(
            "str | None",
            await Region.filter(id=user.village_id).first().values_list("path", flat=True),
        )
    if not viewer.can_participate(path, home):
        if home and covers(path, home) and not user.residency_verified_at:
            raise fail(ErrorCode.RESIDENCY_REQUIRED, field)  # one step away
        raise Forbidden(R.OWN_VILLAGE_ONLY)


def may_moderate_comments(viewer: Viewer, path: str) -> bool:
    """The township officials covering the item: they read hidden comments and decide."""
    return viewer.can(Action.COMMENT_MODERATE, path)


def require_comment_moderator(viewer: Viewer, path: str) -> None:
    if not may_moderate_comments(viewer, path):
        viewer.require_user()
        raise viewer.refusal(Action.COMMENT_MODERATE, path)


def require_comment_author(viewer: Viewer, comment: Comment) -> None:
    """Only its author edits or deletes a comment."""
    if viewer.user_id != comment.author_id:
        raise Forbidden(R.COMMENT_AUTHOR_ONLY)


# --- disclosures rules ---

PUBLIC_DISCLOSURE_STATUSES = ("PUBLISHED", "RETRACTED")


def require_draft_viewer(viewer: Viewer, region_path: str) -> None:
    """Unpublished disclosures of a region: only staff covering it."""
    viewer.require(Action.DISCLOSURE_VIEW_DRAFT, region_path)


def sees_staged_correction(viewer: Viewer, region_path: str) -> bool:
    """A FINANCE correction awaiting its supervisor is, like a draft, for staff only."""
    return viewer.can(Action.DISCLOSURE_VIEW_DRAFT, region_path)


def may_read_disclosure(viewer: Viewer, status: str, region_path: str) -> bool:
    """Published and retracted items are public; the others are drafts (see above)."""
    return status in PUBLIC_DISCLOSURE_STATUSES or viewer.can(
        Action.DISCLOSURE_VIEW_DRAFT, region_path
    )


def require_disclosure_readable(
    viewer: Viewer, status: str, region_path: str, field: str | None = None
) -> None:
    """A draft answers like a missing id to anyone who may not read it (NOT_FOUND: on
    `field` as a user error, else top-level): whether a draft id exists is not public."""
    if not may_read_disclosure(viewer, status, region_path):
        if field is not None:
            raise fail(ErrorCode.NOT_FOUND, field)
        raise NotFound()


def require_second_person(viewer: Viewer, author_id: int) -> None:
    """The two-person rule: nobody approves a disclosure or a month they wrote or uploaded."""
    if author_id == viewer.user_id:
        raise Forbidden(R.AUTHOR_CANNOT_APPROVE)


def require_notice_resident(viewer: Viewer, notice_path: str, home_path: str | None) -> None:
    """Acknowledging a must-read notice: a villager whose verified home village lies in the
    notice's region (staff acknowledge as residents too, never by their grants)."""
    user = viewer.require_user()
    if home_path is None or not covers(notice_path, home_path):
        raise Forbidden(R.NOTICE_RESIDENTS_ONLY)
    if user.residency_verified_at is None:
        raise Forbidden(R.RESIDENCY_NOT_VERIFIED)


def notice_stats_scope(
    viewer: Viewer, notice_path: str, village_path: str | None
) -> list[str] | None:
    """Who read a must-read notice: None when `viewer` sees every village below it (or the
    one village asked for, at `village_path`), else the paths of the villages they see —
    a clerk's own. Anyone else is refused: villagers, supervisors, staff elsewhere."""
    if viewer.can(Action.NOTICE_STATS_READ, notice_path):
        return None
    own = [
        g.path
        for g in viewer.grants
        if g.role in RULES[Action.NOTICE_STATS_VILLAGE] and covers(notice_path, g.path)
    ]
    if village_path is not None:
        own = [p for p in own if covers(p, village_path)]
    if own:
        viewer.checked.add(Action.NOTICE_STATS_VILLAGE)
        return own
    viewer.require_user()
    if viewer.holds(Action.NOTICE_STATS_READ) or viewer.holds(Action.NOTICE_STATS_VILLAGE):
        raise Forbidden(R.OUTSIDE_REGION)
    raise Forbidden(R.NOTICE_STATS_READERS_ONLY)


# --- accounts rules ---
def can_see_user(viewer: Viewer, user: User, scope_paths: Iterable[str]) -> bool:
    """The user themselves, or staff covering their home village or a region of their grants
    (`scope_paths`)."""
    return viewer.user_id == user.id or viewer.can_any(Action.USER_VIEW, scope_paths)


def can_see_phone(viewer: Viewer, user: User, scope_paths: Iterable[str]) -> bool:
    """A full phone number: the user themselves, admins and officials covering them; others
    see it masked."""
    return viewer.user_id == user.id or viewer.can_any(Action.USER_VIEW_PHONE, scope_paths)


def can_see_grant(viewer: Viewer, grant: RoleGrant, region_path: str) -> bool:
    """A user's own grants; others' to officials, inspectors and admins covering them."""
    return grant.user_id == viewer.user_id or viewer.can(Action.ROLE_VIEW, region_path)


def require_residency_verifier(viewer: Viewer, village_path: str) -> None:
    """Clerks, officials and admins covering the resident's village confirm that they live
    there."""
    viewer.require(Action.RESIDENCY_VERIFY, village_path)


def require_not_self(viewer: Viewer, user_id: int) -> None:
    """Nobody grants a role to themselves: not even an admin may widen their own grants (an
    admin making themself OFFICIAL or INSPECTOR would read flaggers)."""
    if not viewer.system and viewer.user_id == user_id:
        raise Forbidden(R.NOT_FOR_YOURSELF)


def require_operator(viewer: Viewer) -> None:
    """A system-wide admin is made only by the operators' script: no grant covers that."""
    if not viewer.system:
        raise Forbidden(R.OPERATORS_ONLY)


# --- media rules ---
def may_upload_media(
    viewer: Viewer, region_id: int, region_path: str, purpose: MediaPurpose
) -> bool:
    """Staff covering the region; a verified villager only evidence for a flag about their own
    village."""
    if viewer.can(Action.MEDIA_UPLOAD, region_path):
        return True
    return purpose == MediaPurpose.EVIDENCE and viewer.is_verified_resident(region_id)


def require_media_uploader(
    viewer: Viewer, region_id: int, region_path: str, purpose: MediaPurpose
) -> None:
    """`may_upload_media`, refusing with the step that is missing."""
    if may_upload_media(viewer, region_id, region_path, purpose):
        return
    user = viewer.require_user()
    if viewer.holds(Action.MEDIA_UPLOAD):
        raise Forbidden(R.OUTSIDE_REGION)
    if purpose != MediaPurpose.EVIDENCE:
        raise Forbidden(R.EVIDENCE_ONLY)
    if user.village_id != region_id:
        raise Forbidden(R.OWN_VILLAGE_ONLY)
    raise Forbidden(R.RESIDENCY_NOT_VERIFIED)


def media_is_public(media: Media) -> bool:
    """A file the public sees: attached to something published (a published disclosure or
    month, a submitted flag: `attached_at`), and not an unredacted original."""
    return media.attached_at is not None and not media.restricted


def may_see_media(viewer: Viewer, media: Media, region_path: str) -> bool:
    """Public media (above) to anyone; an unattached upload, a draft's or an unapproved
    month's file, or an unredacted original: its uploader and staff covering its region."""
    if media_is_public(media):
        return True
    if viewer.user_id is not None and viewer.user_id == media.uploaded_by_id:
        return True
    return viewer.can(Action.MEDIA_VIEW_RESTRICTED, region_path)
