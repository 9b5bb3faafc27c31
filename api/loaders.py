"""Batched loads (one query per kind per request): created lazily, one set per request."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

from aiodataloader import DataLoader
from tortoise.models import Model

from models.accounts import RoleGrant, User
from models.regions import Region


class ModelByIdLoader(DataLoader):
    model: ClassVar[type[Model]]

    async def batch_load_fn(self, keys: list[int]) -> list[Any]:
        rows = await self.model.filter(id__in=keys)
        by_id = {row.pk: row for row in rows}
        return [by_id.get(key) for key in keys]


class RegionLoader(ModelByIdLoader):
    model = Region


class UserLoader(ModelByIdLoader):
    model = User


class ActiveGrantsByUserLoader(DataLoader):
    async def batch_load_fn(self, user_ids: list[int]) -> list[list[RoleGrant]]:
        grouped: dict[int, list[RoleGrant]] = defaultdict(list)
        for grant in await RoleGrant.filter(user_id__in=user_ids, revoked_at=None).order_by("id"):
            grouped[grant.user_id].append(grant)
        return [grouped[uid] for uid in user_ids]


class Loaders:
    def __init__(self) -> None:
        self._loaders: dict[type[DataLoader], DataLoader] = {}

    def __getitem__(self, cls: type[DataLoader]) -> Any:
        loader = self._loaders.get(cls)
        if loader is None:
            loader = self._loaders[cls] = cls()
        return loader
