"""Chinese search without a tokenizer: a bigram index that finds two-character words.

Every two-character window of a CJK run is a term (低保, 补助, 修路); Latin words and
numbers are terms as a whole. A query matches a disclosure holding all of its terms, so
the lookup is an indexed `term IN (...)` on both SQLite and PostgreSQL, never a scan.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import cast

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from models.disclosures import SearchTerm

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[0-9a-z]+")
MAX_QUERY_TERMS = 16
TERM_MAX = 24


def terms(text: str) -> set[str]:
    text = unicodedata.normalize("NFKC", text or "").lower()
    found: set[str] = set()
    for run in CJK.findall(text):
        if len(run) == 1:
            found.add(run)
        found.update(run[i : i + 2] for i in range(len(run) - 1))
    found.update(w[:TERM_MAX] for w in WORD.findall(text))
    return found


def query_terms(query: str) -> list[str]:
    """A lone Chinese character is too common to search for: at least a two-character word."""
    found = {t for t in terms(query) if len(t) > 1 or not CJK.match(t)}
    return sorted(found)[:MAX_QUERY_TERMS]


async def index(
    disclosure_id: int, title: str, body: str, tables: list[dict], published_at: datetime
) -> None:
    """Replace a disclosure's terms with those of its current text."""
    title_terms = terms(title)
    table_text = " ".join(
        str(cell) for table in tables for row in table.get("rows", []) for cell in row
    )
    body_terms = (
        terms(body) | terms(table_text) | terms(" ".join(t.get("title", "") for t in tables))
    )
    await SearchTerm.filter(disclosure_id=disclosure_id).delete()
    rows = [
        SearchTerm(term=t, disclosure_id=disclosure_id, in_title=True, published_at=published_at)
        for t in title_terms
    ]
    rows += [
        SearchTerm(term=t, disclosure_id=disclosure_id, in_title=False, published_at=published_at)
        for t in body_terms - title_terms
    ]
    if rows:
        await SearchTerm.bulk_create(rows, batch_size=500)


async def unindex(disclosure_id: int) -> None:
    await SearchTerm.filter(disclosure_id=disclosure_id).delete()


def holding(wanted: list[str], *, title_only: bool) -> QuerySet:
    """Term rows of the first term whose disclosure holds every other term too.

    A disclosure has one row per term: in its title or, if not there, in its body.
    """
    first, *others = wanted
    qs = SearchTerm.filter(term=first)
    if title_only:
        qs = qs.filter(in_title=True)
    for term in others:
        sub = SearchTerm.filter(term=term)
        if title_only:
            sub = sub.filter(in_title=True)
        qs = qs.filter(disclosure_id__in=Subquery(sub.values("disclosure_id")))
    return qs


async def ranked_ids(
    wanted: list[str], cursor: tuple[int, datetime, int] | None, limit: int
) -> list[tuple[int, int]]:
    """(bucket, disclosure id) newest first: every term in the title first (bucket 0),
    then the rest (bucket 1). Each bucket is an ordered range scan of the term index."""
    found: list[tuple[int, int]] = []
    for bucket in (0, 1):
        if cursor is not None and cursor[0] > bucket:
            continue
        qs = holding(wanted, title_only=bucket == 0)
        if bucket == 1:
            if len(wanted) == 1:
                qs = qs.filter(in_title=False)  # title rows were bucket 0
            else:
                title_ids = holding(wanted, title_only=True).values("disclosure_id")
                qs = qs.exclude(disclosure_id__in=Subquery(title_ids))
        if cursor is not None and cursor[0] == bucket:
            qs = qs.filter(
                Q(published_at__lt=cursor[1])
                | Q(published_at=cursor[1], disclosure_id__lt=cursor[2])
            )
        rows = await (
            qs.order_by("-published_at", "-disclosure_id")
            .limit(limit - len(found))
            .values_list("disclosure_id", flat=True)
        )
        found += [(bucket, cast(int, pk)) for pk in rows]
        if len(found) >= limit:
            break
    return found
