"""The GraphQL HTTP transport, written on graphql-core's parse/validate/execute.

POST application/json; GET for queries (cacheable, with ETag); GraphiQL for browsers.
Documents are parsed and validated once per query text and kept in a bounded LRU.
Anonymous queries are answered from the response cache (api.response_cache) when it holds
their answer for the current data versions, before any parsing or execution.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_named_type,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api import idempotency
from api.cache_hits import replayable
from api.compat import is_token_limit
from api.compression import accepted
from api.context import Context, build_context
from api.errors import graphql_error
from api.execution import execute_options
from api.graphiql import GRAPHIQL_CSP, GRAPHIQL_HTML
from api.graphql_messages import graphql_message
from api.input_text import NUL_KEY, NoNulInStrings, has_nul
from api.limits import QueryLimits, check_document
from api.response_cache import NOT_CACHEABLE, Entry, Keyed, plan_for
from api.services import Services
from api.settings import Settings
from api.uploads import UploadRefused, multipart_params
from models import data_versions
from models.errors import AppError, BadUserInput, QueryTooComplex, ServiceUnavailable
from models.messages import pick_language, translate
from models.redis_guard import REDIS_DOWN

log = logging.getLogger("cunwu.graphql")


class DocumentCache:
    """query text → (document, validation errors); bounded, least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[DocumentNode | None, list[GraphQLError]]] = (
            OrderedDict()
        )

    def get(self, query: str) -> tuple[DocumentNode | None, list[GraphQLError]] | None:
        item = self._items.get(query)
        if item is not None:
            self._items.move_to_end(query)
        return item

    def put(self, query: str, item: tuple[DocumentNode | None, list[GraphQLError]]) -> None:
        self._items[query] = item
        self._items.move_to_end(query)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class RequestError(Exception):
    """The HTTP request itself is unusable (not a GraphQL error)."""

    def __init__(self, status: int, key: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.code = code


TRANSIENT = {"INTERNAL_SERVER_ERROR", "RATE_LIMITED", "SERVICE_UNAVAILABLE"}


def is_transient(body: dict[str, Any]) -> bool:
    """An answer a retry should not get replayed: it may succeed when run again."""
    return any(e["extensions"]["code"] in TRANSIENT for e in body.get("errors", []))


async def persisted_query(
    services: Services, params: dict[str, Any], admissible: Callable[[str], bool]
) -> Any:
    """The query text, from the request or from its automatic-persisted-query hash.

    A query sent with its hash is stored only when `admissible` (within the size, token and
    complexity limits, and valid): anything else is answered with its errors, never kept."""
    query = params.get("query")
    extensions = params.get("extensions")
    if not isinstance(extensions, dict) or not isinstance(extensions.get("persistedQuery"), dict):
        return query
    sha256 = extensions["persistedQuery"].get("sha256Hash")
    if not isinstance(sha256, str):
        raise RequestError(200, "BAD_REQUEST_BODY")
    if isinstance(query, str):
        if services.persisted.digest(query) != sha256:
            raise RequestError(200, "PERSISTED_QUERY_HASH_MISMATCH")
        if admissible(query):
            await services.persisted.put(sha256, query)
        return query
    stored = await services.persisted.get(sha256)
    if stored is None:
        raise RequestError(200, "PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_FOUND")
    return stored


def credential_fields(schema: GraphQLSchema) -> frozenset[str]:
    """Mutations whose answers carry tokens (sign-in by password or code, reset, refresh).
    Their answers are never kept for Idempotency-Key replays: the stored copy would be a
    live refresh token in the database, replayed for a day; they are safe to retry anyway."""
    mutation = schema.mutation_type
    if mutation is None:
        return frozenset()
    return frozenset(
        name
        for name, field in mutation.fields.items()
        if "refreshToken" in getattr(get_named_type(field.type), "fields", {})
    )


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> set[str]:
    """The names of the fields an operation selects at its root, through fragments."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: set[str] = set()
    pending = list(operation.selection_set.selections)
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode):
            names.add(node.name.value)
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)
    return names


class GraphQLEndpoint:
    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self.rules = (*specified_rules, NoNulInStrings)
        self.limits = QueryLimits(
            max_depth=settings.max_query_depth,
            max_cost=settings.max_query_cost,
            max_selections=settings.max_query_selections,
            max_same_name=settings.max_query_same_name,
        )
        self.documents = DocumentCache(settings.document_cache_size)
        self.execute_options = execute_options(settings.fast_paths)
        self.credential_fields = credential_fields(schema)
        self.executions = 0  # operations executed (tests and benchmarks count them)
        # per event loop (a semaphore belongs to one): tests run apps on several
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def handle(self, request: Request) -> Response:
        lang = pick_language(request.headers.get("accept-language"))
        request_id = request.scope.get("state", {}).get("request_id", "-")
        try:
            if request.method == "GET":
                if (
                    self.settings.graphiql
                    and "query" not in request.query_params
                    and accepts_html(request)
                ):
                    return HTMLResponse(
                        GRAPHIQL_HTML, headers={"content-security-policy": GRAPHIQL_CSP}
                    )
                params = get_params(request)
            elif request.method == "POST" and is_multipart(request):
                services: Services = request.app.state.services
                params = await multipart_params(request, services.settings.media_max_bytes)
            elif request.method == "POST":
                params = await post_params(request)
            else:
                raise RequestError(405, "BAD_REQUEST_BODY")
        except (RequestError, UploadRefused) as exc:
            return error_response(exc.status, exc.key, lang)
        return await self.run(request, params, lang, request_id)

    async def run(
        self, request: Request, params: dict[str, Any], lang: str, request_id: str
    ) -> Response:
        services: Services = request.app.state.services
        variables, operation_name = params.get("variables"), params.get("operationName")
        try:
            query = await persisted_query(services, params, self.admissible)
        except RequestError as exc:
            return graphql_response({"errors": [plain_error(exc.code, lang, exc.key)]})
        if not isinstance(query, str) or not query.strip():
            return graphql_response({"errors": [plain_error("BAD_USER_INPUT", lang)]})
        if variables is not None and not isinstance(variables, dict):
            return graphql_response({"errors": [plain_error("BAD_USER_INPUT", lang)]})
        if operation_name is not None and not isinstance(operation_name, str):
            return graphql_response({"errors": [plain_error("BAD_USER_INPUT", lang)]})
        if (variables and has_nul(variables)) or (operation_name and has_nul(operation_name)):
            error = plain_error("BAD_USER_INPUT", lang, NUL_KEY)
            error["extensions"]["reason"] = NUL_KEY
            return graphql_response({"errors": [error]})

        # An anonymous query's answer may be in the response cache: looked up before any
        # GraphQL work (its plan is kept by query text once the document has been checked).
        cache = services.response_cache if not request.headers.get("authorization") else None
        keyed: Keyed | None = None
        if cache is not None:
            plan = cache.known_plan(query, operation_name)
            if plan is None:
                checked, _ = self.document(query)
                chosen = get_operation_ast(checked, operation_name) if checked else None
                if checked is not None and chosen is not None:
                    plan = plan_for(query, checked, chosen)
                    cache.remember_plan(query, operation_name, plan)
            if plan is not None and plan is not NOT_CACHEABLE:
                now = services.settings.clock().timestamp()
                keyed = await cache.key(plan, variables, operation_name, lang, now)
            if keyed is not None:
                # weak: one answer, whichever encoding (br, gzip, none) carries it
                etag = 'W/"' + keyed.key[:32] + '"'
                if request.method == "GET" and etag[2:] in request.headers.get("if-none-match", ""):
                    replayable(request, keyed)
                    return Response(status_code=304, headers=self.public_headers(etag))
                entry = await cache.get(keyed.key)
                if entry is not None:
                    return self.cached_response(request, entry, keyed)

        document, errors = self.document(query)
        if errors or document is None:
            return graphql_response({"errors": [format_error(e, lang, request_id) for e in errors]})
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return graphql_response({"errors": [plain_error("BAD_USER_INPUT", lang)]})
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            return error_response(405, "MUTATION_OVER_GET", lang, allow="POST")
        if operation.operation == OperationType.SUBSCRIPTION:
            return graphql_response({"errors": [plain_error("BAD_USER_INPUT", lang)]})

        context: Context = await build_context(request, services, request_id)
        claim = None
        key = request.headers.get("idempotency-key")
        if (
            key
            and operation.operation == OperationType.MUTATION
            and context.viewer.user_id
            and not root_fields(document, operation) & self.credential_fields
        ):
            digest = idempotency.request_hash(query, variables, operation_name)
            try:
                claim = await idempotency.claim(f"u:{context.viewer.user_id}", key, digest)
            except idempotency.IdempotencyRefused as exc:
                return error_response(exc.status, exc.key, lang)
            if claim.replay is not None:
                return Response(
                    claim.replay,
                    media_type="application/json",
                    headers={"idempotent-replayed": "true"},
                )
        self.executions += 1
        # queries only: a mutation may wait on an SMS provider, and must not hold up reads
        turn = self.turns() if operation.operation == OperationType.QUERY else None
        if turn is not None:
            await turn.acquire()
        try:
            with data_versions.request_writes() as written:
                result = execute(
                    self.schema,
                    document,
                    variable_values=variables,
                    operation_name=operation_name,
                    context_value=context,
                    **self.execute_options,
                )
                if inspect.isawaitable(result):
                    result = await result
        except BaseException:
            if claim and claim.row:
                await idempotency.finish(claim.row, b"", keep=False)
            raise
        finally:
            if turn is not None:
                turn.release()
            if written:  # written outside a transaction: done by now for sure
                await data_versions.bump(written)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [format_error(e, context.lang, request_id) for e in result.errors]
        body["data"] = result.data
        if cache is not None and keyed is not None and not result.errors:
            entry = await cache.put(keyed.key, orjson.dumps(body))
            if entry is not None:
                return self.cached_response(request, entry, keyed)
        if request.method == "GET":
            return cacheable_response(request, body)
        payload = orjson.dumps(body)
        if claim and claim.row:
            await idempotency.finish(claim.row, payload, keep=not is_transient(body))
        return Response(payload, media_type="application/json")

    def turns(self) -> asyncio.Semaphore | None:
        """The queries of this event loop that may execute at once (`query_concurrency`),
        the others waiting in arrival order: under saturation uvloop starts newly read
        requests ahead of those already waiting on the database, and some answers took
        seconds while most took milliseconds. None: no bound."""
        if self.settings.query_concurrency <= 0:
            return None
        loop = asyncio.get_running_loop()
        found = self._turns.get(loop)
        if found is None:
            found = self._turns[loop] = asyncio.Semaphore(self.settings.query_concurrency)
        return found

    def public_headers(self, etag: str) -> dict[str, str]:
        """A public GET answer: the same for every anonymous client in one language."""
        return {
            "etag": etag,
            "cache-control": f"public, max-age={self.settings.response_cache_max_age}",
            "vary": "Accept-Language, Accept-Encoding, Authorization",
        }

    def cached_response(self, request: Request, entry: Entry, keyed: Keyed) -> Response:
        """An answer from the cache, or just put there: the same bytes and headers either
        way; compressed here (once, when kept) rather than by the GZip middleware. A GET's
        may be answered again by api.cache_hits while `keyed` holds."""
        headers: dict[str, str] = {}
        if request.method == "GET":
            headers = self.public_headers('W/"' + keyed.key[:32] + '"')
            replayable(request, keyed)
        body = entry.body
        if entry.gzipped is not None:
            headers["vary"] = "Accept-Language, Accept-Encoding, Authorization"
            # brotli (preferred when accepted) is left to the compression middleware
            codings = accepted(request.headers.get("accept-encoding", ""))
            if "gzip" in codings and "br" not in codings:
                body = entry.gzipped
                headers["content-encoding"] = "gzip"
        return Response(body, media_type="application/json", headers=headers)

    def admissible(self, query: str) -> bool:
        """Parsed, within every limit and valid: fit to be kept as a persisted query."""
        document, errors = self.document(query)
        return document is not None and not errors

    def document(self, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        if len(query) > self.settings.max_query_chars:
            return None, [graphql_error(QueryTooComplex("QUERY_TOO_COMPLEX"))]
        cached = self.documents.get(query)
        if cached is not None:
            return cached
        try:
            document = parse(query, max_tokens=self.settings.max_query_tokens)
        except GraphQLError as exc:
            if is_token_limit(exc):
                item: tuple[DocumentNode | None, list[GraphQLError]] = (
                    None,
                    [graphql_error(QueryTooComplex("QUERY_TOO_COMPLEX"))],
                )
            else:
                item = (None, [exc])
        else:
            # The limits first, in linear time: only a bounded document reaches validation.
            too_complex = check_document(document, self.limits)
            if too_complex is not None:
                item = (None, [graphql_error(too_complex)])
            else:
                errors = validate(self.schema, document, self.rules)
                item = (None if errors else document, list(errors))
        self.documents.put(query, item)
        return item


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def accepts_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def get_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    for name in ("variables", "extensions"):
        if params.get(name):
            try:
                params[name] = orjson.loads(params[name])
            except orjson.JSONDecodeError:
                raise RequestError(400, "BAD_REQUEST_BODY") from None
        else:
            params.pop(name, None)
    return params


async def post_params(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", "application/graphql-response+json"):
        raise RequestError(415, "UNSUPPORTED_CONTENT_TYPE")
    # its size is capped as it arrives by api.security.BodyLimitMiddleware (413)
    chunks = [chunk async for chunk in request.stream()]
    try:
        params = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise RequestError(400, "BAD_REQUEST_BODY") from None
    if not isinstance(params, dict):
        raise RequestError(400, "BAD_REQUEST_BODY")
    return params


def plain_error(code: str, lang: str, key: str | None = None) -> dict[str, Any]:
    return {"message": translate(key or code, lang), "extensions": {"code": code}}


def format_error(error: GraphQLError, lang: str, request_id: str) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, REDIS_DOWN) and not isinstance(original, AppError):
        # only what has no in-process fallback gets here: a clear code, not an internal error
        log.warning("service unavailable rid=%s: %r", request_id, original)
        original = ServiceUnavailable()
    app_error = original if isinstance(original, AppError) else error
    if isinstance(app_error, AppError):
        out: dict[str, Any] = {
            "message": translate(app_error.key, lang, **app_error.params),
            "extensions": dict(app_error.extensions or {}),
        }
    elif original is not None and not isinstance(original, GraphQLError) and error.path:
        # a resolver's crash; without a path it is a literal a scalar refused (validation)
        log.error("unhandled error rid=%s", request_id, exc_info=original)
        out = {
            "message": translate("INTERNAL_SERVER_ERROR", lang, request_id=request_id),
            "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        }
    else:  # syntax, validation and variable coercion errors: graphql-core's, translated
        out = {
            "message": graphql_message(error.message, lang),
            "extensions": {"code": BadUserInput.code},
        }
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    return out


def graphql_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(status: int, key: str, lang: str, allow: str | None = None) -> Response:
    error = plain_error("BAD_USER_INPUT", lang, key)
    error["extensions"]["reason"] = key
    response = graphql_response({"errors": [error]}, status)
    if allow:
        response.headers["allow"] = allow
    return response


def cacheable_response(request: Request, body: dict[str, Any]) -> Response:
    """GET answers carry an ETag; a client holding the same one gets 304 and no body.
    Weak: it names the answer, whichever encoding (br, gzip, none) carries it."""
    payload = orjson.dumps(body)
    etag = 'W/"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
    headers = {
        "etag": etag,
        "cache-control": "private, no-cache",
        "vary": "Authorization, Accept-Language",
    }
    if etag.removeprefix("W/") in request.headers.get("if-none-match", ""):  # weak comparison
        return Response(status_code=304, headers=headers)
    return Response(payload, media_type="application/json", headers=headers)
