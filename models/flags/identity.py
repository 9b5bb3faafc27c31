"""Identity views: every time a flagger's or a supporter's identity is shown to someone
other than themselves, who saw which flag's and when — listed to the county's inspectors."""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.queryset import QuerySet

from models.flags import IdentityShown, IdentityView
from models.policy import Viewer, require_identity_views_reader
from models.regions import Region, subtree_range


async def record_identity_views(
    viewer: Viewer, shown: Iterable[tuple[int, str, IdentityShown]]
) -> None:
    """Record (flag id, the flag's region path, what was shown) for `viewer`, in one insert:
    the API collects a whole response's showings and calls this once per batch."""
    if viewer.user_id is None:
        return
    rows = [
        IdentityView(viewer_id=viewer.user_id, flag_id=flag_id, region_path=path, shown=what)
        for flag_id, path, what in dict.fromkeys(shown)
    ]
    if rows:
        await IdentityView.bulk_create(rows)


def identity_views_below(viewer: Viewer, region: Region) -> QuerySet[IdentityView]:
    """The identity views of the flags in `region` and below, for its inspectors."""
    require_identity_views_reader(viewer, region.path)
    low, high = subtree_range(region.path)
    return IdentityView.filter(region_path__gte=low, region_path__lt=high)
