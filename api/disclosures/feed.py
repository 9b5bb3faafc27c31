"""Feeds: a region and everything below it (plus notices from above), newest first,
with keyset cursors; search puts title matches first."""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache
from typing import Any, cast

from tortoise import Tortoise
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from api.compat import db_columns
from api.relay import build_connection, cursor_time, decode_cursor, encode_cursor, page_size
from api.relay import cursor_key as cursor_int
from api.rows import (
    fetch_rows,
    partial_row_class,
    query_rows,
    row_class,
    rows_by_id,
    shortcuts,
    stored,
)
from api.sync import change_page, parse_change_cursor
from models.accounts import User
from models.disclosures import Category, Disclosure, FarmingTag, Status, search
from models.errors import BadUserInput
from models.kept import Kept
from models.media import Media
from models.regions import Region, RegionKind, path_ids, subtree_range
from models.sql import Params, changed_after, is_postgres

SMALL_KINDS = (RegionKind.TOWNSHIP, RegionKind.VILLAGE, RegionKind.GROUP)
# What a township or county publishes for everyone below it.
FROM_ABOVE = (Category.NOTICE, Category.FARMING)


@lru_cache(maxsize=1024)
def covered(paths: tuple[str, ...]) -> tuple[tuple[tuple[str, str], ...], tuple[int, ...]]:
    """What a feed of the regions with these paths covers: everything under them (path
    ranges), and the notices and farming information published on the regions above them
    (their ids). Kept: a region's path never changes."""
    ranges, ancestors = [], set()
    for path in paths:
        ranges.append(subtree_range(path))
        ancestors.update(path_ids(path)[:-1])
    return tuple(ranges), tuple(sorted(ancestors))


def coverage(regions: list[Region]) -> tuple[tuple[tuple[str, str], ...], tuple[int, ...]]:
    return covered(tuple(r.path for r in regions))


def region_filter(regions: list[Region]) -> Q:
    ranges, ancestors = coverage(regions)
    clauses = [Q(region_path__gte=low, region_path__lt=high) for low, high in ranges]
    if ancestors:
        clauses.append(Q(region_id__in=list(ancestors), category__in=FROM_ABOVE))
    return Q(*clauses, join_type="OR")


# A tag filter is a substring test on the comma-joined tags: exact while no tag's name
# holds another's (tests/test_farming.py checks). No index of its own: a village's or
# township's page reads its subtree as without a tag (a bounded read); a county's or the
# whole feed's reads the FARMING rows through the category index, a small share of all.


def tag_filter(tag: str) -> Q:
    return Q(category=Category.FARMING, tags__contains=FarmingTag(tag).value)


def cursor_key(bucket: int):
    def key(d: Disclosure) -> str:
        # SQLite's text unparsed (isoformat(" ")), written as isoformat() writes it
        stamp = stored(d, "published_at")
        text = stamp.replace(" ", "T", 1) if stamp.__class__ is str else stamp.isoformat()
        return f"{bucket}|{text}|{d.id}"

    return key


# (bucket, publication time as stored, id) → the edge's encoded cursor: a feed's first
# pages come back with the same rows request after request (bounded).
_CURSORS = Kept(16_384)


def page_cursor(bucket: int):
    """`cursor_key(bucket)` encoded (api.relay.encode_cursor), for `build_connection`."""
    key = cursor_key(bucket)

    def cursor(d: Disclosure) -> str:
        stamp = stored(d, "published_at")
        # equal datetimes in other zones write other texts: the zone is part of the key
        kept = (bucket, stamp, d.id, None if stamp.__class__ is str else stamp.tzinfo)
        found = _CURSORS.get(kept)
        if found is None:
            found = _CURSORS.keep(kept, encode_cursor(key(d)))
        return found

    return cursor


def parse_cursor(after: str | None) -> tuple[int, datetime, int] | None:
    if after is None:
        return None
    try:
        bucket, stamp, pk = decode_cursor(after).split("|")
        return cursor_int(bucket), cursor_time(stamp), cursor_int(pk)
    except ValueError:
        raise BadUserInput("INVALID_CURSOR") from None


def live(now: datetime) -> Q:
    """Not expired at `now` (only notices and farming information have an expiry): a test
    on each row the range scan reads, the scan itself unchanged."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def after_clause(stamp: datetime, pk: int) -> Q:
    return Q(published_at__lt=stamp) | Q(published_at=stamp, id__lt=pk)


async def newest(qs: QuerySet, cursor: tuple[int, datetime, int] | None, limit: int) -> list:
    """A page newest first, in two steps: the ids are sorted from the indexes alone (only
    id and published_at, not whole rows, go through the sort), then the rows are read."""
    if cursor is not None:
        qs = qs.filter(after_clause(cursor[1], cursor[2]))
    ids = cast(
        list[int],
        await qs.order_by("-published_at", "-id").limit(limit).values_list("id", flat=True),
    )
    by_id = {row.id: row for row in await rows_by_id(Disclosure, ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


@cache
def user_columns() -> tuple[str, ...]:
    """Read once the models are initialised (relations add their id columns then)."""
    return tuple(column for column, _ in db_columns(User))


# An author shown by name (or id) only: the columns that takes (see `newest_rows`).
AUTHOR_BY_NAME = frozenset({"__typename", "id", "name"})


@cache
def served_columns() -> tuple[str, ...]:
    """Every served column: not the private row keys of a subsidy list (as long as its
    table). Read once the models are initialised (relations add their id columns then)."""
    return tuple(c for c, _ in db_columns(Disclosure) if c != "row_keys")


# What a page needs whatever the query shows: the keyset cursor, and the ids the batch
# loads of regions and authors start from.
PAGE_COLUMNS = frozenset({"id", "published_at", "region_id", "author_id"})


@lru_cache(maxsize=256)
def feed_columns(wanted: frozenset[str] | None) -> tuple[str, frozenset[str]]:
    """The select list for the columns `wanted` (None: every served one), and the served
    columns it leaves out. Each row is a Python object per column: a list page that shows
    a title reads a third of them, and not the body or the tables."""
    served = served_columns()
    if wanted is None:
        read = served
    else:
        read = tuple(c for c in served if c in wanted or c in PAGE_COLUMNS)
    return ", ".join(f'd."{c}"' for c in read), frozenset(served).difference(read)


AUTHOR = "author__"
ID_ALIAS, NAME_ALIAS = AUTHOR + "id", AUTHOR + "name"
# The media a row's attachment ids name, whole rows (asyncpg answers a composite as a record
# with its columns' names and types), NULL for an id that names none. One primary-key
# lookup per id: `m."id" = ANY(…)` let PostgreSQL scan the whole (small) media table for
# every row of the page, a third of the statement's CPU.
ATTACHED_MEDIA = (
    'ARRAY(SELECT (SELECT m FROM "media" m WHERE m."id" = e::int) '
    'FROM jsonb_array_elements_text(d."attachment_ids") AS e) AS "attached_media"'
)
VISIBLE_COMMENTS = (
    '(SELECT COUNT(*) FROM "comment" c WHERE c."target_type" = \'Disclosure\' '
    'AND c."target_id" = d."id" AND c."status" = \'VISIBLE\') AS "comment_count"'
)


@lru_cache(maxsize=512)
def page_statement(
    postgres: bool,
    small: bool,
    ranges: int | None,
    ancestors: int,
    category: bool,
    catalogue: bool,
    live: bool,
    tag: bool,
    cursor: bool,
    with_comment_count: bool,
    with_author: bool,
    by_name: bool,
    with_media: bool,
    columns: frozenset[str] | None,
) -> tuple[str, tuple[Any, ...], frozenset[str]]:
    """The text of a feed page's statement (see `newest_rows`) for one shape of request,
    the names of its values in placeholder order, and the served columns it leaves out.
    Written once per shape: a page's statement cost more to write than to run. Each
    placeholder is given the name of the value it stands for (`newest_rows` looks them up
    in that order)."""
    mark = Params(postgres)
    clauses = ['"published_at" IS NOT NULL']
    if ranges is not None:
        # A county or more holds most rows: walking the publication-time index newest
        # first finds a page at once, where SQLite would otherwise sort the whole subtree
        # (`+` keeps it off the region index; PostgreSQL plans this well by itself).
        unfiltered = not category and not catalogue and not tag
        walk = not small and not postgres and unfiltered
        path = '+"region_path"' if walk else '"region_path"'
        either = [
            f"({path} >= {mark(('low', i))} AND {path} < {mark(('high', i))})"
            for i in range(ranges)
        ]
        if ancestors:
            either.append(
                f'("region_id" IN ({mark.many([("ancestor", i) for i in range(ancestors)])}) '
                f'AND "category" IN ({mark.many([("above", c.value) for c in FROM_ABOVE])}))'
            )
        clauses.append("(" + " OR ".join(either) + ")")
    if category:
        clauses.append(f'"category" = {mark("category")}')
    if catalogue:
        clauses.append(f'"catalogue_item_id" = {mark("catalogue")}')
    if live:
        clauses.append(f'("expires_at" IS NULL OR "expires_at" > {mark("live")})')
    if tag:
        # on a small region `+` keeps SQLite on the region index, not every FARMING row
        column = '+"category"' if small and not postgres else '"category"'
        clauses.append(f'({column} = {mark("farming")} AND "tags" LIKE {mark("tag")})')
    if cursor:
        clauses.append(
            f'("published_at" < {mark("stamp")} OR '
            f'("published_at" = {mark("stamp")} AND "id" < {mark("pk")}))'
        )
    order = 'ORDER BY "published_at" DESC, "id" DESC'
    where = " AND ".join(clauses)
    ids = f'SELECT "id" FROM "disclosure" WHERE {where} {order} LIMIT {mark("limit")}'
    extra = f", {VISIBLE_COMMENTS}" if with_comment_count else ""
    join = ""
    if with_author:
        author_columns = ("id", "name") if by_name else user_columns()
        extra += ", " + ", ".join(f'u."{c}" AS "{AUTHOR}{c}"' for c in author_columns)
        join = ' LEFT JOIN "user" u ON u."id" = d."author_id"'
    if with_media:
        extra += f", {ATTACHED_MEDIA}"
    select, absent = feed_columns(columns)
    statement = (
        f'SELECT {select}{extra} FROM "disclosure" d{join} WHERE d."id" IN ({ids}) '
        f'ORDER BY d."published_at" DESC, d."id" DESC'
    )
    return statement, tuple(mark.values), absent


async def newest_rows(
    regions: list[Region] | None,
    category: str | None,
    catalogue_item_id: int | None,
    cursor: tuple[int, datetime, int] | None,
    limit: int,
    with_comment_count: bool,
    with_author: bool,
    live_at: datetime | None = None,
    tag: str | None = None,
    columns: frozenset[str] | None = None,
    author_fields: frozenset[str] | None = None,
    with_media: bool = False,
) -> list[Any]:
    """One statement for a feed page: the ids are picked from the indexes alone (only id
    and published_at go through the sort), then those rows are read, with their visible
    comment count and their author (as `author_row`) when asked. `columns`: the disclosure
    columns the caller will read (None: all); reading another one raises ColumnNotRead.
    `author_fields`: the author's fields the query shows (None: any); shown by name alone,
    only the author's id and name are read. `with_media`: on PostgreSQL, each row's
    attachments come along (as `attached_rows`, the media that exist, in no set order):
    a round trip there costs more than the statement."""
    conn = Tortoise.get_connection("default")
    postgres = is_postgres(conn)
    # A township holds a few thousand items at most: such a page is a bounded read.
    small = regions is not None and all(r.kind in SMALL_KINDS for r in regions)
    given: dict[Any, Any] = {"limit": limit}
    ranges: tuple[tuple[str, str], ...] = ()
    ancestors: tuple[int, ...] = ()
    if regions is not None:
        ranges, ancestors = coverage(regions)
        for i, (low, high) in enumerate(ranges):
            given["low", i], given["high", i] = low, high
        for i, ancestor in enumerate(ancestors):
            given["ancestor", i] = ancestor
        for c in FROM_ABOVE:
            given["above", c.value] = c.value
    if category is not None:
        given["category"] = category
    if catalogue_item_id is not None:
        given["catalogue"] = catalogue_item_id
    if live_at is not None:
        given["live"] = live_at
    if tag is not None:
        given["farming"] = Category.FARMING.value
        given["tag"] = f"%{FarmingTag(tag).value}%"
    if cursor is not None:
        given["stamp"], given["pk"] = cursor[1], cursor[2]
    by_name = author_fields is not None and author_fields <= AUTHOR_BY_NAME
    # Not on SQLite: the same media as JSON in this statement (json_each joined to media
    # by primary key, json_group_array of json_array) cost 5-10 µs more per village page
    # than the loaders' `SELECT * … IN (…)`, a bounded read on the loop's own thread.
    with_media = with_media and postgres
    statement, names, absent = page_statement(
        postgres,
        small,
        None if regions is None else len(ranges),
        len(ancestors),
        category is not None,
        catalogue_item_id is not None,
        live_at is not None,
        tag is not None,
        cursor is not None,
        with_comment_count,
        with_author,
        by_name,
        with_media,
        columns,
    )
    values = [given[name] for name in names]
    rows = await query_rows(Disclosure, statement, values, inline=small, absent=absent, conn=conn)
    if with_media:
        media, new = row_class(Media, True), object.__new__
        for row in rows:
            records = row.__dict__.pop("attached_media") or ()
            row.attached_rows = found = []
            for record in records:
                if record is None:
                    continue
                one = new(media)
                one.__dict__.update(zip(record.keys(), record.values()))  # noqa: B905 (a keyword to zip costs 0.16 µs)
                found.append(one)
    if with_author:
        attach_authors(rows, by_name, postgres)
    return rows


def attach_authors(rows: list[Any], by_name: bool, postgres: bool) -> None:
    """Each row's author (`author_row`) from the columns the page's statement joined;
    one object per author on the page (most pages have a few)."""
    every_user_column = user_columns()
    author_columns = ("id", "name") if by_name else every_user_column
    absent = frozenset(every_user_column).difference(author_columns)
    users, new = partial_row_class(User, absent, postgres), object.__new__
    aliases = tuple(AUTHOR + c for c in author_columns)
    made: dict[int, Any] = {}
    for row in rows:
        values = row.__dict__
        # by name (nearly every page): two pops, not a comprehension per row (1 % of a page)
        found = [values.pop(alias) for alias in aliases] if not by_name else None
        if by_name:
            found_id, found_name = values.pop(ID_ALIAS), values.pop(NAME_ALIAS)
        if row.author_id is None:
            row.author_row = None
            continue
        author = made.get(row.author_id)
        if author is None:
            author = made[row.author_id] = new(users)
            if found is None:
                author.__dict__.update(id=found_id, name=found_name)
            else:
                author.__dict__.update(zip(author_columns, found))  # noqa: B905 (a keyword to zip costs 0.16 µs)
        row.author_row = author


async def changes(
    regions: list[Region] | None,
    category: str | None,
    catalogue_item_id: int | None,
    tag: str | None,
    since: datetime,
    after: str | None,
    size: int,
) -> Any:
    """Delta sync (api.sync): published and retracted items changed at or after `since`,
    oldest change first, keyed on (updated_at, id). Expired notices stay in (their
    `expiresAt` tells the client to drop them), and a retraction arrives as the item with
    status RETRACTED."""
    qs = Disclosure.filter(published_at__isnull=False, updated_at__gte=since)
    if regions is not None:
        qs = qs.filter(region_filter(regions))
    if category is not None:
        qs = qs.filter(category=category)
    if catalogue_item_id is not None:
        qs = qs.filter(catalogue_item_id=catalogue_item_id)
    if tag is not None:
        qs = qs.filter(tag_filter(tag))
    cursor = parse_change_cursor(after)
    if cursor is not None:
        qs = qs.filter(changed_after(cursor))
    rows = await fetch_rows(qs.order_by("updated_at", "id").limit(size + 1))
    return change_page(rows, size)


async def ranked_rows(
    qs: QuerySet, wanted: list[str], cursor: tuple[int, datetime, int] | None, limit: int
) -> tuple[list[Any], dict[int, int]]:
    """Up to `limit` search hits that `qs` keeps, best first. Expired items stay in the term
    index: a page they thin out reads on past them (a few rounds at most), so that
    `hasNextPage` stays true while hits remain."""
    rows: list[Any] = []
    buckets: dict[int, int] = {}
    for _ in range(MAX_SEARCH_ROUNDS):
        want = limit - len(rows)
        ranked = await search.ranked_ids(wanted, cursor, want)
        found = await fetch_rows(
            qs.filter(status=Status.PUBLISHED, id__in=[pk for _, pk in ranked])
        )
        by_id = {row.id: row for row in found}
        rows += [by_id[pk] for _, pk in ranked if pk in by_id]
        buckets.update({pk: bucket for bucket, pk in ranked})
        if len(ranked) < want or len(rows) >= limit:
            break
        bucket, pk = ranked[-1]
        stamp = await Disclosure.filter(id=pk).first().values_list("published_at", flat=True)
        if stamp is None:
            break
        cursor = (bucket, cast(datetime, stamp), pk)
    return rows, buckets


MAX_SEARCH_ROUNDS = 5


async def feed(
    *,
    regions: list[Region] | None,
    category: Any = None,
    catalogue_item_id: int | None = None,
    text: str | None = None,
    updated_since: datetime | None = None,
    first: int | None = None,
    after: str | None = None,
    with_comment_count: bool = False,
    with_author: bool = False,
    now: datetime | None = None,
    tag: Any = None,
    columns: frozenset[str] | None = None,
    author_fields: frozenset[str] | None = None,
    with_media: bool = False,
) -> Any:
    """`now`: expired notices and farming information leave the feed from then (None: an
    archive that keeps them). `columns`: the disclosure columns the caller reads (None: all);
    the short cuts may then leave the others out; `author_fields`: the same for the author
    (its GraphQL fields, see `newest_rows`)."""
    size = page_size(first)
    category = getattr(category, "value", category)
    tag = getattr(tag, "value", tag)
    if regions is not None and not regions:  # following nothing
        return build_connection([], size)
    if updated_since is not None and not text:
        return await changes(regions, category, catalogue_item_id, tag, updated_since, after, size)
    cursor = parse_cursor(after)
    if not text and shortcuts():
        rows = await newest_rows(
            regions,
            category,
            catalogue_item_id,
            cursor,
            size + 1,
            with_comment_count,
            with_author,
            now,
            tag,
            columns,
            author_fields,
            with_media,
        )
        return build_connection(rows, size, cursor=page_cursor(0))

    # Published and retracted items, exactly those with a publication time: an indexed test.
    qs = Disclosure.filter(published_at__isnull=False)
    if regions is not None:
        qs = qs.filter(region_filter(regions))
    if category is not None:
        qs = qs.filter(category=category)
    if catalogue_item_id is not None:
        qs = qs.filter(catalogue_item_id=catalogue_item_id)
    if updated_since is not None:
        qs = qs.filter(updated_at__gt=updated_since)
    if now is not None:
        qs = qs.filter(live(now))
    if tag is not None:
        qs = qs.filter(tag_filter(tag))
    if not text:  # what newest_rows writes by hand
        page = await newest(qs, cursor, size + 1)
        return build_connection(page, size, cursor=page_cursor(0))
    wanted = search.query_terms(text)
    if not wanted:
        raise BadUserInput("SEARCH_TOO_SHORT")
    narrowed = category is not None or catalogue_item_id is not None or tag is not None
    if regions is None and not narrowed and not updated_since:
        # The term index is ordered by publication time: one short range scan per bucket.
        rows, buckets = await ranked_rows(qs, wanted, cursor, size + 1)
    else:  # narrowed by region or category: filter the disclosures, probe the terms
        in_title = Subquery(search.holding(wanted, title_only=True).values("disclosure_id"))
        rows, buckets = [], {}
        if cursor is None or cursor[0] == 0:
            rows = await newest(qs.filter(id__in=in_title), cursor, size + 1)
            buckets.update({r.id: 0 for r in rows})
            cursor = None
        if len(rows) <= size:
            anywhere = Subquery(search.holding(wanted, title_only=False).values("disclosure_id"))
            rest = qs.filter(id__in=anywhere).exclude(id__in=in_title)
            more = await newest(rest, cursor, size + 1 - len(rows))
            buckets.update({r.id: 1 for r in more})
            rows += more
    return build_connection(rows, size, key=lambda d: cursor_key(buckets[d.id])(d))
