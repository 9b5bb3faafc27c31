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
                return QueryTooComplex("QUERY_TOO_COSTLY", cost=cost, limit=limits.max_cost)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            paths = measure.paths(definition.selection_set)
            if paths is None or sum(n * (n - 1) // 2 for n in paths.values()) > limits.max_pairs:
                return QueryTooComplex("QUERY_TOO_COMPLEX")
    return None


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
                cost += 1 + multiplier(selection) * sub_cost
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
