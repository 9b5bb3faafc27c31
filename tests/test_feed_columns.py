"""A feed page reads only the columns its fields need (api.disclosures.types.FIELD_COLUMNS):
each field asked alone, by every role, answers as it does with every column read (the short
cuts off). A field whose resolver reads a column its entry does not name would fail here."""

from __future__ import annotations

import api.relay
import api.rows
from api.execution import execute_options
from api.relay import to_global_id
from api.schema import schema as SCHEMA
from tests.test_disclosures import (
    ADMIN,
    CLERK,
    INSPECTOR,
    OFFICIAL,
    SUPERVISOR,
    VILLAGER,
    published,
)

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
