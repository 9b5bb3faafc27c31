"""Straight-line completion of a whole subtree, tried before graphql-core's way.

A feed page is a root field whose value (a connection) holds a few hundred plain values:
columns, prefetched objects, relay ids. For each selection set this builds, once per
query document, a list of field handlers: read the column (or the prefetched value, or call a
synchronous resolver), check it, serialize it, recurse. No Path, ResolveInfo or dispatch
per plain field.

It does not handle the unusual; it gives up instead (`Bail`): a null where the schema
forbids one, an error, a value a scalar refuses, an awaitable (a resolver that must wait
for the database), a runtime type to resolve. graphql-core's executor then completes the
same subtree from the start, and produces its errors, paths and null propagation exactly.
A resolver below a root field may therefore run twice; they are reads without side
effects (mutations do their work in the root field), and a coroutine started here is
closed unawaited.

Paths inside the subtree are plain `(prev, key, typename)` tuples, made graphql-core
`Path`s only when a resolver's ResolveInfo needs one (`as_path`): most fields of a page
never do, and a bail throws them all away.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum as PyEnum
from types import CoroutineType
from typing import Any, TypeVar

import graphene
from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    TypeNameMetaFieldDef,
    Undefined,
    default_field_resolver,
    is_leaf_type,
)
from graphql.pyutils import Path

from api import compat
from api.compat import (
    collect_subfields,
    field_definition,
    graphene_type,
    new_path,
    resolve_info,
)
from api.rows import iso_stamp

Completer = Callable[[Any, Any, Any], Any]  # (value, path, execution context)
INT_RANGE = range(-(2**31), 2**31)
R = TypeVar("R", bound=Callable[..., Any])


class Bail(Exception):
    """This subtree needs graphql-core's general completion."""


class CannotCompile(Exception):
    """This selection uses something only graphql-core handles (arguments, interfaces…)."""


def root_only(resolver: R) -> R:
    """Marks a resolver that answers synchronously from `root` alone, reading `info` only
    inside an awaitable it returns. The completion here never awaits one (it bails, and
    graphql-core calls the resolver again with its ResolveInfo), so it passes NO_INFO in
    place of building a ResolveInfo. graphql-core's own execution is unchanged."""
    resolver.root_only = True  # type: ignore[attr-defined]
    return resolver


def reads_root_only(resolver: Any) -> bool:
    return getattr(resolver, "root_only", False) is True


def by_class(is_type_of: R) -> R:
    """Marks an `is_type_of` whose answer depends on the value's class alone (an
    isinstance test, a row's model): the completion here then asks once per class."""
    is_type_of.by_class = True  # type: ignore[attr-defined]
    return is_type_of


def answers_by_class(is_type_of: Any) -> bool:
    return getattr(is_type_of, "by_class", False) is True


def as_path(path: Any) -> Any:
    """graphql-core's Path for a path of plain `(prev, key, typename)` tuples."""
    if path is None or path.__class__ is Path:
        return path
    return new_path((as_path(path[0]), path[1], path[2]))


def info_at(ec: Any, field_def: Any, nodes: Any, parent_type: Any, path: Any) -> Any:
    return resolve_info(ec, field_def, nodes, parent_type, as_path(path))


class _NoInfo:
    """The `info` of a resolver marked `root_only`. Should it read `info` after all (a
    wrong mark), it fails here and the completion bails: slower, never another answer."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise Bail

    def __bool__(self) -> bool:
        raise Bail


NO_INFO: Any = _NoInfo()


def leaf(named: Any) -> Completer:
    serialize = named.serialize
    same = {"String": str, "ID": str, "Boolean": bool, "Float": float}.get(named.name)
    is_int = named.name == "Int"
    # graphene's DateTime answers isoformat(); an enum its value's name (by value first)
    stamp = graphene_type(named) is graphene.DateTime
    names: dict[Any, str] = {}
    if isinstance(named, GraphQLEnumType):
        for name, value in named.values.items():
            names[value.value] = name
            if isinstance(value.value, PyEnum):
                names.setdefault(value.value.value, name)
        for name in named.values:
            names.setdefault(name, name)

    def complete(value: Any, path: Any, ec: Any) -> Any:
        if value is None:
            return None
        cls = value.__class__
        if cls is same:
            return value
        if is_int and cls is int and value in INT_RANGE:
            return value
        if stamp and cls is datetime:
            return value.isoformat()
        if names and cls is str and value in names:
            return names[value]
        try:
            out = serialize(value)
        except Exception:
            raise Bail from None
        if out is None or out is Undefined:
            raise Bail
        return out

    # what `straight_line` may write inline
    complete.fast = (  # type: ignore[attr-defined]
        "same"
        if same is not None
        else "int"
        if is_int
        else "stamp"
        if stamp
        else "enum"
        if names
        else None
    )
    complete.same = same  # type: ignore[attr-defined]
    complete.names = names  # type: ignore[attr-defined]
    return complete


def ours(node: Any) -> bool:
    """Whether `node.to_global_id` is api.relay.Node's (which calls relay.to_global_id)."""
    from api import relay  # noqa: PLC0415 (api.relay's imports come back here)

    found = getattr(getattr(node, "to_global_id", None), "__func__", None)
    return found is not None and found is relay.Node.to_global_id.__func__  # type: ignore[attr-defined]


def straight_line(handlers: list[tuple], name: str, type_: Any, generic: Completer) -> Completer:
    """`generic` (the handler loop) written out as one function of straight-line code for
    objects that are not dicts: no dispatch on the handler's kind, the common leaf cases
    (a str, an int, a datetime) inline. Same reads in the same order, same Bail cases."""
    from api import relay  # noqa: PLC0415

    env: dict[str, Any] = {
        "Bail": Bail,
        "info_at": info_at,
        "CoroutineType": CoroutineType,
        "generic": generic,
        "type_": type_,
        "name": name,
        "INT_RANGE": INT_RANGE,
        "datetime": datetime,
        "iso_stamp": iso_stamp,
        "NO_INFO": NO_INFO,
    }
    lines = [
        "def run(source, path, ec):",
        "    if isinstance(source, dict):",
        "        return generic(source, path, ec)",
        "    out = {}",
    ]
    if any(h[0] == 3 for h in handlers):
        lines.append("    prefetched = getattr(source, '_prefetched', None)")
    for i, handler in enumerate(handlers):
        kind, key = handler[0], handler[1]
        env[f"k{i}"] = key
        if kind == 0:
            env[f"t{i}"] = handler[2]
            lines.append(f"    out[k{i}] = t{i}")
        elif kind == 1 or kind == 2:
            env[f"a{i}"], env[f"d{i}"] = handler[2], handler[3]
            read = lines  # where the attribute's read goes: here, or under an `else`
            if kind == 1 and getattr(handler[5], "fast", None) == "stamp":
                # SQLite's text served as it stands where it is isoformat()'s answer, else
                # the read below (api.rows.iso_stamp)
                lines += [
                    f"    v = iso_stamp(source, a{i})",
                    "    if v is not None:",
                    f"        out[k{i}] = v",
                    "    else:",
                ]
                read = []
            read.append(f"    v = getattr(source, a{i}, d{i})")
            read.append("    if v is None:")
            if kind == 2 or handler[4]:
                read.append("        raise Bail")
            else:
                read.append(f"        out[k{i}] = None")
            if kind == 1:
                env[f"c{i}"] = handler[5]
                fast = getattr(handler[5], "fast", None)
                if fast == "same":
                    env[f"s{i}"] = handler[5].same
                    read.append(f"    elif v.__class__ is s{i}:")
                    read.append(f"        out[k{i}] = v")
                elif fast == "int":
                    read.append("    elif v.__class__ is int and v in INT_RANGE:")
                    read.append(f"        out[k{i}] = v")
                elif fast == "stamp":
                    read.append("    elif v.__class__ is datetime:")
                    read.append(f"        out[k{i}] = v.isoformat()")
                elif fast == "enum":
                    env[f"e{i}"] = handler[5].names
                    read.append(f"    elif v.__class__ is str and v in e{i}:")
                    read.append(f"        out[k{i}] = e{i}[v]")
                read.append("    else:")
                read.append(f"        out[k{i}] = c{i}(v, None, ec)")
            else:
                env[f"n{i}"], env[f"o{i}"] = handler[5], handler[4]
                read.append("    else:")
                if ours(handler[5]):  # api.relay's encoding: called without the class's
                    env["to_global_id"] = relay.to_global_id
                    read.append(f"        out[k{i}] = to_global_id(o{i}, v)")
                else:
                    read.append(f"        out[k{i}] = n{i}.to_global_id(o{i}, v)")
            if read is not lines:
                lines += ["    " + line for line in read]
        else:
            _, _, field_name, getter, resolve, completer, nodes, field_def = handler
            env.update({f"f{i}": field_name, f"r{i}": resolve, f"c{i}": completer})
            env.update({f"nodes{i}": nodes, f"def{i}": field_def})
            lines.append(f"    field_path = (path, k{i}, name)")
            lines.append(f"    if prefetched is not None and f{i} in prefetched:")
            lines.append(f"        v = prefetched[f{i}]")
            if getter is not None:
                env[f"a{i}"], env[f"d{i}"] = getter
                lines.append("    else:")
                lines.append(f"        v = getattr(source, a{i}, d{i})")
            else:
                info = "NO_INFO" if reads_root_only(resolve) else "info"
                lines.append("    else:")
                if info == "info":
                    build = f"info_at(ec, def{i}, nodes{i}, type_, field_path)"
                    lines.append(f"        info = {build}")
                lines += [
                    "        try:",
                    f"            v = r{i}(source, {info})",
                    "        except Exception:",
                    "            raise Bail from None",
                    "        if ec.is_awaitable(v):",
                    "            if v.__class__ is CoroutineType:",
                    "                v.close()",
                    "            raise Bail",
                ]
            lines += inline(env, completer, "v", f"out[k{i}]", "field_path", 4, 0)
    lines.append("    return out")
    env["source_text"] = "\n".join(lines)
    exec(env["source_text"], env)  # noqa: S102 (our own text, from the schema's names by index)
    return env["run"]


def inline(
    env: dict[str, Any], c: Any, var: str, target: str, path: str, indent: int, depth: int
) -> list[str]:
    """Lines that set `target` to completer `c`'s answer for `var`, the object's `run`
    (and a list's loop, one level) written in place of the calls through `non_null`,
    `many` and `complete`: same tests in the same order."""
    pad = " " * indent
    u = len(env)
    inner = getattr(c, "non_null_of", None)
    required = inner is not None
    inner = inner if required else c
    obj = getattr(inner, "inline", None)
    item = getattr(inner, "list_of", None)
    if_none = [
        f"{pad}if {var} is None:",
        f"{pad}    raise Bail" if required else f"{pad}    {target} = None",
    ]
    if obj is not None and obj[1][0] is not None:
        is_type_of, run = obj[0], obj[1][0]
        env[f"run{u}"] = run
        lines = if_none + [f"{pad}else:"]
        if is_type_of is not None:  # as `Compiler.object`'s `complete`, written out
            env[f"ito{u}"], env[f"ok{u}"] = is_type_of, set()
            lines += [
                f"{pad}    if {var}.__class__ not in ok{u}:",
                f"{pad}        if ito{u}({var}, None) is not True:",
                f"{pad}            raise Bail",
            ]
            if answers_by_class(is_type_of):
                lines.append(f"{pad}        ok{u}.add({var}.__class__)")
        return lines + [f"{pad}    {target} = run{u}({var}, {path}, ec)"]
    if item is not None and depth == 0:
        env[f"items{u}"] = None  # keeps the names below this one's own
        lines = if_none + [
            f"{pad}elif not isinstance({var}, (list, tuple)):",
            f"{pad}    raise Bail",
            f"{pad}else:",
            f"{pad}    items{u} = []",
            f"{pad}    for j{u}, w{u} in enumerate({var}):",
        ]
        item_path = f"({path}, j{u}, None)"
        lines += inline(env, item, f"w{u}", f"x{u}", item_path, indent + 8, depth + 1)
        return lines + [f"{pad}        items{u}.append(x{u})", f"{pad}    {target} = items{u}"]
    env[f"c{u}"] = c
    return [f"{pad}{target} = c{u}({var}, {path}, ec)"]


class Compiler:
    """Builds completers while a request runs (it collects fields with that request's
    fragments); the completers themselves keep no request and may serve later ones."""

    def __init__(self, context: Any) -> None:
        self.ec = context
        self.objects: dict[tuple[Any, int], Completer] = {}

    def completer(self, type_: Any, nodes: list[Any]) -> Completer:
        if isinstance(type_, GraphQLNonNull):
            inner = self.completer(type_.of_type, nodes)

            def non_null(value: Any, path: Any, ec: Any) -> Any:
                if value is None:
                    raise Bail
                return inner(value, path, ec)

            non_null.non_null_of = inner  # type: ignore[attr-defined]  # for `straight_line`
            return non_null
        if is_leaf_type(type_):
            return leaf(type_)
        if isinstance(type_, GraphQLList):
            item = self.completer(type_.of_type, nodes)

            def many(value: Any, path: Any, ec: Any) -> Any:
                if value is None:
                    return None
                if not isinstance(value, (list, tuple)):
                    raise Bail
                return [item(v, (path, i, None), ec) for i, v in enumerate(value)]

            many.list_of = item  # type: ignore[attr-defined]  # for `straight_line`
            return many
        if isinstance(type_, GraphQLObjectType):
            return self.object(type_, nodes)
        raise CannotCompile  # interfaces and unions

    def object(self, type_: GraphQLObjectType, nodes: list[Any]) -> Completer:
        key = (type_, id(nodes[0]))
        found = self.objects.get(key)
        if found is not None:
            return found
        handlers: list[tuple] = []

        def complete(value: Any, path: Any, ec: Any) -> Any:  # `run` follows: fields recurse
            if value is None:
                return None
            if is_type_of is not None and value.__class__ not in known:
                if is_type_of(value, None) is not True:  # type: ignore[arg-type]  # graphene reads no info
                    raise Bail
                if by_cls:
                    known.add(value.__class__)
            return run(value, path, ec)

        self.objects[key] = complete
        is_type_of = type_.is_type_of
        by_cls = answers_by_class(is_type_of)
        known: set[type] = set()  # classes `is_type_of` accepted (when it answers by class)
        runner: list[Any] = [None]  # `run`, once written (a type below may recurse to this)
        complete.inline = (is_type_of, runner)  # type: ignore[attr-defined]
        name = type_.name
        try:
            self._fields(type_, nodes, handlers)
        except CannotCompile:
            del self.objects[key]
            raise

        def generic(source: Any, path: Any, ec: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            is_dict = isinstance(source, dict)
            prefetched = None if is_dict else getattr(source, "_prefetched", None)
            for handler in handlers:
                kind = handler[0]
                if kind == 1 or kind == 2:
                    value = (
                        source.get(handler[2], handler[3])
                        if is_dict
                        else getattr(source, handler[2], handler[3])
                    )
                    if value is None:
                        if kind == 2 or handler[4]:
                            raise Bail
                        out[handler[1]] = None
                    elif kind == 1:
                        out[handler[1]] = handler[5](value, None, ec)
                    else:
                        out[handler[1]] = handler[5].to_global_id(handler[4], value)
                elif kind == 3:
                    field_path = (path, handler[1], name)
                    if prefetched is not None and handler[2] in prefetched:
                        value = prefetched[handler[2]]
                    elif handler[3] is not None:
                        attr, default = handler[3]
                        value = (
                            source.get(attr, default) if is_dict else getattr(source, attr, default)
                        )
                    else:
                        info = (
                            NO_INFO
                            if reads_root_only(handler[4])
                            else info_at(ec, handler[7], handler[6], type_, field_path)
                        )
                        try:
                            value = handler[4](source, info)
                        except Exception:
                            raise Bail from None
                        if ec.is_awaitable(value):
                            if value.__class__ is CoroutineType:
                                value.close()
                            raise Bail
                    out[handler[1]] = handler[5](value, field_path, ec)
                else:
                    out[handler[1]] = handler[2]
            return out

        run = runner[0] = straight_line(handlers, name, type_, generic)
        return complete

    def _fields(self, type_: GraphQLObjectType, nodes: list[Any], handlers: list[tuple]) -> None:
        ec = self.ec
        name = type_.name
        for response_name, field_nodes in collect_subfields(ec, type_, nodes).items():
            field_name = field_nodes[0].name.value
            if field_name == "__typename":
                handlers.append((0, response_name, name))
                continue
            field_def = field_definition(ec.schema, type_, field_nodes[0])
            if field_def is None or field_def is TypeNameMetaFieldDef:
                continue
            if field_def.args:
                raise CannotCompile
            resolve = field_def.resolve
            non_null = isinstance(field_def.type, GraphQLNonNull)
            read = compat.attribute_read(resolve)
            inner = field_def.type.of_type if non_null else field_def.type
            global_id = compat.global_id_read(resolve)
            if read is not None and is_leaf_type(inner):
                attr, default = read
                handlers.append((1, response_name, attr, default, non_null, leaf(inner)))
            elif global_id is not None:
                (attr, default), of, node = global_id
                handlers.append((2, response_name, attr, default, of or name, node))
            else:
                getter = read
                handlers.append(
                    (
                        3,
                        response_name,
                        field_name,
                        getter,
                        resolve or default_field_resolver,
                        self.completer(field_def.type, field_nodes),
                        field_nodes,
                        field_def,
                    )
                )
