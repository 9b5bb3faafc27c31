"""The administrative region tree: county → township → village → villager group."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

SEGMENT = 8  # digits per path level: zero-padded id, so a subtree is one index range


class RegionKind(StrEnum):
    PROVINCE = "PROVINCE"
    PREFECTURE = "PREFECTURE"
    COUNTY = "COUNTY"
    TOWNSHIP = "TOWNSHIP"
    VILLAGE = "VILLAGE"
    GROUP = "GROUP"


# Which kind may sit directly below which; None is the top of the tree.
CHILD_KINDS: dict[RegionKind | None, tuple[RegionKind, ...]] = {
    None: (RegionKind.PROVINCE, RegionKind.PREFECTURE, RegionKind.COUNTY),
    RegionKind.PROVINCE: (RegionKind.PREFECTURE,),
    RegionKind.PREFECTURE: (RegionKind.COUNTY,),
    RegionKind.COUNTY: (RegionKind.TOWNSHIP,),
    RegionKind.TOWNSHIP: (RegionKind.VILLAGE,),
    RegionKind.VILLAGE: (RegionKind.GROUP,),
    RegionKind.GROUP: (),
}

# Leading digits of the 12-digit statistical code that a region shares with its children.
CODE_PREFIX = {
    RegionKind.PROVINCE: 2,
    RegionKind.PREFECTURE: 4,
    RegionKind.COUNTY: 6,
    RegionKind.TOWNSHIP: 9,
    RegionKind.VILLAGE: 12,
    RegionKind.GROUP: 12,
}


class Region(Model):
    id = fields.IntField(primary_key=True)
    parent: fields.ForeignKeyNullableRelation[Region] = fields.ForeignKeyField(
        "cunwu.Region", null=True, related_name="children", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(RegionKind, max_length=16)
    code = fields.CharField(max_length=12, null=True, unique=True)
    name = fields.CharField(max_length=64)
    path = fields.CharField(max_length=128, db_index=True)
    depth = fields.SmallIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    parent_id: int | None

    class Meta:
        table = "region"
        unique_together = (("parent", "name"),)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def child_path(parent_path: str, region_id: int) -> str:
    return f"{parent_path}{region_id:0{SEGMENT}d}"


def path_ids(path: str) -> list[int]:
    """Ids from the root down to the region itself."""
    return [int(path[i : i + SEGMENT]) for i in range(0, len(path), SEGMENT)]


def subtree_range(path: str) -> tuple[str, str]:
    """[low, high) bounds that select a region and all its descendants by `path`."""
    upper = str(int(path) + 1).zfill(len(path))
    return path, upper


def covers(ancestor_path: str, path: str) -> bool:
    return path.startswith(ancestor_path)


async def add_region(
    parent: Region | None, kind: RegionKind, name: str, code: str | None = None
) -> Region:
    """Insert a region and give it its materialized path (its own id appended to the parent's)."""
    region = await Region.create(
        parent=parent,
        kind=kind,
        name=name,
        code=code,
        path="",
        depth=parent.depth + 1 if parent else 0,
    )
    region.path = child_path(parent.path if parent else "", region.id)
    await region.save(update_fields=["path"])
    return region
