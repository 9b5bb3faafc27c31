"""A feed page reads only the columns its fields need (api.disclosures.types.FIELD_COLUMNS):
each field asked alone, by every role, answers as it does with every column read (the short
cuts off). A field whose resolver reads a column its entry does not name would fail here."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from tortoise import Tortoise

import api.relay
import api.rows
import media.urls
from api.compat import db_columns
from api.execution import execute_options
from api.media.types import FIELD_COLUMNS, media_columns
from api.relay import from_global_id, to_global_id
from api.schema import schema as SCHEMA
from models.disclosures import Disclosure
from models.kept import Kept
from models.media import Media
from tests import media_files
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    published,
)
from tests.test_media import uploaded

ROLES = (None, VILLAGER, CLERK, SUPERVISOR, OFFICIAL, INSPECTOR, ADMIN)


def selection(field) -> str:
    """The field with the least that can be asked below it."""
    from graphql import get_named_type, is_leaf_type

    named = get_named_type(field.type)
    if is_leaf_type(named):
        return ""
    if "edges" in getattr(named, "fields", {}):
        return " { edges { node { __typename } } }"
    return " { __typename }"


def single_field_queries() -> list[tuple[str, str]]:
    fields = SCHEMA.graphql_schema.type_map["Disclosure"].fields
    out = []
    for name, field in sorted(fields.items()):
        if any(arg.type.__class__.__name__ == "GraphQLNonNull" for arg in field.args.values()):
            continue  # a required argument: not a field a list page asks plainly
        out.append(
            (
                name,
                "query($r: ID) { disclosures(regionId: $r, first: 5) { edges { node { "
                f"{name}{selection(field)} }} }} }} }}",
            )
        )
    return out


async def test_each_field_alone_answers_alike_for_every_role(app, gql, demo, monkeypatch):
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    await published(gql, clerk, village, title="修路公告", body="路面硬化，预算十二万元。")
    admin = await gql.login(ADMIN)
    await published(gql, admin, demo.county, category="NOTICE", title="防火", mustRead=True)
    tokens = {role: (await gql.login(role) if role else None) for role in ROLES}
    variables = {"r": to_global_id("Region", village.id)}
    queries = single_field_queries()
    assert len(queries) > 30

    async def answers() -> dict:
        out = {}
        for role, token in tokens.items():
            for name, query in queries:
                out[(role, name)] = await gql(query, variables, token=token)
        return out

    fast = await answers()
    for key, body in fast.items():
        codes = [e["extensions"]["code"] for e in body.get("errors", [])]
        assert "INTERNAL_SERVER_ERROR" not in codes, (key, body)
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)
    slow = await answers()
    for key in fast:
        assert fast[key] == slow[key], key


STAMPS = """query($r: ID) { disclosures(regionId: $r, first: 10) { edges { node {
  id publishedAt firstPublishedAt createdAt updatedAt expiresAt } } } }"""


async def test_times_answer_alike_whether_sqlites_text_is_served_or_parsed(
    app, gql, demo, settings, monkeypatch
):
    """SQLite's text of a datetime column is served as it stands where it is tortoise's
    form of a UTC time (api.rows.iso_stamp): with and without microseconds, the same
    answer as parsing it (the short cut off) and as graphql-core over model instances."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    ids = [int(from_global_id((await published(gql, clerk, village))["id"])[1]) for _ in range(3)]
    stamps = [
        datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),  # stored without a fraction
        datetime(2026, 3, 4, 5, 6, 8, 120000, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 6, 9, 1, tzinfo=UTC),
    ]
    for pk, stamp in zip(ids, stamps, strict=True):
        await Disclosure.filter(id=pk).update(published_at=stamp, first_published_at=stamp)
    variables = {"r": to_global_id("Region", village.id)}
    served: list[str] = []
    matches = api.rows.utc_text

    def counted(text: str) -> Any:
        found = matches(text)
        if found is not None:
            served.append(text)
        return found

    monkeypatch.setattr(api.rows, "utc_text", counted)
    monkeypatch.setattr(api.rows, "_SERVED", Kept(16_384))  # each text matched once, then kept
    fast = await gql.data(STAMPS, variables, token=clerk)  # signed in: no response cache
    times = {e["node"]["publishedAt"] for e in fast["disclosures"]["edges"]}
    assert {s.isoformat() for s in stamps} <= times
    assert "2026-03-04T05:06:07+00:00" in times  # no ".000000"
    if settings.is_sqlite and settings.fast_paths:
        assert "2026-03-04 05:06:07+00:00" in served and len(served) == len(set(served))
        assert set(served) == set(api.rows._SERVED)
        assert await gql.data(STAMPS, variables, token=clerk) == fast  # from the kept texts
        assert len(served) == len(set(served))  # none matched again
    monkeypatch.setattr(api.rows, "utc_text", lambda text: None)
    monkeypatch.setattr(api.rows, "_SERVED", Kept(16_384))
    assert await gql.data(STAMPS, variables, token=clerk) == fast  # every text parsed
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)
    assert await gql.data(STAMPS, variables, token=clerk) == fast  # graphql-core, models


async def test_texts_of_other_forms_are_parsed_as_before(app, gql, demo, settings, monkeypatch):
    """Texts tortoise does not write (a script's): left to the parse, same answers."""
    if not settings.is_sqlite:
        return
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    texts = [
        "2026-03-04 05:06:07.000000+00:00",  # isoformat() leaves the fraction out
        "2024-02-29 05:06:07+00:00",  # a date the pattern leaves to the parse
        "2026-03-04 13:06:07+08:00",
        "2026-03-04T05:06:07+00:00",
    ]
    conn = Tortoise.get_connection("default")
    for text in texts:
        pk = from_global_id((await published(gql, clerk, village))["id"])[1]
        await conn.execute_query(
            'UPDATE "disclosure" SET "first_published_at" = ? WHERE "id" = ?', [text, int(pk)]
        )
    variables = {"r": to_global_id("Region", village.id)}
    fast = await gql.data(STAMPS, variables, token=clerk)
    if settings.fast_paths:  # rows: the text parsed (models convert to UTC)
        found = {e["node"]["firstPublishedAt"] for e in fast["disclosures"]["edges"]}
        assert {datetime.fromisoformat(t).isoformat() for t in texts} <= found
    monkeypatch.setattr(api.rows, "utc_text", lambda text: None)
    monkeypatch.setattr(api.rows, "_SERVED", Kept(16_384))
    assert await gql.data(STAMPS, variables, token=clerk) == fast


MEDIA_FEED = """query($r: ID) { disclosures(regionId: $r, first: 5) { edges { node {
  id attachments { id url thumbnailUrl mediumUrl redacted restricted } } } } }"""


async def test_restricted_attachments_answer_as_before_for_every_role(
    app, client, gql, demo, monkeypatch
):
    """A feed's media URLs are resolved without a ResolveInfo (api.compiled.root_only);
    a restricted original still needs the viewer: signed for staff, null for others."""
    clerk = await gql.login(CLERK)
    photos = [
        (await uploaded(client, clerk, media_files.phone_jpeg(orientation=o)))["media"]["id"]
        for o in (1, 6)
    ]
    village = demo.villages[0]
    mine = (await published(gql, clerk, village, attachmentIds=photos))["id"]
    now = time.time()
    monkeypatch.setattr(media.urls, "time", SimpleNamespace(time=lambda: now))
    tokens = {role: (await gql.login(role) if role else None) for role in ROLES}
    variables = {"r": to_global_id("Region", village.id)}

    async def answers(query: str = MEDIA_FEED) -> dict:
        out = {}
        for role, token in tokens.items():
            body = await gql.data(query, variables, token=token)
            [node] = [e["node"] for e in body["disclosures"]["edges"] if e["node"]["id"] == mine]
            out[role] = node["attachments"]
        return out

    public = await answers()
    for attachments in public.values():
        assert [a["restricted"] for a in attachments] == [False, False]
        assert all(a["thumbnailUrl"].startswith("/media/") for a in attachments)
        assert not any("sig=" in a["url"] for a in attachments)
    await Media.filter(id=int(from_global_id(photos[1])[1])).update(restricted=True)
    # another text: the anonymous answer above is cached, and this write bumps no version
    query = MEDIA_FEED.replace("query(", "query Restricted(")
    fast = await answers(query)
    for role, (plain, restricted) in fast.items():
        assert plain == public[role][0] and restricted["restricted"] is True
        urls = [restricted[k] for k in ("url", "thumbnailUrl", "mediumUrl")]
        if role in (CLERK, SUPERVISOR, OFFICIAL):
            assert all("sig=" in url for url in urls), (role, urls)
        elif role in (None, VILLAGER):
            assert urls == [None, None, None], role
    # a page that shows thumbnails alone reads only the media columns those need
    narrow = MEDIA_FEED.replace("query(", "query Thumbnails(").replace(
        "id url thumbnailUrl mediumUrl redacted restricted", "thumbnailUrl"
    )
    thumbnails = await answers(narrow)
    assert thumbnails == {
        role: [{"thumbnailUrl": a["thumbnailUrl"]} for a in shown] for role, shown in fast.items()
    }
    del tokens[None]  # anonymous answers come from the response cache now
    fast.pop(None)
    thumbnails.pop(None)
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)
    assert await answers(query) == fast
    assert await answers(narrow) == thumbnails


def test_every_media_field_names_the_columns_it_reads() -> None:
    fields = SCHEMA.graphql_schema.type_map["Media"].fields
    assert set(FIELD_COLUMNS) - {"__typename"} == set(fields)
    columns = {column for column, _ in db_columns(Media)}
    assert {c for named in FIELD_COLUMNS.values() for c in named} <= columns
    assert media_columns({"thumbnailUrl"}) == frozenset(FIELD_COLUMNS["url"])
    assert media_columns({"__typename"}) == {"id"} and media_columns({"notAField"}) is None


async def test_attachments_that_name_no_media_or_repeat_answer_alike(
    app, gql, client, demo, monkeypatch
):
    """Someone with database access leaves an attachment id that names no media, and one
    twice: the feed (media read in its own statement on PostgreSQL, one primary-key lookup
    per id) answers as the plain path does: the media that exist, in attachment order."""
    from models.disclosures import Disclosure
    from tests import media_files
    from tests.test_media import uploaded

    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    photos = [
        (await uploaded(client, clerk, media_files.phone_jpeg(orientation=o)))["media"]["id"]
        for o in (1, 6)
    ]
    made = await published(gql, clerk, village, title="道路照片", attachmentIds=photos)
    row = await Disclosure.get(id=int(api.relay.from_global_id(made["id"])[1]))
    first, second = row.attachment_ids
    await Disclosure.filter(id=row.id).update(attachment_ids=[second, 2**31 - 1, first, second])
    query = """query($r: ID) { disclosures(regionId: $r, first: 5) { edges { node {
      id attachments { id thumbnailUrl } commentCount } } } }"""
    variables = {"r": to_global_id("Region", village.id)}
    fast = await gql(query, variables, token=clerk)
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)
    slow = await gql(query, variables, token=clerk)
    assert fast == slow and "errors" not in fast, fast
    [node] = [
        e["node"] for e in fast["data"]["disclosures"]["edges"] if e["node"]["id"] == made["id"]
    ]
    ids = [to_global_id("Media", pk) for pk in (second, first, second)]
    assert [a["id"] for a in node["attachments"]] == ids


ONE_MEDIA_FIELD = """query Media%s($r: ID) { disclosures(regionId: $r, first: 5) { edges { node {
  id attachments { %s } } } } }"""


async def test_each_media_field_alone_answers_as_with_every_column(
    app, client, gql, demo, monkeypatch
):
    """A page that shows one field of its attachments reads only that field's columns
    (api.media.types.FIELD_COLUMNS): each answers as it does with every column read, for
    a public photo, a redacted copy and its restricted original, staff and villager."""
    from tests.test_redaction import photo, redact

    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    first, second = await photo(client, clerk, (800, 600)), await photo(client, clerk, (640, 480))
    mine = (await published(gql, clerk, village, attachmentIds=[first["id"], second["id"]]))["id"]
    copy = (await redact(gql, clerk, first["id"]))["media"]
    pk = int(from_global_id(mine)[1])
    attached = [int(from_global_id(m["id"])[1]) for m in (first, second, copy)]
    await Disclosure.filter(id=pk).update(attachment_ids=attached)
    now = time.time()
    monkeypatch.setattr(media.urls, "time", SimpleNamespace(time=lambda: now))
    variables = {"r": to_global_id("Region", village.id)}
    fields = [f for f in FIELD_COLUMNS if f != "__typename"]
    for role in (CLERK, VILLAGER):
        token = await gql.login(role)  # signed in: no response cache
        every = ONE_MEDIA_FIELD % ("All", " ".join(selection_of(f) for f in fields))
        body = await gql.data(every, variables, token=token)
        [whole] = [e["node"] for e in body["disclosures"]["edges"] if e["node"]["id"] == mine]
        assert len(whole["attachments"]) == 3 and any(a["restricted"] for a in whole["attachments"])
        for field in fields:
            query = ONE_MEDIA_FIELD % (field[0].upper() + field[1:], selection_of(field))
            body = await gql.data(query, variables, token=token)
            [node] = [e["node"] for e in body["disclosures"]["edges"] if e["node"]["id"] == mine]
            assert node["attachments"] == [{field: a[field]} for a in whole["attachments"]], field


def selection_of(field: str) -> str:
    return "region { name }" if field == "region" else field
