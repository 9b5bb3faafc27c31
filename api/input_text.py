"""NUL characters refused at the door, on every database.

PostgreSQL cannot store U+0000 in text (the driver fails, and the client saw
INTERNAL_SERVER_ERROR); SQLite stores it and truncates it in places. No text the service
takes has a use for it, so one check covers every path: the query's string literals (a
validation rule, cached with the document), every string in the variables (keys too), and
the names and types of uploaded files.
"""

from __future__ import annotations

from typing import Any

from graphql import StringValueNode, ValidationRule

from api.errors import graphql_error
from api.uploads import UploadedFile
from models.errors import BadUserInput

NUL = "\x00"
NUL_KEY = "NUL_CHARACTER"


def nul_error() -> BadUserInput:
    error = BadUserInput(NUL_KEY)
    error.extensions["reason"] = NUL_KEY
    return error


class NoNulInStrings(ValidationRule):
    """A string literal holding `\\u0000` makes the document invalid."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if NUL in node.value:
            self.report_error(graphql_error(nul_error()))


def has_nul(value: Any) -> bool:
    """Whether any string inside decoded JSON variables (or an upload's names) holds NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item.__class__ is str:
            if NUL in item:
                return True
        elif isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and NUL in key:
                    return True
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, UploadedFile):
            stack.extend((item.filename or "", item.content_type or ""))
        elif isinstance(item, str):  # a str subclass
            if NUL in item:
                return True
    return False
