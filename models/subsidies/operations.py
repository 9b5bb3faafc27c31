"""我的补贴: a villager enters their ID number once (kept only as its keyed hash) and sees
the published table rows that name them. Nothing here takes a number from anyone but the
signed-in villager for themselves, and nothing gives a number or a hash back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.accounts import User
from models.accounts.viewer_cache import viewer_changed
from models.audit import record
from models.disclosures import Disclosure, DisclosureVersion, Status
from models.disclosures.tables import ColumnKind, is_id_number
from models.errors import ErrorCode, fail
from models.policy import Viewer, require_operator
from models.sql import Params, is_postgres
from models.subsidies import id_hash, normalise


async def set_my_id_number(viewer: Viewer, raw: str, now: datetime | None = None) -> User:
    """Keep the keyed hash of the viewer's own ID number (a valid GB 11643 one), in place of
    any they entered before. A number another account holds is refused (ID_NUMBER_TAKEN):
    the township office sorts that out with the person in front of them."""
    user = viewer.require_user()
    if user.phone_verified_at is None:  # an account behind a real phone, not a throwaway
        raise fail(ErrorCode.PHONE_NOT_VERIFIED, "idNumber")
    number = normalise(raw or "")
    if not is_id_number(number):
        raise fail(ErrorCode.INVALID_ID_NUMBER, "idNumber")
    key = id_hash(number)
    before = user.id_number_hash, user.id_number_set_at
    replaced = before[0] is not None
    try:
        async with in_transaction():
            if await User.filter(id_number_hash=key).exclude(id=user.id).exists():
                raise fail(ErrorCode.ID_NUMBER_TAKEN, "idNumber")
            user.id_number_hash = key
            user.id_number_set_at = (now or datetime.now(UTC)).replace(microsecond=0)
            await user.save(update_fields=["id_number_hash", "id_number_set_at"])
            # neither the number nor its hash: the audit log is read by staff
            await record(
                viewer,
                "user.id_number_set",
                user,
                region_id=user.village_id,
                after={"replaced": replaced},
            )
    except IntegrityError:  # another account took it between the check and the save
        user.id_number_hash, user.id_number_set_at = before  # the request's viewer goes on
        raise fail(ErrorCode.ID_NUMBER_TAKEN, "idNumber") from None
    await viewer_changed(user.id)
    return user


async def clear_my_id_number(viewer: Viewer) -> User:
    """Forget the viewer's ID-number hash: 我的补贴 lists nothing until they enter it again."""
    user = viewer.require_user()
    async with in_transaction():
        had = user.id_number_hash is not None
        user.id_number_hash = None
        user.id_number_set_at = None
        await user.save(update_fields=["id_number_hash", "id_number_set_at"])
        await record(
            viewer,
            "user.id_number_clear",
            user,
            region_id=user.village_id,
            after={"had": had},
        )
    await viewer_changed(user.id)
    return user


async def release_id_number(viewer: Viewer, raw: str) -> bool:
    """The operators free a number another account entered, once the township office has
    seen the owner's ID card (ID_NUMBER_TAKEN sends them there): whoever holds it loses it.
    Not in the API: only a script on the server asks by number. Whether one was held."""
    require_operator(viewer)
    number = normalise(raw or "")
    if not is_id_number(number):
        raise fail(ErrorCode.INVALID_ID_NUMBER, "idNumber")
    async with in_transaction():
        holder = await User.get_or_none(id_number_hash=id_hash(number))
        if holder is None:
            return False
        holder.id_number_hash = None
        holder.id_number_set_at = None
        await holder.save(update_fields=["id_number_hash", "id_number_set_at"])
        await record(viewer, "user.id_number_release", holder, region_id=holder.village_id)
    await viewer_changed(holder.id)
    return True


@dataclass(frozen=True)
class SubsidyPayment:
    """One row of a published table that names the viewer, as published (ID masked)."""

    entry_id: int  # the keyset: newest publication first
    disclosure: Disclosure
    version: DisclosureVersion
    table: dict[str, Any]
    row: list[Any]

    @property
    def item(self) -> str:
        return self.table.get("title") or self.version.title

    @property
    def amount_fen(self) -> int | None:
        for column, cell in zip(self.table["columns"], self.row, strict=True):
            if column["kind"] == ColumnKind.MONEY_FEN and isinstance(cell, int):
                return cell
        return None

    @property
    def cells(self) -> list[tuple[str, str | None]]:
        return [
            (column["label"], None if cell is None else str(cell))
            for column, cell in zip(self.table["columns"], self.row, strict=True)
        ]


async def my_subsidies(viewer: Viewer, before_id: int | None, limit: int) -> list[SubsidyPayment]:
    """The rows naming the signed-in viewer in the current version of published disclosures,
    newest publication first, `limit` of them below the entry `before_id` (a keyset).
    Only ever by the viewer's own hash: no one can ask about another person."""
    user = viewer.require_user()
    if user.id_number_hash is None or limit <= 0:
        return []
    conn = Tortoise.get_connection("default")
    params = Params(is_postgres(conn))
    # placeholders in the order they appear (SQLite's are positional)
    sql = (
        "SELECT e.id, e.disclosure_id, e.version, e.table_index, e.row_index "
        "FROM subsidy_entry e JOIN disclosure d ON d.id = e.disclosure_id "
        f"WHERE e.id_hash = {params(user.id_number_hash)} "
        f"AND d.status = {params(Status.PUBLISHED.value)} AND e.version = d.version "
    )
    if before_id is not None:
        sql += f"AND e.id < {params(before_id)} "
    sql += f"ORDER BY e.id DESC LIMIT {params(limit)}"
    rows = await conn.execute_query_dict(sql, params.values)
    if not rows:
        return []
    ids = {r["disclosure_id"] for r in rows}
    disclosures = {d.id: d for d in await Disclosure.filter(id__in=ids)}
    # the current versions only (a long-corrected list has many, each with its tables)
    wanted = {(d.id, d.version) for d in disclosures.values()}
    found = DisclosureVersion.filter(
        disclosure_id__in=ids, version__in={version for _, version in wanted}
    )
    versions = {(v.disclosure_id, v.version): v for v in await found}
    versions = {key: v for key, v in versions.items() if key in wanted}
    out = []
    for r in rows:
        version = versions.get((r["disclosure_id"], r["version"]))
        if version is None:  # published again since the statement above: the next read has it
            continue
        tables = version.tables
        if r["table_index"] >= len(tables) or r["row_index"] >= len(
            tables[r["table_index"]]["rows"]
        ):
            continue
        table = tables[r["table_index"]]
        out.append(
            SubsidyPayment(
                entry_id=r["id"],
                disclosure=disclosures[r["disclosure_id"]],
                version=version,
                table=table,
                row=table["rows"][r["row_index"]],
            )
        )
    return out
