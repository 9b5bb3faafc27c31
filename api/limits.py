"""Query limits, checked on the parsed document before graphql-core validates it.

Cost: every field costs 1; a field with a `first` argument multiplies the cost of its
selection by it (by MAX_PAGE when it comes from a variable, since validation results
are cached per query text); a connection without `first` by the default page size.
Introspection fields (`__schema`, `__type`) are free so that GraphiQL keeps working.

Everything here is linear in the document: each fragment is measured once per check and
its (depth, cost) reused at every spread, so a fragment spreading the next one twice, thirty
times over, costs thirty steps, not 2^30. Width: graphql-core's overlapping-fields rule
compares every pair of fields that share a response name in a selection set (inline
fragments merged in) and every pair of fragments spread there, so a selection set may hold
at most `max_selections` fields and spreads, and at most `max_same_name` fields answering
under one name. The document is only handed to validation once it passes.

A query refused as too costly says which connection to page and with what `first` would
let it through (`page_hints`): the natural first query, a region tree without `first`,
should teach paging rather than just fail.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from api.relay import DEFAULT_PAGE, MAX_PAGE
from models.errors import QueryTooComplex


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int
    max_cost: int
    max_selections: int = 50
    max_same_name: int = 10
    max_spreads: int = 10
    max_pairs: int = 500
    # distinct response paths followed when counting pairs (fragments folded in)
    max_paths: int = 20_000


def check_document(document: DocumentNode, limits: QueryLimits) -> QueryTooComplex | None:
    """The first limit the document exceeds, or None; linear in the document's size."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measure = Measure(fragments, limits)
    for definition in document.definitions:
        if isinstance(definition, (OperationDefinitionNode, FragmentDefinitionNode)):
            if not measure.narrow_enough(definition.selection_set):
                return QueryTooComplex("QUERY_TOO_COMPLEX")
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            depth, cost = measure.selection_set(definition.selection_set)
            if depth > limits.max_depth:
                return QueryTooComplex("QUERY_TOO_DEEP", limit=limits.max_depth)
            if cost > limits.max_cost:
                return too_costly(measure, definition, cost, limits.max_cost)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            paths = measure.paths(definition.selection_set)
            if paths is None or sum(n * (n - 1) // 2 for n in paths.values()) > limits.max_pairs:
                return QueryTooComplex("QUERY_TOO_COMPLEX")
    return None


MAX_HINTS = 3  # connections named at most in one hint
# A cost past this is reported as this: the exact figure of nested huge `first`s can pass
# 64 bits, which no JSON writer takes, and 2^53 - 1 is the largest integer every reader holds
MAX_REPORTED_COST = 2**53 - 1
MAX_HINT_CANDIDATES = 8  # connections tried per hint: bounded work on a refused document


def too_costly(
    measure: Measure, operation: OperationDefinitionNode, cost: int, limit: int
) -> QueryTooComplex:
    hints = page_hints(measure, operation, limit)
    cost = min(cost, MAX_REPORTED_COST)
    if not hints:
        return QueryTooComplex("QUERY_TOO_COSTLY", cost=cost, limit=limit)
    pages = [
        {"field": connection_name(path), "path": list(path), "first": first}
        for path, first in hints
    ]
    text = ", ".join(f"{p['field']}(first: {p['first']})" for p in pages)
    error = QueryTooComplex("QUERY_TOO_COSTLY_PAGE", cost=cost, limit=limit, pages=text)
    error.extensions |= {
        "cost": cost,
        "limit": limit,
        "field": pages[0]["field"],
        "path": pages[0]["path"],
        "suggestedFirst": pages[0]["first"],
        "pages": pages,
    }
    return error


def connection_name(path: tuple[str, ...]) -> str:
    """regions.edges.node.children → regions.children: the connections a reader sees."""
    return ".".join(p for p in path if p not in ("edges", "node"))


def page_hints(
    measure: Measure, operation: OperationDefinitionNode, limit: int
) -> list[tuple[tuple[str, ...], int]]:
    """The connections to give a smaller `first`, each with the largest value that fits:
    one connection when one suffices (the largest `first`, the deepest on a tie), else a few
    set to 1 greedily. Cost is linear in each connection's page size, so two measurements
    give it. Empty when a few connections cannot bring the query under the limit."""
    found: dict[int, tuple[FieldNode, tuple[str, ...]]] = {}
    measure.connections(operation.selection_set, (), found, set())
    candidates = list(found.values())[:MAX_HINT_CANDIDATES]
    overrides: dict[int, int] = {}
    hints: list[tuple[tuple[str, ...], int]] = []
    try:
        for _ in range(MAX_HINTS):
            best: tuple[tuple[int, int], FieldNode, tuple[str, ...]] | None = None
            for node, path in candidates:
                if id(node) in overrides:
                    continue
                fixed = measure.cost_with(operation, overrides | {id(node): 0})
                per_item = measure.cost_with(operation, overrides | {id(node): 1}) - fixed
                if per_item <= 0:
                    continue
                key = (min((limit - fixed) // per_item, MAX_PAGE), len(path))
                if best is None or key > best[0]:
                    best = (key, node, path)
            if best is None:
                return []
            (first, _), node, path = best
            if first >= 1:
                return [*hints, (path, first)]
            overrides[id(node)] = 1
            hints.append((path, 1))
        return []
    finally:
        measure.overrides = {}
        measure.memo.clear()


def multiplier(field: FieldNode) -> int:
    for arg in field.arguments or ():
        if arg.name.value == "first":
            if isinstance(arg.value, IntValueNode):
                return max(1, int(arg.value.value))
            if isinstance(arg.value, VariableNode):
                return MAX_PAGE
    if field.selection_set and any(
        isinstance(s, FieldNode) and s.name.value == "edges" for s in field.selection_set.selections
    ):
        return DEFAULT_PAGE
    return 1


class Measure:
    """(depth, cost) of selection sets, each fragment measured once (memoized)."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], limits: QueryLimits) -> None:
        self.fragments = fragments
        self.limits = limits
        self.memo: dict[str, tuple[int, int]] = {}
        self.in_progress: set[str] = set()
        self.path_memo: dict[str, Counter[tuple[str, ...]] | None] = {}
        self.path_budget = limits.max_paths
        self.overrides: dict[int, int] = {}  # id(connection field) → page size, for hints

    def multiplier(self, field: FieldNode) -> int:
        override = self.overrides.get(id(field))
        return multiplier(field) if override is None else override

    def cost_with(self, operation: OperationDefinitionNode, overrides: dict[int, int]) -> int:
        self.overrides = overrides
        self.memo.clear()
        return self.selection_set(operation.selection_set)[1]

    def connections(
        self,
        selection_set: SelectionSetNode | None,
        prefix: tuple[str, ...],
        found: dict[int, tuple[FieldNode, tuple[str, ...]]],
        seen: set[str],
    ) -> None:
        """Fields paged by `first` (more than one item), each with the first response path
        it answers at; each fragment is followed once."""
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                path = (*prefix, (selection.alias or selection.name).value)
                if multiplier(selection) > 1 and id(selection) not in found:
                    found[id(selection)] = (selection, path)
                self.connections(selection.selection_set, path, found, seen)
            elif isinstance(selection, InlineFragmentNode):
                self.connections(selection.selection_set, prefix, found, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    self.connections(fragment.selection_set, prefix, found, seen)

    def narrow_enough(self, selection_set: SelectionSetNode | None) -> bool:
        """Every selection set under this one within the width limits (no spread followed:
        each fragment definition is checked on its own)."""
        stack = [selection_set] if selection_set is not None else []
        while stack:
            current = stack.pop()
            names: Counter[str] = Counter()
            selections = spreads = 0
            flat = [current]  # inline fragments are merged into their parent by the rule
            while flat:
                for selection in flat.pop().selections:
                    if isinstance(selection, InlineFragmentNode):
                        flat.append(selection.selection_set)
                        continue
                    selections += 1
                    if isinstance(selection, FragmentSpreadNode):
                        spreads += 1
                    elif isinstance(selection, FieldNode):
                        name = (selection.alias or selection.name).value
                        names[name] += 1
                        if names[name] > self.limits.max_same_name:
                            return False
                        if selection.selection_set is not None:
                            stack.append(selection.selection_set)
            if selections > self.limits.max_selections or spreads > self.limits.max_spreads:
                return False
        return True

    def selection_set(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        depth, cost = 0, 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                sub_depth, sub_cost = self.selection_set(selection.selection_set)
                depth = max(depth, sub_depth + 1)
                cost += 1 + self.multiplier(selection) * sub_cost
            elif isinstance(selection, InlineFragmentNode):
                sub_depth, sub_cost = self.selection_set(selection.selection_set)
                depth, cost = max(depth, sub_depth), cost + sub_cost
            elif isinstance(selection, FragmentSpreadNode):
                sub_depth, sub_cost = self.fragment(selection.name.value)
                depth, cost = max(depth, sub_depth), cost + sub_cost
        return depth, cost

    def fragment(self, name: str) -> tuple[int, int]:
        known = self.memo.get(name)
        if known is not None:
            return known
        fragment = self.fragments.get(name)
        if fragment is None or name in self.in_progress:
            return 0, 0  # unknown or cyclic: graphql-core's own rules report it
        self.in_progress.add(name)
        try:
            measured = self.selection_set(fragment.selection_set)
        finally:
            self.in_progress.discard(name)
        self.memo[name] = measured
        return measured

    def paths(self, selection_set: SelectionSetNode | None) -> Counter[tuple[str, ...]] | None:
        """How many fields answer at each response path, fragments folded in (each measured
        once): graphql-core compares the fields of one path pairwise, across parents too.
        None when the paths exceed the budget."""
        out: Counter[tuple[str, ...]] = Counter()
        if selection_set is None:
            return out
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = (selection.alias or selection.name).value
                out[(name,)] += 1
                sub = self.paths(selection.selection_set)
                if sub is None:
                    return None
                for path, n in sub.items():
                    out[(name, *path)] += n
            elif isinstance(selection, InlineFragmentNode):
                sub = self.paths(selection.selection_set)
                if sub is None:
                    return None
                out.update(sub)
            elif isinstance(selection, FragmentSpreadNode):
                sub = self.fragment_paths(selection.name.value)
                if sub is None:
                    return None
                out.update(sub)
            self.path_budget -= len(out)
            if self.path_budget < 0:
                return None
        return out

    def fragment_paths(self, name: str) -> Counter[tuple[str, ...]] | None:
        if name in self.path_memo:
            return self.path_memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.in_progress:
            return Counter()
        self.in_progress.add(name)
        try:
            counted = self.paths(fragment.selection_set)
        finally:
            self.in_progress.discard(name)
        self.path_memo[name] = counted
        return counted
