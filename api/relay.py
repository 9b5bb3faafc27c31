"""Relay conventions: opaque global IDs, a Node registry and keyset cursor connections."""

from __future__ import annotations

import base64
import binascii
import weakref
from binascii import b2a_base64
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import graphene
from graphene import relay

from api.compat import graphene_type_name
from api.context import Info
from models.errors import BadUserInput, ErrorCode, NotFound, UserError, UserErrors
from models.kept import Kept

DEFAULT_PAGE = 20
MAX_PAGE = 50

NODE_TYPES: dict[str, Any] = {}


def register_node(cls: Any) -> Any:
    """Class decorator: `node(id)` may return this type (via its `get_node`)."""
    NODE_TYPES[graphene_type_name(cls)] = cls
    return cls


# base64url without padding, as urlsafe_b64encode(…).rstrip("=") writes it: a feed page
# writes forty of these (ids and cursors), so binascii's directly.
URLSAFE = bytes.maketrans(b"+/", b"-_")


# (type, key) → global ID: pages show the same items request after request (bounded).
_GLOBAL_IDS = Kept(16_384)


def to_global_id(type_name: str, pk: int | str) -> str:
    if pk.__class__ is not int and pk.__class__ is not str:  # True == 1, but writes "True"
        return encode_global_id(type_name, pk)
    found = _GLOBAL_IDS.get((type_name, pk))
    if found is None:
        found = _GLOBAL_IDS.keep((type_name, pk), encode_global_id(type_name, pk))
    return found


def encode_global_id(type_name: str, pk: Any) -> str:
    raw = f"{type_name}:{pk}".encode()
    return b2a_base64(raw, newline=False).rstrip(b"=").translate(URLSAFE).decode()


# Keys fit a 32-bit signed integer on every database (PostgreSQL's `integer`); a larger
# number cannot name a row, and sent to the database it would fail there, not here.
MAX_KEY = 2**31 - 1


def parse_key(text: str) -> int:
    """A key written in canonical ASCII digits (no sign, space, `_`, leading zero or other
    script's digits, all of which `int()` accepts) within 0..MAX_KEY; ValueError otherwise."""
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise ValueError(text)
    value = int(text)
    if value > MAX_KEY:
        raise ValueError(text)
    return value


def from_global_id(global_id: str) -> tuple[str, str]:
    """(type, key) of a global ID; the key is canonical digits within MAX_KEY (ValueError
    otherwise), so every caller may read it with `int()`."""
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(global_id) from None
    type_name, sep, pk = raw.partition(":")
    if not sep or not type_name or not pk:
        raise ValueError(global_id)
    parse_key(pk)
    return type_name, pk


def argument_id(global_id: str, expected: str | None = None) -> tuple[str, int]:
    """(type, key) of a global ID given as a query argument; BAD_USER_INPUT when malformed
    (mutation inputs use `decode_id`, which answers with a UserError instead)."""
    try:
        type_name, pk = from_global_id(global_id)
    except ValueError:
        raise BadUserInput("INVALID_ID") from None
    if expected is not None and type_name != expected:
        raise BadUserInput("INVALID_ID")
    return type_name, int(pk)


def decode_id(global_id: str, expected: str, field: str = "id") -> int:
    """A global ID's integer key, or a UserError naming the input field."""
    try:
        type_name, pk = from_global_id(global_id)
        if type_name != expected:
            raise UserErrors(UserError(ErrorCode.WRONG_KIND, field, {"expected": expected}))
        return int(pk)
    except ValueError:
        raise UserErrors(UserError(ErrorCode.INVALID_ID, field)) from None


async def fetch_input(model: Any, global_id: str, type_name: str, field: str) -> Any:
    """The object an input field names, or a NOT_FOUND UserError on that field."""
    obj = await model.get_or_none(id=decode_id(global_id, type_name, field))
    if obj is None:
        raise UserErrors(UserError(ErrorCode.NOT_FOUND, field))
    return obj


class Node(relay.Node):
    class Meta:
        name = "Node"

    @classmethod
    def to_global_id(cls, type_: str, id: Any) -> str:  # noqa: A002 (graphene's signature)
        return to_global_id(type_, id)


async def resolve_node(root: Any, info: Info, id: str) -> Any:  # noqa: A002
    try:
        type_name, pk = from_global_id(id)
    except ValueError:
        raise NotFound() from None
    graphene_type = NODE_TYPES.get(type_name)
    if graphene_type is None:
        raise NotFound()
    obj = await graphene_type.get_node(info, pk)
    if obj is None:
        raise NotFound()
    return obj


async def target_node(info: Info, type_name: str, pk: int) -> Any:
    """The object a comment or flag is about, as `node(id)` would answer it (None for a
    kind without a node, a missing row, or one the viewer may not read)."""
    graphene_type = NODE_TYPES.get(type_name)
    return None if graphene_type is None else await graphene_type.get_node(info, str(pk))


def node_field() -> graphene.Field:
    return graphene.Field(
        Node, id=graphene.ID(required=True), resolver=resolve_node, description="任意对象"
    )


# Cursors: the keyset value of the last row, opaque to clients.
def encode_cursor(value: int | str) -> str:
    return b2a_base64(f"k:{value}".encode(), newline=False).rstrip(b"=").translate(URLSAFE).decode()


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput("INVALID_CURSOR") from None
    if not raw.startswith("k:"):
        raise BadUserInput("INVALID_CURSOR")
    return raw[2:]


def cursor_key(text: str) -> int:
    """An integer part of a cursor (a key or an offset), BAD_USER_INPUT unless canonical."""
    try:
        return parse_key(text)
    except ValueError:
        raise BadUserInput("INVALID_CURSOR") from None


def cursor_time(text: str) -> datetime:
    """A time part of a cursor, as written by `isoformat()` of an aware time: in UTC, and
    BAD_USER_INPUT for a naive time or one that leaves the calendar in UTC."""
    try:
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is None:
            raise ValueError(text)
        return stamp.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadUserInput("INVALID_CURSOR") from None


def decode_int_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    return cursor_key(decode_cursor(cursor))


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise BadUserInput("PAGE_SIZE", limit=MAX_PAGE)
    return first


def connection_args() -> dict[str, Any]:
    return {
        "first": graphene.Int(description=f"每页数量，默认 {DEFAULT_PAGE}，最多 {MAX_PAGE}"),
        "after": graphene.String(),
    }


class Page:
    """What a connection field returns. graphene reads `edges` and `page_info` by attribute,
    so plain slotted objects serve: graphene's own ObjectType instances cost more to build
    than the rest of a feed item."""

    __slots__ = ("edges", "page_info")

    def __init__(self, edges: list[Edge], page_info: PageInfo) -> None:
        self.edges = edges
        self.page_info = page_info


class Edge:
    __slots__ = ("node", "cursor")

    def __init__(self, node: Any, cursor: str) -> None:
        self.node = node
        self.cursor = cursor


class PageInfo:
    __slots__ = ("has_next_page", "has_previous_page", "start_cursor", "end_cursor")

    def __init__(self, edges: list[Edge], has_next: bool, has_previous: bool = False) -> None:
        self.has_next_page = has_next
        self.has_previous_page = has_previous
        self.start_cursor = edges[0].cursor if edges else None
        self.end_cursor = edges[-1].cursor if edges else None


def build_connection(
    rows: Sequence[Any],
    size: int,
    key: Callable[[Any], int | str] = lambda row: row.pk,
    has_next: bool | None = None,
    cursor: Callable[[Any], str] | None = None,
) -> Page:
    """`rows` holds up to size+1 items fetched after the cursor; the extra one means more.
    Each edge's cursor is `key` encoded, or `cursor`'s answer (an encoded cursor) if given."""
    if has_next is None:
        has_next = len(rows) > size
    if cursor is None:
        edges = [Edge(row, encode_cursor(key(row))) for row in rows[:size]]
    else:
        edges = [Edge(row, cursor(row)) for row in rows[:size]]
    return Page(edges, PageInfo(edges, has_next))


async def keyset_page(
    qs: Any, first: int | None, after: str | None, key: str = "id", descending: bool = False
) -> Page:
    """One page of a queryset ordered by an integer column `key` (unique within `qs`):
    rows after the cursor, one more than the page to know whether another follows."""
    size = page_size(first)
    last = decode_int_cursor(after)
    if last is not None:
        qs = qs.filter(**{f"{key}__{'lt' if descending else 'gt'}": last})
    rows = await qs.order_by(f"-{key}" if descending else key).limit(size + 1)
    return build_connection(rows, size, key=lambda row: getattr(row, key))


# (id of the field's node, below) → (a weak reference to the node, its answer): a document
# is parsed once and kept (api.endpoint), so its nodes are the same objects request after
# request; the reference tells the node from a later one at the same address.
_NODE_FIELDS = Kept(5000)


def node_fields(info: Info, below: str | None = None) -> frozenset[str]:
    """Names of the fields a query selects on `edges { node { … } }` of this connection
    (or on `edges { node { <below> { … } } }`), so a resolver prefetches only what will
    be read. Kept per field node of a one-node field (fragments come from its document)."""
    nodes = info.field_nodes
    if len(nodes) != 1:
        return selected_node_fields(info, below)
    key = (id(nodes[0]), below)
    found = _NODE_FIELDS.get(key)
    if found is not None and found[0]() is nodes[0]:
        return found[1]
    names = selected_node_fields(info, below)
    _NODE_FIELDS.keep(key, (weakref.ref(nodes[0]), names))
    return names


def selected_node_fields(info: Info, below: str | None = None) -> frozenset[str]:
    names: set[str] = set()

    def selections(selection_set: Any) -> list[Any]:
        out = []
        for sel in selection_set.selections if selection_set else ():
            if sel.kind == "fragment_spread":
                out += selections(info.fragments[sel.name.value].selection_set)
            elif sel.kind == "inline_fragment":
                out += selections(sel.selection_set)
            else:
                out.append(sel)
        return out

    for field in info.field_nodes:
        for edges in selections(field.selection_set):
            if edges.name.value != "edges":
                continue
            for node in selections(edges.selection_set):
                if node.name.value != "node":
                    continue
                fields = selections(node.selection_set)
                if below is None:
                    names.update(f.name.value for f in fields)
                    continue
                for f in fields:
                    if f.name.value == below:
                        names.update(g.name.value for g in selections(f.selection_set))
    return frozenset(names)
