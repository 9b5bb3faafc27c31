"""Chinese search without a tokenizer: a bigram index that finds two-character words.

Every two-character window of a CJK run is a term (低保, 补助, 修路); Latin words and
numbers are terms as a whole. A query matches a disclosure holding all of its terms, so
the lookup is an indexed `term IN (...)` on both SQLite and PostgreSQL, never a scan.
"""

from __future__ import annotations

import re
import unicodedata

from tortoise.functions import Count

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


async def index(disclosure_id: int, title: str, body: str, tables: list[dict]) -> None:
    """Replace a disclosure's terms with those of its current text."""
    title_terms = terms(title)
    table_text = " ".join(
        str(cell) for table in tables for row in table.get("rows", []) for cell in row
    )
    body_terms = (
        terms(body) | terms(table_text) | terms(" ".join(t.get("title", "") for t in tables))
    )
    await SearchTerm.filter(disclosure_id=disclosure_id).delete()
    rows = [SearchTerm(term=t, disclosure_id=disclosure_id, in_title=True) for t in title_terms]
    rows += [
        SearchTerm(term=t, disclosure_id=disclosure_id, in_title=False)
        for t in body_terms - title_terms
    ]
    if rows:
        await SearchTerm.bulk_create(rows, batch_size=500)


async def unindex(disclosure_id: int) -> None:
    await SearchTerm.filter(disclosure_id=disclosure_id).delete()


def matching(wanted: list[str], *, title_only: bool = False):
    """A subquery of the ids of disclosures holding every term (in the title, if asked)."""
    qs = SearchTerm.filter(term__in=wanted)
    if title_only:
        qs = qs.filter(in_title=True)
    if len(wanted) == 1:
        return qs.values_list("disclosure_id", flat=True)
    return (
        qs.group_by("disclosure_id")
        .annotate(hits=Count("term", distinct=True))
        .filter(hits=len(wanted))
        .values_list("disclosure_id", flat=True)
    )
