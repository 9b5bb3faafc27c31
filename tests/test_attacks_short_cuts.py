"""Attacks on the short cuts of the feed (kept statements, cursors, global ids, served
stamps, node_fields, by-class type checks, partial media rows): a hostile client, a curious
admin and someone with database access try to get another answer than the plain path's
(graphql-core without short cuts), a restricted original, an internal error or unbounded
memory. Each answer of the short cuts is compared with the plain path's."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

import api.relay
import api.rows
import media.urls
from api.disclosures import feed
from api.execution import execute_options
from api.relay import decode_cursor, encode_cursor, from_global_id, to_global_id
from models.disclosures import Disclosure
from models.kept import Kept
from models.media import Media
from tests.client import error_codes
from tests.test_disclosures import ADMIN, CLERK, VILLAGER, published
from tests.test_redaction import photo, redact

PAGE = """query %s($r: ID, $after: String, $first: Int%s) {
  disclosures(regionId: $r, first: $first, after: $after) {
    edges { cursor node { id %s } } pageInfo { endCursor hasNextPage } } } %s"""


MUST_READ = "query %s%s { myMustReadNotices { edges { node { id %s } } } } %s"


def page(name: str, selection: str, template: str = PAGE) -> str:
    selection, _, fragment = selection.partition(" | ")
    flag = ", $u: Boolean = true" if "$u" in selection else ""
    if template is MUST_READ and flag:
        flag = "($u: Boolean = true)"
    return template % (name, flag, selection, fragment)


NARROW = {  # attachment selections that read few media columns (api.media.types)
    "Url": "attachments { url }",
    "Alias": "attachments { a: url b: mediumUrl c: thumbnailUrl }",
    "Twice": "x: attachments { id } y: attachments { url restricted }",
    "Frag": "attachments { ...M } | fragment M on Media { url redacted }",
    "Node": "attachments { ... on Node { id } ... on Media { url } }",
    "Type": "attachments { __typename }",
    "Region": "attachments { region { name } }",
    "Skip": "attachments { url @include(if: $u) sha256 @skip(if: $u) }",
    "Alike": "attachments { url: sha256 }",  # an alias named like another field
}


async def restricted_page(client, gql, demo, **extra):
    """A published item whose attachments are a restricted original, its redacted copy and
    a public photo; the clerk's token, the item's id, the original's id."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    first, second = await photo(client, clerk, (800, 600)), await photo(client, clerk, (640, 480))
    item = await published(gql, clerk, village, attachmentIds=[first["id"], second["id"]], **extra)
    copy = (await redact(gql, clerk, first["id"]))["media"]
    ids = [int(from_global_id(m["id"])[1]) for m in (first, copy, second)]
    await Disclosure.filter(id=int(from_global_id(item["id"])[1])).update(attachment_ids=ids)
    return clerk, item["id"], first["id"], {"r": to_global_id("Region", village.id)}


@pytest.fixture(autouse=True)
def frozen(monkeypatch) -> None:
    """Signed URLs carry their expiry: one clock for the answers compared."""
    monkeypatch.setattr(media.urls, "time", SimpleNamespace(time=lambda: 1_900_000_000.0))


def plain(app, monkeypatch) -> None:
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)


async def test_narrow_attachment_selections_never_leak_an_original_nor_fail(
    app, client, gql, demo, monkeypatch
):
    clerk, item, original, variables = await restricted_page(client, gql, demo)
    tokens = {"anon": None, VILLAGER: await gql.login(VILLAGER), CLERK: clerk}

    async def answers(tag: str) -> dict:
        out = {}
        for role, token in tokens.items():
            for name, sel in NARROW.items():
                out[role, name] = await gql(page(tag + name, sel), variables, token=token)
        return out

    fast = await answers("Fast")
    for (role, name), body in fast.items():
        assert "errors" not in body, (role, name, body)  # no ColumnNotRead, no INTERNAL
        [node] = [
            e["node"] for e in body["data"]["disclosures"]["edges"] if e["node"]["id"] == item
        ]
        if role != CLERK:  # the original: never a signed URL
            assert "sig=" not in str(node), (role, name)
        if name == "Url":
            shown = [m["url"] for m in node["attachments"]]
            if role == CLERK:
                assert "sig=" in shown[0] and "sig=" not in shown[1], shown
            else:
                assert shown[0] is None and shown[1] and shown[2], (role, shown)
    plain(app, monkeypatch)
    slow = await answers("Plain")  # other texts: not the response cache's fast answers
    assert slow == fast


async def test_must_read_notices_with_a_narrow_selection_answer_as_the_plain_path(
    app, client, gql, demo, monkeypatch
):
    """myMustReadNotices reads whole disclosures, then partial media (both backends)."""
    await restricted_page(client, gql, demo, category="NOTICE", mustRead=True)
    villager = await gql.login(VILLAGER)
    fast = {n: await gql(page("F" + n, s, MUST_READ), token=villager) for n, s in NARROW.items()}
    edges = fast["Url"]["data"]["myMustReadNotices"]["edges"]
    assert edges and [m["url"] for m in edges[0]["node"]["attachments"]][0] is None
    assert all("errors" not in body for body in fast.values()), fast
    plain(app, monkeypatch)
    slow = {n: await gql(page("P" + n, s, MUST_READ), token=villager) for n, s in NARROW.items()}
    assert slow == fast


async def test_media_by_node_id_keeps_the_original_from_villagers(client, gql, demo):
    clerk, _, original, _ = await restricted_page(client, gql, demo)
    query = "query($id: ID!) { node(id: $id) { __typename ... on Media { url restricted } } }"
    for token in (None, await gql.login(VILLAGER)):
        body = await gql(query, {"id": original}, token=token)  # as a missing id answers
        assert body["data"]["node"] is None and error_codes(body) == ["NOT_FOUND"]
    staff = (await gql.data(query, {"id": original}, token=clerk))["node"]
    assert staff["restricted"] is True and "sig=" in staff["url"]


async def test_one_document_with_other_variables_reads_the_columns_each_needs(
    app, client, gql, demo, monkeypatch
):
    """node_fields is kept per field node: directives whose variables change between two
    requests of the same document must still find their columns (no ColumnNotRead)."""
    clerk, item, _, variables = await restricted_page(client, gql, demo)
    query = page("Vars", "title @skip(if: $u) " + NARROW["Skip"])
    fast = [await gql(query, {**variables, "u": u}, token=clerk) for u in (True, False, True)]
    assert all("errors" not in body for body in fast), fast
    node = fast[1]["data"]["disclosures"]["edges"][0]["node"]
    assert "title" in node and "sha256" in node["attachments"][0]
    assert (
        fast[0] == fast[2]
        and "url" in fast[0]["data"]["disclosures"]["edges"][0]["node"]["attachments"][0]
    )
    plain(app, monkeypatch)
    assert [
        await gql(query, {**variables, "u": u}, token=clerk) for u in (True, False, True)
    ] == fast


async def test_cursors_replayed_elsewhere_or_rewritten_answer_as_the_plain_path(
    app, gql, demo, monkeypatch
):
    clerk = await gql.login(CLERK)
    for i in range(4):
        await published(gql, clerk, demo.villages[0], title=f"第{i}条")
    await published(gql, await gql.login(ADMIN), demo.villages[1], title="别村")
    here = {"r": to_global_id("Region", demo.villages[0].id), "first": 2}
    there = {"r": to_global_id("Region", demo.villages[1].id), "first": 2}
    query = page("Cursor", "title")
    first = (await gql.data(query, here, token=clerk))["disclosures"]
    cursor = first["pageInfo"]["endCursor"]
    bucket, stamp, pk = decode_cursor(cursor).split("|")
    shifted = datetime.fromisoformat(stamp).astimezone(datetime.now().astimezone().tzinfo)
    tries = [
        {**here, "after": cursor},
        {**there, "after": cursor},  # another feed's cursor
        {**here, "after": encode_cursor(f"1|{stamp}|{pk}")},  # a search bucket
        {**here, "after": encode_cursor(f"0|{shifted.isoformat()}|{pk}")},  # same instant
        {**here, "after": encode_cursor(f"0|{stamp}|{int(pk) + 10**6}")},
        {**here, "after": encode_cursor(f"0|{stamp.replace('+00:00', '')}|{pk}")},  # naive
    ]
    fast = [await gql(query, v, token=clerk) for v in tries]
    assert fast[0]["data"]["disclosures"]["edges"] != first["edges"]
    assert fast[3] == fast[0] and error_codes(fast[5]) == ["BAD_USER_INPUT"]
    plain(app, monkeypatch)
    assert [await gql(query, v, token=clerk) for v in tries] == fast


async def test_a_time_changed_in_the_database_is_never_served_from_a_kept_one(
    app, gql, demo, settings, monkeypatch
):
    """Someone with database access moves an item's publication time: the kept cursor,
    served stamp and global id must follow the row, not what was kept."""
    clerk = await gql.login(CLERK)
    item = await published(gql, clerk, demo.villages[0], title="改时间")
    pk = int(from_global_id(item["id"])[1])
    variables = {"r": to_global_id("Region", demo.villages[0].id), "first": 5}
    query = page("Moved", "publishedAt")
    before = await gql.data(query, variables, token=clerk)
    moved = datetime(2031, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    await Disclosure.filter(id=pk).update(published_at=moved)
    after = await gql.data(query, variables, token=clerk)
    [edge] = [e for e in after["disclosures"]["edges"] if e["node"]["id"] == item["id"]]
    assert edge["node"]["publishedAt"] == moved.isoformat() and after != before
    assert decode_cursor(edge["cursor"]) == f"0|{moved.isoformat()}|{pk}"
    plain(app, monkeypatch)
    assert await gql.data(query, variables, token=clerk) == after


async def test_kept_answers_stay_bounded_and_right_when_their_bounds_are_hit(
    app, client, gql, demo, monkeypatch
):
    """Tiny bounds: every memo is cleared again and again while answers stay the plain
    path's; two documents alternating through a one-entry node_fields never mix up."""
    for module, name in ((api.relay, "_NODE_FIELDS"), (api.relay, "_GLOBAL_IDS")):
        monkeypatch.setattr(module, name, Kept(1))
    monkeypatch.setattr(feed, "_CURSORS", Kept(2))
    monkeypatch.setattr(api.rows, "_SERVED", Kept(2))
    clerk, _, _, variables = await restricted_page(client, gql, demo)
    a = page("A", "createdAt attachments { url }")
    b = page("B", "updatedAt attachments { sha256 mimeType }")
    fast = [await gql(q, variables, token=clerk) for q in (a, b, a, b)]
    assert all("errors" not in body for body in fast), fast
    assert fast[0] == fast[2] and fast[1] == fast[3]
    assert len(api.relay._NODE_FIELDS) <= 1 and len(api.relay._GLOBAL_IDS) <= 1
    assert len(feed._CURSORS) <= 2 and len(api.rows._SERVED) <= 2
    assert feed.page_statement.cache_info().currsize <= 512
    assert feed.covered.cache_info().currsize <= 1024
    plain(app, monkeypatch)
    assert [await gql(q, variables, token=clerk) for q in (a, b, a, b)] == fast


async def test_types_of_several_kinds_in_one_document_answer_as_the_plain_path(
    app, client, gql, demo, monkeypatch
):
    """The by-class type check is kept per compiled completion: node(id:) of several
    types, next to a feed whose nodes share one class, answers as graphql-core does."""
    clerk, item, original, variables = await restricted_page(client, gql, demo)
    admin = await gql.login(ADMIN)
    region = variables["r"]
    query = """query Kinds($a: ID!, $b: ID!, $c: ID!, $r: ID) {
      a: node(id: $a) { __typename id } b: node(id: $b) { __typename id }
      c: node(id: $c) { __typename id ... on Media { url } ... on Region { name } }
      disclosures(regionId: $r) { edges { node { __typename region { __typename id }
        author { __typename id } attachments { __typename id region { __typename } } } } } }"""
    kinds = {"a": item, "b": region, "c": original, "r": region}
    swapped = {"a": original, "b": item, "c": region, "r": region}
    fast = [await gql(query, v, token=t) for v in (kinds, swapped) for t in (clerk, admin)]
    assert all("errors" not in body for body in fast), fast
    assert [fast[0]["data"][k]["__typename"] for k in "abc"] == ["Disclosure", "Region", "Media"]
    assert [fast[2]["data"][k]["__typename"] for k in "abc"] == ["Media", "Disclosure", "Region"]
    plain(app, monkeypatch)
    assert [await gql(query, v, token=t) for v in (kinds, swapped) for t in (clerk, admin)] == fast


async def test_a_bad_value_deep_in_a_page_errs_at_graphql_cores_path(
    app, client, gql, demo, settings, monkeypatch
):
    """Someone with database access stores a width no GraphQL Int holds (SQLite keeps it):
    the error, its path and the nulls around it are graphql-core's."""
    if not settings.is_sqlite:
        return  # PostgreSQL's int4 cannot hold it
    clerk, item, original, variables = await restricted_page(client, gql, demo)
    await Media.filter(id=int(from_global_id(original)[1])).update(width=2**40)
    query = page("Deep", "attachments { id width }")
    fast = await gql(query, variables, token=clerk)
    [error] = fast["errors"]
    assert error["path"][:2] == ["disclosures", "edges"]
    assert error["path"][-3:] == ["attachments", 0, "width"]
    plain(app, monkeypatch)
    assert await gql(query, variables, token=clerk) == fast


OTHER_FEEDS = [  # the search and delta-sync pages, and a feed field merged from a fragment
    """query S($r: ID) { disclosures(regionId: $r, search: "修路") { edges { node { id
      attachments { url } } } } }""",
    """query D($r: ID) { disclosures(regionId: $r, updatedSince: "2000-01-01T00:00:00+00:00") {
      edges { node { id attachments { url } } } } }""",
    """query M($r: ID) { disclosures(regionId: $r) { edges { node { id } } } ...F }
    fragment F on Query { disclosures(regionId: $r) { edges { node { attachments { url } } } } }""",
]


async def test_other_feed_pages_with_a_narrow_selection_answer_as_the_plain_path(
    app, client, gql, demo, monkeypatch
):
    clerk, item, _, variables = await restricted_page(client, gql, demo)
    tokens = [clerk, await gql.login(VILLAGER)]
    fast = [await gql(q, variables, token=t) for q in OTHER_FEEDS for t in tokens]
    for body in fast:
        assert "errors" not in body, body
        nodes = {e["node"]["id"]: e["node"] for e in body["data"]["disclosures"]["edges"]}
        assert [m["url"] is None for m in nodes[item]["attachments"]][1:] == [False, False]
    assert all("sig=" not in str(body) for body in fast[1::2])  # the villager's
    plain(app, monkeypatch)
    assert [await gql(q, variables, token=t) for q in OTHER_FEEDS for t in tokens] == fast


async def test_the_feed_indexes_carry_expires_at_and_the_old_ones_are_gone(app, settings):
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    if settings.is_sqlite:
        names = [
            r["name"] for r in await conn.execute_query_dict("PRAGMA index_list('disclosure')")
        ]
        found = set()
        for name in names:
            info = await conn.execute_query_dict(f"PRAGMA index_info('{name}')")
            found.add(tuple(r["name"] for r in sorted(info, key=lambda r: r["seqno"])))
    else:
        rows = await conn.execute_query_dict(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'disclosure'"
        )
        found = {
            tuple(
                c.strip().strip('"') for c in r["indexdef"].split("(", 1)[1].rstrip(")").split(",")
            )
            for r in rows
        }
    assert ("region_path", "published_at", "expires_at") in found, found
    assert ("category", "region_id", "published_at", "expires_at") in found, found
    assert ("region_path", "published_at") not in found
    assert ("category", "region_id", "published_at") not in found
