"""graphql-core's executor with short cuts for the common cases of a feed page.

A feed page resolves a few hundred fields, most of them a model column read by graphene's
default resolver. graphql-core spends ~3 µs on each (a Path, a ResolveInfo, the argument
values, the resolver call, the awaitable test and the type dispatch of `complete_value`).
Two short cuts, both giving way to graphql-core's own code for anything unusual (a null
in a non-null field, a value a scalar refuses, an error, middleware), so that errors, paths
and null propagation stay exactly its own:

- a value with a sub-selection (a root field's connection, say) is first completed by the
  straight-line handlers of `api.compiled`, built once per query document;
- where that gives way, each selection set gets a plan once per request: a plain field
  (default resolver, no arguments, scalar or enum type) is read and serialized directly,
  and a value a row carries in `_prefetched` (field name → value, filled by one batch
  load for a whole page) is completed without calling its resolver.

Planning a selection set or reading a value that meets a surprise (a resolver shape
`api.compat` does not know, an attribute that raises) leaves that selection set or field
to graphql-core as well. `Settings.fast_paths` off uses graphql-core's executor alone.
"""

from __future__ import annotations

import logging
import weakref
from asyncio import gather
from datetime import datetime
from functools import partial
from types import CoroutineType
from typing import Any

from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_leaf_type,
    is_object_type,
    located_error,
)
from graphql.pyutils import Path
from graphql.pyutils import is_awaitable as default_is_awaitable
from tortoise.models import Model

from api import compat
from api.compat import (
    CoreExecutionContext,
    executor_hooks_match,
    field_definition,
    has_middleware,
    resolve_info,
)
from api.compiled import CannotCompile, Compiler
from api.rows import Row

log = logging.getLogger("cunwu.graphql")
PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list, dict, datetime})


def is_awaitable(value: Any) -> bool:
    """graphql-core's check, minus tortoise model instances and rows: a Model has
    `__await__`, so graphql-core would otherwise await every row a resolver returns.
    Called several times per field, so the common answers come first."""
    cls = value.__class__
    if cls in PLAIN_TYPES:
        return False
    if cls is CoroutineType:
        return True
    if isinstance(value, (Model, Row)):
        return False
    return default_is_awaitable(value)


# How a value of a given output type is completed; keyed by the type object.
LEAF, OBJECT, LIST, OTHER = range(4)
_KINDS: dict[Any, tuple[int, Any]] = {}


def kind_of(return_type: GraphQLOutputType) -> tuple[int, Any]:
    kind = _KINDS.get(return_type)
    if kind is None:
        inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        if is_leaf_type(inner):
            kind = (LEAF, inner)
        elif is_object_type(inner):
            kind = (OBJECT, inner)
        elif isinstance(inner, GraphQLList):
            kind = (LIST, inner)
        else:  # interfaces and unions: graphql-core resolves the runtime type
            kind = (OTHER, inner)
        _KINDS[return_type] = kind
    return kind


class FieldPlan:
    """One response key of a selection set, with what can be decided before any value."""

    __slots__ = (
        "name",
        "field_name",
        "nodes",
        "field_def",
        "resolve",
        "simple",
        "attr",
        "default",
        "serialize",
        "id_of",
        "getter",
    )

    def __init__(self, name: str, nodes: list[FieldNode], field_def: Any, plain: bool) -> None:
        self.name = name
        self.field_name = nodes[0].name.value
        self.nodes = nodes
        self.field_def = field_def
        self.resolve = field_def.resolve if field_def is not None else None
        # No arguments and no middleware: the resolver (or a prefetched value) is all.
        self.simple = field_def is not None and plain and not field_def.args
        self.attr: str | None = None  # set when the field is a plain column read
        self.default: Any = None
        self.serialize: Any = None
        self.id_of: str | None = None  # set for a relay `id`: the type whose global id it is
        self.getter: str | None = None  # set for an object or list read by attribute
        if field_def is None or not plain or field_def.args:
            return
        kind, named = kind_of(field_def.type)
        read = compat.attribute_read(self.resolve)
        if kind != LEAF:
            if read is not None:
                self.getter, self.default = read
            return
        global_id = compat.global_id_read(self.resolve)
        if read is not None:
            self.attr, self.default = read
            self.serialize = named.serialize
        elif global_id is not None:
            (self.attr, self.default), of, node = global_id
            self.id_of = of or ""
            self.serialize = partial(_global_id, node)


def _global_id(node: Any, type_name: str, value: Any) -> Any:
    return node.to_global_id(type_name, value)


# Completers outlive a request: the document cache keeps a query's nodes, and an entry
# holds a weak reference to its node to tell it from a later node at the same address.
# A query with a directive is compiled per request (@skip and @include read variables).
_SHARED: dict[tuple[Any, int], tuple[weakref.ref, Any]] = {}
SHARED_LIMIT = 5000
MISSING = object()
# How execute_fields takes a field: graphql-core's execute_field, the planned resolver
# call, or a value read already (prefetched, or by graphene's attribute read).
FULL, RESOLVE, RESOLVED = object(), object(), object()


class FastExecutionContext(CoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # None for a selection set graphql-core executes (planning it met a surprise)
        self._plans: dict[tuple[Any, int], tuple[Any, list[FieldPlan] | None]] = {}
        self._compiled: dict[tuple[Any, int], Any] = {}  # None: graphql-core's way
        self._compiler: Compiler | None = None

    def plans(self, parent_type: GraphQLObjectType, fields: dict) -> list[FieldPlan] | None:
        # Selection sets come from graphql-core's per-request subfield cache, so one dict
        # object stands for one selection set; it is kept in the entry so its id stays its.
        key = (parent_type, id(fields))
        entry = self._plans.get(key)
        if entry is None or entry[0] is not fields:
            plans: list[FieldPlan] | None
            try:
                plain = not has_middleware(self)
                plans = [
                    FieldPlan(
                        name, nodes, field_definition(self.schema, parent_type, nodes[0]), plain
                    )
                    for name, nodes in fields.items()
                ]
            except Exception:  # a flaw here must cost speed, never an answer
                log.exception("planning a selection failed; graphql-core executes it")
                plans = None
            entry = self._plans[key] = (fields, plans)
        return entry[1]

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[FieldNode]],
    ) -> Any:
        plans = self.plans(parent_type, fields)
        if plans is None:
            return super().execute_fields(parent_type, source_value, path, fields)
        results: dict[str, Any] = {}
        pending: list[str] = []
        is_awaitable = self.is_awaitable
        type_name = parent_type.name
        try:
            prefetched = getattr(source_value, "_prefetched", None)
        except Exception:  # an object unlike any row: graphql-core's way
            return super().execute_fields(parent_type, source_value, path, fields)
        if prefetched.__class__ is not dict:
            prefetched = None
        for plan in plans:
            # Reading a value ourselves may meet the unexpected (a property that raises,
            # say): that field is then graphql-core's, its resolver called as usual.
            how, value = FULL, None
            try:
                attr = plan.attr
                if attr is not None:
                    if isinstance(source_value, dict):
                        value = source_value.get(attr, plan.default)
                    else:
                        value = getattr(source_value, attr, plan.default)
                    if value is not None:
                        try:
                            if plan.id_of is not None:
                                out = plan.serialize(plan.id_of or type_name, value)
                            else:
                                out = plan.serialize(value)
                        except Exception:  # graphql-core reports it, with the path
                            out = None
                        if out is not None and out is not Undefined:
                            results[plan.name] = out
                            continue
                    elif not isinstance(plan.field_def.type, GraphQLNonNull):
                        results[plan.name] = None
                        continue
                if not plan.simple:
                    how, value = FULL, None
                elif prefetched is not None and plan.field_name in prefetched:
                    how, value = RESOLVED, prefetched[plan.field_name]
                elif plan.getter is not None:  # edges, node, pageInfo: graphene's attribute read
                    if isinstance(source_value, dict):
                        value = source_value.get(plan.getter, plan.default)
                    else:
                        value = getattr(source_value, plan.getter, plan.default)
                    how = RESOLVED
                else:
                    how, value = RESOLVE, None
            except Exception:
                how, value = FULL, None
            field_path = Path(path, plan.name, type_name)
            if how is FULL:
                result = self.execute_field(parent_type, source_value, plan.nodes, field_path)
                if result is Undefined:  # no such field: graphql-core leaves it out
                    continue
            else:
                result = self.execute_planned(
                    plan, parent_type, value if how is RESOLVED else source_value, field_path, how
                )
            results[plan.name] = result
            if is_awaitable(result):
                pending.append(plan.name)
        if not pending:
            return results

        async def gather_pending() -> dict[str, Any]:
            if len(pending) == 1:  # a feed's one root field: no task for gather to make
                results[pending[0]] = await results[pending[0]]
            else:
                values = await gather(*(results[n] for n in pending))
                results.update(zip(pending, values, strict=True))
            return results

        return gather_pending()

    def execute_planned(
        self,
        plan: FieldPlan,
        parent_type: GraphQLObjectType,
        source: Any,
        path: Path,
        how: object,
    ) -> Any:
        """graphql-core's `execute_field` for a field without arguments, its definition and
        resolver looked up once per request. When `how` is RESOLVED, `source` is the
        field's value already (a row's `_prefetched` entry, put there by a batch load for
        the whole page, or graphene's attribute read) and no resolver is called."""
        return_type = plan.field_def.type
        info: GraphQLResolveInfo = resolve_info(self, plan.field_def, plan.nodes, parent_type, path)
        try:
            if how is RESOLVED:
                result = source
            else:
                result = (plan.resolve or self.field_resolver)(source, info)
            if self.is_awaitable(result):
                return self._complete_awaited(return_type, plan.nodes, info, path, result)
            completed = self.complete_value(return_type, plan.nodes, info, path, result)
            if self.is_awaitable(completed):
                return self._await_completed(return_type, plan.nodes, path, completed)
            return completed
        except Exception as raw_error:
            error = located_error(raw_error, plan.nodes, path.as_list())
            self.handle_field_error(error, return_type, path)
            return None

    async def _complete_awaited(
        self, return_type: Any, nodes: list[FieldNode], info: Any, path: Path, result: Any
    ) -> Any:
        try:
            completed = self.complete_value(return_type, nodes, info, path, await result)
            if self.is_awaitable(completed):
                return await completed
            return completed
        except Exception as raw_error:
            error = located_error(raw_error, nodes, path.as_list())
            self.handle_field_error(error, return_type, path)
            return None

    async def _await_completed(
        self, return_type: Any, nodes: list[FieldNode], path: Path, completed: Any
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            error = located_error(raw_error, nodes, path.as_list())
            self.handle_field_error(error, return_type, path)
            return None

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_nodes: list[FieldNode],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        if result is None or result is Undefined or isinstance(result, Exception):
            return super().complete_value(return_type, field_nodes, info, path, result)
        kind, inner = kind_of(return_type)
        if kind == LEAF:
            out = inner.serialize(result)
            if out is None or out is Undefined:
                return super().complete_value(return_type, field_nodes, info, path, result)
            return out
        if kind == OBJECT or kind == LIST:
            compiled = self.compiled(return_type, field_nodes)
            if compiled is not None:
                try:
                    return compiled(result, path, self)
                except Exception:  # Bail, or any surprise: graphql-core's way below, and
                    # not tried again in this request
                    self._compiled[(return_type, id(field_nodes[0]))] = None
            if kind == OBJECT:
                return self.complete_object_value(inner, field_nodes, info, path, result)
            return self.complete_list_value(inner, field_nodes, info, path, result)
        return super().complete_value(return_type, field_nodes, info, path, result)

    def shareable(self) -> bool:
        loc = self.operation.loc
        return loc is not None and "@" not in loc.source.body

    def compiled(self, return_type: GraphQLOutputType, field_nodes: list[FieldNode]) -> Any:
        if has_middleware(self):  # compiled handlers call resolvers directly
            return None
        key = (return_type, id(field_nodes[0]))
        found = self._compiled.get(key, MISSING)
        if found is not MISSING:
            return found
        shared = _SHARED.get(key) if self.shareable() else None
        if shared is not None and shared[0]() is field_nodes[0]:
            found = shared[1]
        else:
            if self._compiler is None:
                self._compiler = Compiler(self)
            try:
                found = self._compiler.completer(return_type, field_nodes)
            except CannotCompile:
                found = None
            except Exception:  # a flaw here must cost speed, never an answer
                log.exception("compiling a selection failed; graphql-core completes it")
                found = None
            if self.shareable():
                if len(_SHARED) > SHARED_LIMIT:
                    _SHARED.clear()
                _SHARED[key] = (weakref.ref(field_nodes[0]), found)
        self._compiled[key] = found
        return found


def execute_options(fast_paths: bool) -> dict[str, Any]:
    """graphql-core `execute` arguments: the short cuts, or graphql-core's plain executor
    (when turned off, or when graphql-core's executor no longer has the hooks they use)."""
    if fast_paths and executor_hooks_match():
        return {"execution_context_class": FastExecutionContext, "is_awaitable": is_awaitable}
    return {}
