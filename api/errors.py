"""Domain errors as GraphQL errors, for the transport's own refusals and validation rules."""

from __future__ import annotations

from graphql import GraphQLError

from models.errors import AppError


def graphql_error(error: AppError) -> GraphQLError:
    """A GraphQL error that `format_error` answers with the domain error's code and text."""
    return GraphQLError(error.key, original_error=error, extensions=error.extensions)
