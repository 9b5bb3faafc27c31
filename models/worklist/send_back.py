"""A supervisor sends a submitted item back to the clerk with a reason: a disclosure
returns to DRAFT, a staged FINANCE correction or an uploaded month waits to be redone. The
reason is kept (ReturnNote), audited, and the author is notified."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models.audit import record
from models.disclosures import Disclosure, ReturnKind, ReturnNote, StagedCorrection, Status
from models.disclosures.workflow import load_disclosure
from models.errors import ErrorCode, fail
from models.finance import AccountStatus, MonthlyAccount
from models.finance.months import MAX_YEAR, MIN_YEAR
from models.policy import Action, Viewer
from models.regions import Region
from models.text import clean_reason
from notifications.events import notify


async def return_disclosure(viewer: Viewer, disclosure_id: int, reason: str | None) -> Disclosure:
    """Send back a submitted disclosure (to DRAFT), or a staged correction of a published
    FINANCE item (the public keeps the published version; the clerk stages a new one)."""
    async with in_transaction():
        disclosure = await load_disclosure(viewer, disclosure_id, Action.DISCLOSURE_APPROVE)
        reason = clean_reason(reason)
        user_id = viewer.require_user().id
        staged = await StagedCorrection.get_or_none(disclosure_id=disclosure.id)
        if disclosure.status == Status.PENDING_REVIEW:
            disclosure.status = Status.DRAFT
            await disclosure.save()
            kind, author_id, staged_id = ReturnKind.DISCLOSURE, disclosure.author_id, None
        elif disclosure.status == Status.PUBLISHED and staged is not None:
            if await ReturnNote.exists(staged_id=staged.id, closed_at=None):
                raise fail(ErrorCode.NOT_WAITING, "id")
            kind, author_id, staged_id = ReturnKind.CORRECTION, staged.author_id, staged.id
        else:
            raise fail(ErrorCode.NOT_WAITING, "id")
        note = await ReturnNote.create(
            village_id=disclosure.region_id,
            kind=kind,
            disclosure_id=disclosure.id,
            staged_id=staged_id,
            reason=reason,
            returned_by_id=user_id,
            author_id=author_id,
        )
        await record(
            viewer,
            "disclosure.return",
            disclosure,
            region_id=disclosure.region_id,
            after={"kind": str(kind), "reason": reason, "status": str(disclosure.status)},
        )
        await notify(
            {author_id} - {user_id},
            "REVIEW_RETURNED",
            "Disclosure",
            disclosure.id,
            note=note.id,
            returned=str(kind),
        )
    return disclosure


async def return_month(
    viewer: Viewer, village_id: int, year: int, month: int, reason: str | None
) -> MonthlyAccount:
    """Send back an uploaded month (or its staged correction) to be uploaded again: it
    cannot be approved until it is."""
    async with in_transaction():
        village = await Region.get_or_none(id=village_id)
        if village is None:
            raise fail(ErrorCode.NOT_FOUND, "villageId")
        viewer.require(Action.DISCLOSURE_APPROVE, village.path)
        if not (MIN_YEAR <= year <= MAX_YEAR and 1 <= month <= 12):
            raise fail(ErrorCode.INVALID_MONTH, "month")
        account = await MonthlyAccount.get_or_none(village_id=village.id, year=year, month=month)
        if account is None:
            raise fail(ErrorCode.NOT_FOUND, "month")
        reason = clean_reason(reason)
        if account.status != AccountStatus.DRAFT or await ReturnNote.exists(
            account_id=account.id, month_version=account.version, closed_at=None
        ):
            raise fail(ErrorCode.NOT_WAITING, "month")
        note = await ReturnNote.create(
            village_id=village.id,
            kind=ReturnKind.MONTH,
            account_id=account.id,
            month_version=account.version,
            reason=reason,
            returned_by_id=viewer.require_user().id,
            author_id=account.uploaded_by_id,
        )
        await record(
            viewer,
            "accounts.return",
            account,
            region_id=village.id,
            after={"version": account.version, "reason": reason},
        )
        await notify(
            {account.uploaded_by_id} - {viewer.user_id},
            "REVIEW_RETURNED",
            "MonthlyAccount",
            account.id,
            note=note.id,
        )
    return account
