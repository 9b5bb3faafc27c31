"""api.compat still recognises what the installed libraries build (else the short cuts would
quietly give way to graphql-core everywhere), and `fast_paths` off turns every one off."""

from __future__ import annotations

import logging
from functools import partial

import graphene
import pytest

import api.rows
from api import compat, sqlite_reads
from api.app import create_app
from api.execution import FastExecutionContext, execute_options
from api.relay import to_global_id
from api.rows import ColumnNotRead, Row, fetch_rows, rows_by_id
from api.schema import schema as SCHEMA
from api.settings import Settings, tortoise_config
from models.disclosures import Disclosure
from models.regions import Region, RegionKind, add_region
from tests.test_disclosures import CLERK, published


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """These tests turn the short cuts off themselves."""
    return settings.with_overrides(fast_paths=True)


class Plain(graphene.ObjectType):
    class Meta:
        interfaces = (graphene.relay.Node,)

    title = graphene.String(default_value="无题")
    when = graphene.DateTime()


class Query(graphene.ObjectType):
    plain = graphene.Field(Plain)


def test_the_installed_libraries_still_build_what_the_short_cuts_recognise() -> None:
    assert compat.executor_hooks_match()
    assert compat.READS_PLAINLY and compat.ENCODES_PLAINLY
    fields = graphene.Schema(query=Query).graphql_schema.type_map["Plain"].fields
    assert compat.attribute_read(fields["title"].resolve) == ("title", "无题")
    read, type_name, node = compat.global_id_read(fields["id"].resolve)
    assert read == ("id", None) and type_name is None and node is graphene.relay.Node
    assert compat.graphene_type(fields["when"].type) is graphene.DateTime
    assert compat.graphene_type_name(Plain) == "Plain"


def test_unknown_resolver_shapes_are_not_recognised() -> None:
    resolver = graphene.types.resolver.dict_or_attr_resolver
    assert compat.attribute_read(partial(resolver, "title", None, "more")) is None
    assert compat.attribute_read(partial(resolver, attname="title", default_value=None)) is None
    assert compat.attribute_read(lambda root, info: root.title) is None
    assert compat.global_id_read(partial(resolver, "id", None)) is None


def test_the_setting_is_read_from_the_environment(tmp_path) -> None:
    environ = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}
    assert Settings.from_env(environ).fast_paths is True
    assert Settings.from_env({**environ, "CUNWU_FAST_PATHS": "0"}).fast_paths is False
    url = "postgres://postgres@127.0.0.1:5432/test"
    assert tortoise_config(url)["connections"]["default"]["credentials"]["reset"]
    assert "reset" not in tortoise_config(url, False)["connections"]["default"]["credentials"]


async def test_fast_paths_off_is_graphql_core_and_tortoise_alone(settings: Settings) -> None:
    for fast in (True, False):
        app = create_app(settings.with_overrides(fast_paths=fast))
        async with app.router.lifespan_context(app):
            options = app.state.graphql.execute_options
            assert (options.get("execution_context_class") is FastExecutionContext) is fast
            assert bool(sqlite_reads._readers) is (fast and settings.is_sqlite)
            county = await add_region(None, RegionKind.COUNTY, f"县{fast}", f"99010000000{fast:d}")
            for found in (await rows_by_id(Region, [county.id]), await fetch_rows(Region.all())):
                assert all(isinstance(r, Row) is fast for r in found)
                assert all(isinstance(r, Region) is not fast for r in found)


FEED = """query($r: ID, $q: String, $first: Int, $after: String) {
  disclosures(regionId: $r, search: $q, first: $first, after: $after) {
    edges { cursor node { id title publishedAt commentCount author { name } region { name }
      attachments { id } flagCounts { total } } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_the_api_answers_alike_with_and_without_the_short_cuts(app, gql, demo, monkeypatch):
    clerk = await gql.login(CLERK)
    village, township = demo.villages[0], demo.townships[0]
    for i in range(3):
        await published(gql, clerk, village, title=f"修路公告{i}")
    queries = [
        {"r": to_global_id("Region", village.id), "first": 2},
        {"r": to_global_id("Region", township.id), "first": 10},
        {"r": to_global_id("Region", village.id), "q": "修路", "first": 2},
        {"first": 2},
    ]

    async def answers() -> list:
        out = []
        for variables in queries:
            page = await gql.data(FEED, variables)
            after = page["disclosures"]["pageInfo"]["endCursor"]
            out.append((page, await gql.data(FEED, {**variables, "after": after})))
        return out

    fast = await answers()
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)
    assert await answers() == fast


WHOLE_ITEM = """query($r: ID, $first: Int) {
  disclosures(regionId: $r, first: $first) {
    edges { cursor node { ...Whole } } pageInfo { hasNextPage endCursor } } }
fragment Whole on Disclosure {
  __typename id category catalogueItem { code } region { name } title body
  tables { title columns { key label kind } rows } period attachments { id thumbnailUrl }
  thumbnailUrl mustRead tags urgency validFrom expiresAt status version versions { version }
  author { id name phone village { name } residencyVerified isActive createdAt }
  approvedAt publishAt publishedAt firstPublishedAt retractedAt retractionReason viewCount
  commentCount comments(first: 2) { edges { node { id } } } readByMe acknowledgedByMe
  acknowledgedAt flagCounts { total } flags { id } createdAt updatedAt stagedCorrection { title }
}"""
# a list page: the columns it needs, the author by name
LIST_ITEM = """query($r: ID) { disclosures(regionId: $r, first: 3) {
  edges { node { id title body author { name } } } } }"""


async def test_a_feed_reads_the_columns_a_query_shows_and_answers_alike(
    app, gql, demo, monkeypatch, caplog
):
    """The short cuts read only the columns a page shows: a query that shows every field
    (the body, the tables, the author's village…) gets the same answer as without them,
    anonymous and signed in."""
    clerk = await gql.login(CLERK)
    village = demo.villages[0]
    await published(gql, clerk, village, title="修路公告", body="路面硬化，预算十二万元。")
    variables = {"r": to_global_id("Region", village.id), "first": 5}

    async def answers() -> list:
        out = []
        for token in (None, clerk):
            out.append(await gql.data(WHOLE_ITEM, variables, token=token))
            out.append(await gql.data(LIST_ITEM, variables, token=token))
        return out

    with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
        caplog.clear()
        fast = await answers()
        statements = [r.getMessage() for r in caplog.records if '"disclosure" d' in r.getMessage()]
    assert fast[0]["disclosures"]["edges"][0]["node"]["body"] == "路面硬化，预算十二万元。"
    assert fast[0]["disclosures"]["edges"][0]["node"]["author"]["village"] is not None
    # the list page leaves the large columns, and the author's other columns, out
    whole, listed = statements[0], statements[1]
    assert 'd."tables"' in whole and 'u."phone"' in whole
    assert 'd."body"' in listed and 'd."tables"' not in listed and 'u."phone"' not in listed
    monkeypatch.setattr(app.state.graphql, "execute_options", execute_options(False))
    monkeypatch.setattr(api.rows, "_shortcuts", False)
    assert await answers() == fast


async def test_a_partial_row_refuses_a_column_it_did_not_read(app, gql, demo) -> None:
    from api.disclosures.feed import newest_rows
    from api.disclosures.types import FIELD_COLUMNS, node_columns

    await published(gql, await gql.login(CLERK), demo.villages[0])
    region = await Region.get(id=demo.villages[0].id)
    columns = node_columns({"id", "title"})
    assert columns is not None and node_columns({"id", "someNewField"}) is None
    [row] = await newest_rows([region], None, None, None, 1, False, False, None, None, columns)
    assert row.title and row.id
    for absent in ("body", "tables", "created_at", "must_read"):
        with pytest.raises(ColumnNotRead):
            getattr(row, absent, None)
    assert getattr(row, "not_a_column", "default") == "default"  # an AttributeError as ever
    # every field named has a column list, every column named is one of the table's
    fields = SCHEMA.graphql_schema.type_map["Disclosure"].fields
    assert set(FIELD_COLUMNS) - {"__typename"} <= set(fields)
    stored = {c for c, _ in compat.db_columns(Disclosure)}
    assert {c for cs in FIELD_COLUMNS.values() for c in cs} <= stored
