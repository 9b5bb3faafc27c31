"""The national catalogue of what must be disclosed, and the regions' due days."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from models.audit import record
from models.disclosures import PERIODIC, CatalogueItem, Category, DueDay, Frequency
from models.errors import ErrorCode, UserError, UserErrors, fail
from models.policy import SYSTEM, Action, Viewer
from models.regions import Region

CATALOGUE_FIELDS = ("code", "category", "name", "frequency", "required", "legal_basis", "active")


async def active_items(category: Category | None = None) -> list[CatalogueItem]:
    qs = CatalogueItem.filter(active=True)
    if category is not None:
        qs = qs.filter(category=category)
    return await qs.order_by("sort_order", "id")


def item_snapshot(item: CatalogueItem) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in CATALOGUE_FIELDS}
    values.update(category=str(item.category), frequency=str(item.frequency))
    return {**values, "parent_id": item.parent_id}


async def save_catalogue_item(
    viewer: Viewer, item_id: int | None, changes: dict[str, Any]
) -> CatalogueItem:
    """Add a catalogue item (`item_id` None: code, category, name and frequency required) or
    change one; `changes` holds the fields of CATALOGUE_FIELDS and `parent_id` to set."""
    async with in_transaction():
        viewer.require(Action.CATALOGUE_EDIT, SYSTEM)  # the catalogue is national
        if item_id is not None:
            item = await CatalogueItem.get_or_none(id=item_id)
            if item is None:
                raise fail(ErrorCode.NOT_FOUND, "id")
            before = item_snapshot(item)
        else:
            missing = [f for f in ("code", "category", "name", "frequency") if not changes.get(f)]
            if missing:
                raise UserErrors(*(UserError(ErrorCode.REQUIRED, f) for f in missing))
            if await CatalogueItem.exists(code=changes["code"]):
                raise fail(ErrorCode.CODE_TAKEN, "code")
            item = CatalogueItem(
                code=changes["code"].strip(), category=Category(changes["category"])
            )
            before = None
        for name in ("name", "legal_basis"):
            if changes.get(name) is not None:
                setattr(item, name, changes[name].strip())
        for name in ("required", "active"):
            if changes.get(name) is not None:
                setattr(item, name, changes[name])
        if changes.get("frequency") is not None:
            item.frequency = Frequency(changes["frequency"])
        if changes.get("parent_id"):
            parent = await CatalogueItem.get_or_none(id=changes["parent_id"])
            if parent is None:
                raise fail(ErrorCode.NOT_FOUND, "parentId")
            item.parent_id = parent.id
        if not item.name:
            raise fail(ErrorCode.REQUIRED, "name")
        await item.save()
        await record(
            viewer, "catalogue.save", item, region_id=None, before=before, after=item_snapshot(item)
        )
    return item


async def set_due_day(viewer: Viewer, region_id: int, frequency: Frequency, day: int) -> Region:
    """The day of the month after a period by which the region's items of `frequency` are
    due; regions below inherit it unless they set their own."""
    async with in_transaction():
        region = await Region.get_or_none(id=region_id)
        if region is None:
            raise fail(ErrorCode.NOT_FOUND, "regionId")
        viewer.require(Action.DUE_DAY_SET, region.path)
        if frequency not in PERIODIC:
            raise fail(ErrorCode.INVALID_FREQUENCY, "frequency")
        if not 1 <= day <= 31:
            raise fail(ErrorCode.INVALID_DAY, "day")
        previous = await DueDay.get_or_none(region_id=region.id, frequency=frequency)
        setting, _ = await DueDay.update_or_create(
            region_id=region.id, frequency=frequency, defaults={"day": day}
        )
        await record(
            viewer,
            "due_day.set",
            setting,
            region_id=region.id,
            before={"day": previous.day} if previous else None,
            after={"frequency": str(frequency), "day": day},
        )
    return region
