"""Query limits as a validation rule: depth and cost, cached with the parsed document.

Cost: every field costs 1; a field with a `first` argument multiplies the cost of its
selection by it (by MAX_PAGE when it comes from a variable, since validation results
are cached per query text); a connection without `first` by the default page size.
Introspection fields (`__schema`, `__type`) are free so that GraphiQL keeps working.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)

from api.errors import graphql_error
from api.relay import DEFAULT_PAGE, MAX_PAGE
from models.errors import QueryTooComplex


def query_limits_rule(max_depth: int, max_cost: int) -> type[ValidationRule]:
    class QueryLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth, cost = measure(self.context, node.selection_set, frozenset())
            if depth > max_depth:
                self.report_error(graphql_error(QueryTooComplex("QUERY_TOO_DEEP", limit=max_depth)))
            elif cost > max_cost:
                self.report_error(
                    graphql_error(QueryTooComplex("QUERY_TOO_COSTLY", cost=cost, limit=max_cost))
                )

    return QueryLimits


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


def measure(
    context: ValidationContext, selection_set: SelectionSetNode | None, seen: frozenset[str]
) -> tuple[int, int]:
    """(depth, cost) of a selection set, following fragments but never in a cycle."""
    if selection_set is None:
        return 0, 0
    depth, cost = 0, 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            sub_depth, sub_cost = measure(context, selection.selection_set, seen)
            depth = max(depth, sub_depth + 1)
            cost += 1 + multiplier(selection) * sub_cost
        elif isinstance(selection, InlineFragmentNode):
            sub_depth, sub_cost = measure(context, selection.selection_set, seen)
            depth, cost = max(depth, sub_depth), cost + sub_cost
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is None or name in seen:
                continue
            sub_depth, sub_cost = measure(context, fragment.selection_set, seen | {name})
            depth, cost = max(depth, sub_depth), cost + sub_cost
    return depth, cost
