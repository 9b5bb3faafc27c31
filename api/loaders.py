"""Batched loads (one query per kind per request): created lazily, one set per request."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

from aiodataloader import DataLoader
from tortoise.models import Model

from api.rows import rows_by_id
from models.accounts import RoleGrant, User
from models.disclosures import CatalogueItem, DisclosureVersion, ReadMark
from models.media import Media
from models.regions import Region

REGION_CACHE_SIZE = 100_000


class ModelByIdLoader(DataLoader):
    model: ClassVar[type[Model]]

    async def batch_load_fn(self, keys: list[int]) -> list[Any]:
        by_id = {row.id: row for row in await rows_by_id(self.model, keys)}
        return [by_id.get(key) for key in keys]


class RegionLoader(ModelByIdLoader):
    """Regions are never edited once made, so each process keeps those it has read."""

    model = Region

    def __init__(self, cache: dict[int, Region] | None = None) -> None:
        super().__init__()
        self.cache_store = cache if cache is not None else {}

    async def batch_load_fn(self, keys: list[int]) -> list[Any]:
        missing = [k for k in keys if k not in self.cache_store]
        if missing:
            if len(self.cache_store) > REGION_CACHE_SIZE:
                self.cache_store.clear()
            for region, key in zip(await super().batch_load_fn(missing), missing, strict=True):
                if region is not None:
                    self.cache_store[key] = region
        return [self.cache_store.get(k) for k in keys]


class UserLoader(ModelByIdLoader):
    model = User


class ActiveGrantsByUserLoader(DataLoader):
    async def batch_load_fn(self, user_ids: list[int]) -> list[list[RoleGrant]]:
        grouped: dict[int, list[RoleGrant]] = defaultdict(list)
        for grant in await RoleGrant.filter(user_id__in=user_ids, revoked_at=None).order_by("id"):
            grouped[grant.user_id].append(grant)
        return [grouped[uid] for uid in user_ids]


class MediaLoader(ModelByIdLoader):
    model = Media


class CatalogueItemLoader(ModelByIdLoader):
    model = CatalogueItem


class VersionsByDisclosureLoader(DataLoader):
    async def batch_load_fn(self, ids: list[int]) -> list[list[DisclosureVersion]]:
        grouped: dict[int, list[DisclosureVersion]] = defaultdict(list)
        for v in await DisclosureVersion.filter(disclosure_id__in=ids).order_by("version"):
            grouped[v.disclosure_id].append(v)
        return [grouped[i] for i in ids]


class ReadByViewerLoader(DataLoader):
    """disclosure id → whether the viewer (fixed per loader) has read it."""

    def __init__(self, user_id: int) -> None:
        super().__init__()
        self.user_id = user_id

    async def batch_load_fn(self, ids: list[int]) -> list[bool]:
        read = set(
            await ReadMark.filter(user_id=self.user_id, disclosure_id__in=ids).values_list(
                "disclosure_id", flat=True
            )
        )
        return [i in read for i in ids]


class Loaders:
    def __init__(self, region_cache: dict[int, Region] | None = None) -> None:
        self._loaders: dict[Any, DataLoader] = {}
        self._region_cache = region_cache

    def __getitem__(self, cls: type[DataLoader]) -> Any:
        if cls is RegionLoader:
            return self.get_or_create(cls, lambda: RegionLoader(self._region_cache))
        return self.get_or_create(cls, cls)

    async def by_id(
        self, cls: type[ModelByIdLoader], ids: set[int], columns: frozenset[str] | None = None
    ) -> dict[int, Any]:
        """id → row for a batch known up front (a feed page): one query and none of a
        loader's per-key futures; regions straight from the process cache when it has them.
        `columns`: only those are read (see `rows_by_id`); the rows are not kept."""
        if not ids:
            return {}
        if cls is RegionLoader and self._region_cache is not None:
            cache = self._region_cache
            if all(i in cache for i in ids):
                return {i: cache[i] for i in ids}
            keys = list(ids)
            return dict(zip(keys, await self[RegionLoader].load_many(keys), strict=True))
        return {row.id: row for row in await rows_by_id(cls.model, list(ids), columns)}

    def get_or_create(self, key: Any, factory: Any) -> Any:
        """For loaders that need arguments (e.g. the viewer): one per key per request."""
        loader = self._loaders.get(key)
        if loader is None:
            loader = self._loaders[key] = factory()
        return loader
