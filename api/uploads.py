"""File uploads by the GraphQL multipart request spec, streamed with a size cap.

A multipart request must carry `GraphQL-Preflight` (or `Apollo-Require-Preflight`): a
cross-site HTML form cannot set a custom header, so this is the CSRF guard. A file over
the limit stops the reading at once; the mutation then answers FILE_TOO_LARGE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import graphene
import orjson
from graphql.language import ast
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

MAX_FILES = 5


@dataclass
class UploadedFile:
    filename: str | None
    content_type: str | None  # the client's claim: recorded, never trusted
    data: bytes = b""
    too_large: bool = False


class Upload(graphene.Scalar):
    """A file in a multipart request (GraphQL multipart request spec)."""

    @staticmethod
    def serialize(value: Any) -> None:
        raise ValueError("Upload is an input-only scalar")

    @staticmethod
    def parse_literal(node: ast.ValueNode, _variables: Any = None) -> Any:
        raise ValueError("Upload values come from multipart files, not literals")

    @staticmethod
    def parse_value(value: Any) -> UploadedFile:
        if not isinstance(value, UploadedFile):
            raise ValueError("Upload must be a file part of a multipart request")
        return value


class FileTooLarge(Exception):
    def __init__(self, field_name: str) -> None:
        super().__init__(field_name)
        self.field_name = field_name


class CappedMultiPartParser(MultiPartParser):
    """Starlette's streaming parser, stopped as soon as one file passes the cap."""

    def __init__(self, *args: Any, max_file_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_file_bytes = max_file_bytes
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file_bytes:
                raise FileTooLarge(self._current_part.field_name)
        super().on_part_data(data, start, end)


class UploadRefused(Exception):
    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


def has_preflight_header(request: Request) -> bool:
    return bool(
        request.headers.get("graphql-preflight") or request.headers.get("apollo-require-preflight")
    )


async def multipart_params(request: Request, max_file_bytes: int) -> dict[str, Any]:
    if not has_preflight_header(request):
        raise UploadRefused(400, "CSRF_PREFLIGHT_REQUIRED")
    parser = CappedMultiPartParser(
        request.headers, request.stream(), max_files=MAX_FILES, max_file_bytes=max_file_bytes
    )
    too_large: str | None = None
    try:
        items = list((await parser.parse()).multi_items())
    except FileTooLarge as exc:
        too_large, items = exc.field_name, parser.items
    except MultiPartException:
        raise UploadRefused(400, "BAD_MULTIPART") from None
    fields: dict[str, Any] = {}
    try:
        for name, value in items:
            if isinstance(value, UploadFile):
                await value.seek(0)
                fields[name] = UploadedFile(value.filename, value.content_type, await value.read())
                await value.close()
            else:
                fields[name] = value
    finally:
        for _, value in items:
            if isinstance(value, UploadFile):
                await value.close()
    if too_large is not None:
        fields[too_large] = UploadedFile(None, None, too_large=True)
    try:
        operations = orjson.loads(fields["operations"])
        file_map = orjson.loads(fields["map"])
    except (KeyError, TypeError, orjson.JSONDecodeError):
        raise UploadRefused(400, "BAD_MULTIPART") from None
    if not isinstance(operations, dict) or not isinstance(file_map, dict):
        raise UploadRefused(400, "BAD_MULTIPART")
    for name, paths in file_map.items():
        upload = fields.get(name)
        if not isinstance(upload, UploadedFile) or not isinstance(paths, list):
            raise UploadRefused(400, "BAD_MULTIPART")
        for path in paths:
            place(operations, str(path), upload)
    return operations


def place(operations: dict[str, Any], path: str, upload: UploadedFile) -> None:
    """Put a file where the map says, e.g. `variables.input.file` or `variables.files.0`."""
    *parents, last = path.split(".")
    target: Any = operations
    try:
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = upload
        elif isinstance(target, dict) and last in target:
            target[last] = upload
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError):
        raise UploadRefused(400, "BAD_MULTIPART") from None
