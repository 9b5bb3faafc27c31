"""The executor's short cuts answer exactly what graphql-core's own executor answers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial
from typing import Any

import graphene
import pytest
from graphene.types.resolver import dict_or_attr_resolver
from graphql import GraphQLObjectType, execute, parse

import api.compat
import api.compiled
from api.compiled import root_only
from api.execution import FastExecutionContext, is_awaitable
from models.kept import Kept


class Thing:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class Kind(graphene.Enum):
    A = "A"
    B = "B"


class Child(graphene.ObjectType):
    name = graphene.String(required=True)


class Item(graphene.ObjectType):
    class Meta:
        interfaces = (graphene.relay.Node,)

    title = graphene.String(required=True)
    note = graphene.String()
    count = graphene.Int()
    kind = graphene.Field(Kind)
    when = graphene.DateTime()
    child = graphene.Field(Child)
    children = graphene.List(graphene.NonNull(Child))
    slow = graphene.String()
    loud = graphene.String(shout=graphene.Boolean())
    broken = graphene.String()

    @staticmethod
    def resolve_child(root: Any, info: Any) -> Any:
        if getattr(root, "calls", None) is not None:
            root.calls.append("child")
        return Thing(name=f"child of {root.title}")

    @staticmethod
    async def resolve_slow(root: Any, info: Any) -> str:
        await asyncio.sleep(0)
        return root.title.upper()

    @staticmethod
    def resolve_loud(root: Any, info: Any, shout: bool = False) -> str:
        return root.title + ("!" if shout else "")

    @staticmethod
    def resolve_broken(root: Any, info: Any) -> str:
        raise ValueError("broken resolver")


class Query(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(Item), required=True)
    strict = graphene.List(graphene.NonNull(Item))

    @staticmethod
    async def resolve_items(root: Any, info: Any) -> list[Any]:
        return info.context["items"]

    @staticmethod
    def resolve_strict(root: Any, info: Any) -> list[Any]:
        return info.context["items"]


SCHEMA = graphene.Schema(query=Query).graphql_schema


def items() -> list[Thing]:
    return [
        Thing(
            id=1,
            title="一",
            note=None,
            count=3,
            kind="A",
            when=datetime(2026, 11, 26, 8, 30, tzinfo=UTC),
            children=[Thing(name="x")],
        ),
        Thing(id=2, title="二", note="n", count="not a number", kind="B", children=[]),
        Thing(id=3, title=None, note="n", count=1, kind="Z", children=None),
    ]


async def both(query: str, context: dict[str, Any], schema: Any = SCHEMA) -> tuple[Any, Any]:
    document = parse(query)
    out = []
    for cls in (None, FastExecutionContext):
        result = execute(
            schema,
            document,
            context_value=context,
            is_awaitable=is_awaitable,
            execution_context_class=cls,
        )
        if is_awaitable(result):
            result = await result
        out.append(
            (result.data, sorted((e.message, tuple(e.path or ())) for e in result.errors or []))
        )
    return out[0], out[1]


@pytest.mark.parametrize(
    "query",
    [
        "{ items { id title note count kind when } }",
        "{ items { kind when } }",
        "{ strict { id title } }",
        "{ items { a: title b: title child { name } children { name } } }",
        "{ items { ... on Item { note kind children { name } } } }",
    ],
)
async def test_same_data_errors_and_paths_as_graphql_core(query: str) -> None:
    plain, fast = await both(query, {"items": items()})
    assert fast == plain
    assert plain[0] is not None or plain[1]  # each case says something


async def test_async_resolvers_arguments_and_fragments_as_graphql_core() -> None:
    # (no null in a non-null field here: graphql-core drops its pending siblings then)
    query = "{ items { ...F } } fragment F on Item { title slow loud(shout: true) broken }"
    plain, fast = await both(query, {"items": [t for t in items() if t.title]})
    assert fast == plain
    assert fast[0]["items"][0] == {"title": "一", "slow": "一", "loud": "一!", "broken": None}
    assert [path for _, path in fast[1]] == [("items", 0, "broken"), ("items", 1, "broken")]


async def test_a_null_in_a_non_null_field_nulls_the_parent_as_graphql_core_does() -> None:
    plain, fast = await both("{ items { title } }", {"items": items()})
    assert (
        fast
        == plain
        == (
            None,
            [("Cannot return null for non-nullable field Item.title.", ("items", 2, "title"))],
        )
    )


async def test_unserializable_values_become_errors_on_their_own_field() -> None:
    good = [t for t in items() if t.title]
    plain, fast = await both("{ items { count kind } }", {"items": good})
    assert fast == plain
    assert fast[0]["items"][0] == {"count": 3, "kind": "A"}
    assert [path for _, path in fast[1]] == [("items", 1, "count")]


async def test_a_prefetched_value_is_used_instead_of_calling_the_resolver() -> None:
    calls: list[str] = []
    thing = Thing(id=1, title="一", calls=calls)
    thing._prefetched = {"child": Thing(name="prefetched")}
    other = Thing(id=2, title="二", calls=calls)
    document = parse("{ items { child { name } } }")
    result = await execute(
        SCHEMA,
        document,
        context_value={"items": [thing, other]},
        is_awaitable=is_awaitable,
        execution_context_class=FastExecutionContext,
    )
    assert result.errors is None
    assert result.data == {
        "items": [{"child": {"name": "prefetched"}}, {"child": {"name": "child of 二"}}]
    }
    assert calls == ["child"]  # only the item without a prefetched value asked its resolver


async def test_relay_ids_are_the_same_global_ids() -> None:
    plain, fast = await both("{ items { id } }", {"items": items()})
    assert fast == plain
    assert fast[0]["items"][0]["id"] == graphene.relay.Node.to_global_id("Item", 1)


async def run_fast(document: Any, context: dict[str, Any], variables: Any = None) -> Any:
    result = execute(
        SCHEMA,
        document,
        context_value=context,
        variable_values=variables,
        is_awaitable=is_awaitable,
        execution_context_class=FastExecutionContext,
    )
    return await result if is_awaitable(result) else result


async def test_a_plain_subtree_resolves_each_field_once_and_a_waiting_one_falls_back() -> None:
    calls: list[str] = []
    things = [Thing(id=i, title=f"第{i}", calls=calls) for i in range(3)]
    document = parse("{ items { title child { name } } }")
    result = await run_fast(document, {"items": things})
    assert result.errors is None and len(result.data["items"]) == 3
    assert calls == ["child"] * 3  # straight through, no second pass
    # An async resolver below the root: the fast pass gives up, closes the coroutine it
    # started (no "never awaited" warning: warnings are errors here) and graphql-core
    # completes the subtree.
    document = parse("{ items { title slow child { name } } }")
    calls.clear()
    result = await run_fast(document, {"items": things})
    assert result.errors is None
    assert [i["slow"] for i in result.data["items"]] == ["第0", "第1", "第2"]
    assert calls[-3:] == ["child"] * 3


async def test_compiled_selections_are_reused_but_directives_are_read_per_request() -> None:
    document = parse("query($full: Boolean!) { items { title note @include(if: $full) } }")
    things = [Thing(id=1, title="一", note="备注")]
    full = await run_fast(document, {"items": things}, {"full": True})
    short = await run_fast(document, {"items": things}, {"full": False})
    assert full.data == {"items": [{"title": "一", "note": "备注"}]}
    assert short.data == {"items": [{"title": "一"}]}
    document = parse("{ items { title count } }")
    first = await run_fast(document, {"items": things})
    again = await run_fast(document, {"items": [Thing(id=2, title="二", count=7)]})
    assert first.data == {"items": [{"title": "一", "count": None}]}
    assert again.data == {"items": [{"title": "二", "count": 7}]}


async def test_middleware_sees_every_field_as_with_graphql_core() -> None:
    document = parse("{ items { title note child { name } } }")
    seen: dict[Any, list[str]] = {None: [], FastExecutionContext: []}
    for cls in seen:

        def middleware(next_, root, info, **args):
            seen[cls].append(info.field_name)  # noqa: B023 (used within this iteration)
            return next_(root, info, **args)

        result = execute(
            SCHEMA,
            document,
            context_value={"items": [Thing(id=1, title="一", note="注")]},
            middleware=[middleware],
            is_awaitable=is_awaitable,
            execution_context_class=cls,
        )
        result = await result if is_awaitable(result) else result
        assert result.data == {
            "items": [{"title": "一", "note": "注", "child": {"name": "child of 一"}}]
        }
    assert seen[FastExecutionContext] == seen[None] == ["items", "title", "note", "child", "name"]


def changed_default_resolver(attname: str, default: Any, how: str, root: Any, info: Any) -> Any:
    """graphene's default resolver as a later graphene might bind it: one more argument."""
    return dict_or_attr_resolver(attname, default, root, info)


def rebind_default_resolvers(schema: Any) -> None:
    """Every `partial(dict_or_attr_resolver, name, default)` graphene bound, relay ids
    included, bound the way `changed_default_resolver` wants instead."""

    def rebound(resolve: Any) -> Any:
        if isinstance(resolve, partial) and resolve.func is dict_or_attr_resolver:
            return partial(changed_default_resolver, *resolve.args, "attr")
        if isinstance(resolve, partial) and resolve.args:  # GlobalID's, around the read
            return partial(
                resolve.func, rebound(resolve.args[0]), *resolve.args[1:], **resolve.keywords
            )
        return resolve

    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType) and not named.name.startswith("__"):
            for field in named.fields.values():
                field.resolve = rebound(field.resolve)


def raising(resolve: Any) -> Any:
    raise RuntimeError("a recogniser met something new")


def half_a_read(resolve: Any) -> Any:
    return ("title",) if isinstance(resolve, partial) else None


class Unreadable(Thing):
    @property
    def note(self) -> str:
        raise RuntimeError("note unreadable")


SURPRISE_QUERIES = [
    "{ items { id title note count kind when } }",
    "{ items { id title note child { name } children { name } } }",
    "{ strict { id title } }",
    "{ items { ... on Item { note kind children { name } } } }",
]


@pytest.mark.parametrize(
    "surprise",
    ["resolver bound differently", "recogniser raises", "malformed read", "attribute raises"],
)
async def test_any_surprise_in_the_short_cuts_answers_as_graphql_core(
    surprise, monkeypatch, caplog
) -> None:
    schema = graphene.Schema(query=Query).graphql_schema  # its own resolvers to change
    context = {"items": [t for t in items() if t.title]}
    if surprise == "resolver bound differently":
        rebind_default_resolvers(schema)
        monkeypatch.setattr(api.compat, "dict_or_attr_resolver", changed_default_resolver)
    elif surprise == "recogniser raises":
        monkeypatch.setattr(api.compat, "attribute_read", raising)
    elif surprise == "malformed read":
        monkeypatch.setattr(api.compat, "attribute_read", half_a_read)
    else:
        context["items"].append(Unreadable(id=9, title="九", children=[]))
    for query in SURPRISE_QUERIES:
        plain, fast = await both(query, context, schema)
        assert fast == plain, query
        assert plain[0] is not None  # an answer, not `data: null`
    if surprise == "attribute raises":
        assert ("note unreadable", ("items", 2, "note")) in fast[1]
    else:
        assert fast[1] == []


class Picture(graphene.ObjectType):
    url = graphene.String()
    mistaken = graphene.String()

    @staticmethod
    @root_only
    def resolve_url(root: Any, info: Any) -> Any:
        if root.public:
            return f"/p/{root.name}"
        return Picture.signed(root, info)  # `info` read only in the awaitable

    @staticmethod
    async def signed(root: Any, info: Any) -> str:
        return f"/p/{root.name}?for={info.context['viewer']}"

    @staticmethod
    @root_only  # a wrong mark: it reads `info` at once
    def resolve_mistaken(root: Any, info: Any) -> str:
        return f"{root.name} for {info.context['viewer']}"


class PictureQuery(graphene.ObjectType):
    pictures = graphene.List(graphene.NonNull(Picture), required=True)

    @staticmethod
    async def resolve_pictures(root: Any, info: Any) -> list[Any]:
        return info.context["pictures"]


async def test_a_root_only_resolver_gets_no_resolve_info_but_answers_as_before(
    monkeypatch,
) -> None:
    schema = graphene.Schema(query=PictureQuery).graphql_schema
    built: list[str] = []
    original = api.compiled.resolve_info

    def counted(ec: Any, field_def: Any, nodes: Any, parent_type: Any, path: Any) -> Any:
        built.append(nodes[0].name.value)
        return original(ec, field_def, nodes, parent_type, path)

    monkeypatch.setattr(api.compiled, "resolve_info", counted)
    public = [Thing(name="a", public=True), Thing(name="b", public=True)]
    plain, fast = await both("{ pictures { url } }", {"pictures": public, "viewer": "v"}, schema)
    assert fast == plain and fast[0] == {"pictures": [{"url": "/p/a"}, {"url": "/p/b"}]}
    assert built == []
    # A picture that needs the viewer: the awaitable is closed, graphql-core answers
    mixed = [*public, Thing(name="c", public=False)]
    plain, fast = await both("{ pictures { url } }", {"pictures": mixed, "viewer": "v"}, schema)
    assert fast == plain and fast[0]["pictures"][2] == {"url": "/p/c?for=v"}
    plain, fast = await both(
        "{ pictures { mistaken } }", {"pictures": mixed, "viewer": "v"}, schema
    )
    assert fast == plain and fast[1] == [] and fast[0]["pictures"][0] == {"mistaken": "a for v"}
    assert built == []


class Spot(graphene.ObjectType):
    """`where`: the path graphql-core gives its resolver, deep in a compiled subtree."""

    name = graphene.String(required=True)
    where = graphene.String(required=True)
    spots = graphene.List(graphene.NonNull(lambda: Spot))

    @staticmethod
    def resolve_where(root: Any, info: Any) -> str:
        return "/".join(map(str, info.path.as_list())) + f" ({info.path.typename})"


class Counted(graphene.ObjectType):
    name = graphene.String(required=True)
    asked: list[str] = []

    @classmethod
    @api.compiled.by_class
    def is_type_of(cls, root: Any, info: Any) -> bool:
        cls.asked.append(type(root).__name__)
        return isinstance(root, Thing)


class Unmarked(graphene.ObjectType):
    name = graphene.String(required=True)
    asked: list[str] = []

    @classmethod
    def is_type_of(cls, root: Any, info: Any) -> bool:
        cls.asked.append(type(root).__name__)
        return isinstance(root, Thing) and root.name != "odd one"


class Other:
    name = "not a Thing"


class CheckedQuery(graphene.ObjectType):
    spots = graphene.List(graphene.NonNull(Spot), required=True)
    counted = graphene.List(graphene.NonNull(Counted), required=True)
    unmarked = graphene.List(Unmarked, required=True)

    @staticmethod
    async def resolve_spots(root: Any, info: Any) -> list[Any]:
        return info.context["spots"]

    @staticmethod
    async def resolve_counted(root: Any, info: Any) -> list[Any]:
        return info.context["counted"]

    @staticmethod
    async def resolve_unmarked(root: Any, info: Any) -> list[Any]:
        return info.context["unmarked"]


async def test_a_resolver_deep_in_a_compiled_subtree_gets_graphql_cores_path() -> None:
    schema = graphene.Schema(query=CheckedQuery).graphql_schema
    spots = [Thing(name="a", spots=[Thing(name="b", spots=[]), Thing(name="c", spots=None)])]
    query = "{ spots { where spots { name where spots { where } } } }"
    plain, fast = await both(query, {"spots": spots}, schema)
    assert fast == plain
    inner = fast[0]["spots"][0]["spots"]
    assert inner[0]["where"] == "spots/0/spots/0/where (Spot)" and inner[1]["spots"] is None


async def test_a_type_check_that_answers_by_class_is_asked_once_per_class() -> None:
    schema = graphene.Schema(query=CheckedQuery).graphql_schema
    document = parse("{ counted { name } }")
    Counted.asked.clear()
    things = [Thing(name=str(i)) for i in range(5)]
    for _ in range(2):  # the completion is kept with the document: the class stays known
        result = execute(
            schema,
            document,
            context_value={"counted": things},
            is_awaitable=is_awaitable,
            execution_context_class=FastExecutionContext,
        )
        result = await result if is_awaitable(result) else result
        assert result.errors is None and len(result.data["counted"]) == 5
    assert Counted.asked.count("Thing") == 1, Counted.asked  # once, in two requests of five
    # a value of another class is still asked about, and refused as graphql-core refuses it
    plain, fast = await both("{ counted { name } }", {"counted": [*things, Other()]}, schema)
    assert fast == plain and fast[0] is None and "Other" in Counted.asked


async def test_a_type_check_not_marked_is_asked_for_every_value() -> None:
    schema = graphene.Schema(query=CheckedQuery).graphql_schema
    Unmarked.asked.clear()
    values = [Thing(name="x"), Thing(name="odd one"), Thing(name="y")]
    plain, fast = await both("{ unmarked { name } }", {"unmarked": values}, schema)
    assert fast == plain and fast[1]  # the odd one out is refused, by each executor
    assert Unmarked.asked.count("Thing") >= 6  # every value, by both executors


def test_kept_global_ids_are_those_written_and_bounded(monkeypatch) -> None:
    import api.relay
    from api.relay import encode_global_id, from_global_id, to_global_id

    monkeypatch.setattr(api.relay, "_GLOBAL_IDS", Kept(3))
    for pk in (*range(5), *range(5)):
        assert to_global_id("Disclosure", pk) == encode_global_id("Disclosure", pk)
        assert from_global_id(to_global_id("Disclosure", pk)) == ("Disclosure", str(pk))
    assert 0 < len(api.relay._GLOBAL_IDS) <= 3
    # True == 1 as a key, but writes another id: never taken for the kept one
    assert to_global_id("T", 1) != to_global_id("T", True) == encode_global_id("T", True)


def test_kept_cursors_follow_the_stored_time_and_its_offset(monkeypatch) -> None:
    from datetime import timedelta, timezone

    from api.disclosures import feed
    from api.relay import decode_cursor, encode_cursor

    monkeypatch.setattr(feed, "_CURSORS", Kept(16_384))
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    same_instant = at.astimezone(timezone(timedelta(hours=8)))
    rows = [Thing(id=7, published_at=at), Thing(id=7, published_at=same_instant)]
    rows.append(Thing(id=7, published_at="2026-03-04 05:06:07+00:00"))  # SQLite's text
    for _ in range(2):
        cursors = [feed.page_cursor(0)(row) for row in rows]
        assert cursors == [encode_cursor(feed.cursor_key(0)(row)) for row in rows]
    assert decode_cursor(cursors[0]) == "0|2026-03-04T05:06:07+00:00|7" == decode_cursor(cursors[2])
    assert decode_cursor(cursors[1]) == "0|2026-03-04T13:06:07+08:00|7"


def test_node_fields_are_kept_per_field_node_within_a_bound(monkeypatch) -> None:
    from types import SimpleNamespace

    import api.relay
    from api.relay import node_fields

    monkeypatch.setattr(api.relay, "_NODE_FIELDS", Kept(2))

    def info_of(text: str) -> Any:
        document = parse(text)
        operation, *fragments = document.definitions
        return SimpleNamespace(
            field_nodes=[operation.selection_set.selections[0]],
            fragments={f.name.value: f for f in fragments},
        )

    a = info_of("{ feed { edges { node { id title author { name } } } } }")
    b = info_of("{ feed { edges { node { ...F } } } } fragment F on D { id body }")
    for _ in range(2):
        assert node_fields(a) == {"id", "title", "author"} and node_fields(a, "author") == {"name"}
        assert node_fields(b) == {"id", "body"} and node_fields(b, "author") == set()
        assert len(api.relay._NODE_FIELDS) <= 2
    # a field with two nodes (the same field twice) is read each time
    both = SimpleNamespace(field_nodes=[*a.field_nodes, *b.field_nodes], fragments=b.fragments)
    assert node_fields(both) == {"id", "title", "author", "body"}
