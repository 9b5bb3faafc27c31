"""GraphQL subscriptions over WebSocket (the graphql-transport-ws protocol) on `/graphql`.

The protocol — connection_init and its ack, ping/pong, subscribe/next/error/complete and
the close codes 4400, 4401, 4403, 4408, 4409, 4429 — is graphql-server's
(`graphql_server.asgi.GraphQL` and its transport handler). Ours are the parts it leaves to
the application: who is connecting (the access token in connection_init's payload), what a
subscribe message may carry (shape, size, the same query limits and validation as HTTP,
subscriptions only), how each event is executed (our executor) and how errors read (our
codes and languages).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import timedelta
from inspect import isawaitable
from typing import Any, cast

import jwt
import orjson
from graphql import (
    ExecutionResult,
    OperationType,
    execute,
    get_operation_ast,
)
from graphql.execution import create_source_event_stream
from graphql_server.asgi import GraphQL
from graphql_server.exceptions import ConnectionRejectionError
from graphql_server.http import GraphQLRequestData
from graphql_server.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from graphql_server.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from graphql_server.types.unset import UNSET
from starlette.websockets import WebSocket, WebSocketState

from api.context import Context, load_viewer
from api.endpoint import GraphQLEndpoint, format_error, plain_error
from api.input_text import NUL_KEY, has_nul
from api.loaders import Loaders
from api.ratelimit import address_key
from api.services import Services
from models.accounts import Session
from models.errors import RateLimited
from models.messages import pick_language, translate
from models.policy import Viewer

log = logging.getLogger("cunwu.live")
DOCUMENT = "__document"  # where a checked document travels to get_graphql_request_data
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_BIG = 1009  # RFC 6455 "message too big"
CLOSE_TOO_MANY = 1013  # RFC 6455 "try again later": graphql-ws clients retry with backoff
# a subscribe is at most a 20,000-character query (the HTTP limit) and a few variables
MAX_MESSAGE_CHARS = 64 * 1024


class MessageTooBig(Exception):
    pass


class TooManySockets(Exception):
    pass


@dataclass
class LiveContext(Context):
    """One socket's context: every operation on it shares the viewer it signed in as."""

    connection_params: dict[str, Any] | None = None
    expiry: asyncio.Task[None] | None = None
    counted_user: int | None = None  # this socket holds one of the user's places


def short_reason(text: str) -> str:
    """A close frame carries at most 123 bytes of reason; a longer one is a protocol error
    (the client sees 1006, not the code): cut on a character boundary."""
    return text.encode()[:123].decode(errors="ignore")


def token_from(params: dict[str, Any] | None) -> str | None:
    """connection_init's payload: {"authorization": "Bearer <token>"} or {"token": "<token>"}."""
    if not params:
        return None
    for key, value in params.items():
        if isinstance(key, str) and key.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    plain = params.get("token")
    return plain.strip() if isinstance(plain, str) and plain.strip() else None


def expires_at(token: str) -> float | None:
    """The token's expiry (epoch seconds); read only after load_viewer verified it."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, (int, float)) else None


class TransportHandler(BaseGraphQLTransportWSHandler[LiveContext, None]):
    view: LiveSocket
    context: LiveContext
    address: str | None = None  # while this socket holds a not-yet-signed-in place
    recent: deque[float] | None = None  # when its last subscribe messages came

    async def handle(self) -> None:
        # sockets that never sign in each cost a task until the init timeout: a few per
        # address at once (signed-in ones are counted per user, so a shared NAT is fine)
        # all sockets from one address are bounded too (a carrier's NAT can put a village
        # behind one address, so the bound is loose): counted in this process only
        view, address = self.view, address_key(self.context.ip)
        if view.pending[address] >= view.max_pending or view.sockets[address] >= view.max_sockets:
            await self.websocket.close(CLOSE_TOO_MANY, "Too many connections")
            return
        view.pending[address] += 1
        view.sockets[address] += 1
        self.address = address
        try:
            await super().handle()
        except MessageTooBig:
            with contextlib.suppress(Exception):
                await self.websocket.close(CLOSE_TOO_BIG, "Message too big")
        finally:
            self.release_pending()
            view.sockets[address] -= 1
            if view.sockets[address] <= 0:
                del view.sockets[address]
            if self.context.counted_user is not None:
                view.release_user(self.context.counted_user)
                self.context.counted_user = None

    def release_pending(self) -> None:
        address, self.address = self.address, None
        if address is not None:
            self.view.pending[address] -= 1
            if self.view.pending[address] <= 0:
                del self.view.pending[address]

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManySockets:
            await self.websocket.close(CLOSE_TOO_MANY, "Too many connections")
        finally:
            if self.connection_init_received:  # signed in or refused: no longer pending
                self.release_pending()

    async def handle_message(self, message: Any) -> None:
        # the library indexes the message; anything but an object with a type is a 4400
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.handle_invalid_message("Invalid message")
            return
        await super().handle_message(message)  # type: ignore[arg-type]

    async def handle_subscribe(self, message: Any) -> None:
        if not self.connection_acknowledged:
            await self.websocket.close(code=4401, reason="Unauthorized")
            return
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or len(op_id) > 128:
            await self.handle_invalid_message("Invalid subscribe id")
            return
        if not isinstance(payload, dict):
            await self.handle_invalid_message("Invalid subscribe payload")
            return
        query = payload.get("query")
        variables = payload.get("variables")
        operation_name = payload.get("operationName")
        if (
            not isinstance(query, str)
            or (variables is not None and not isinstance(variables, dict))
            or (operation_name is not None and not isinstance(operation_name, str))
        ):
            await self.handle_invalid_message("Invalid subscribe payload")
            return
        if op_id in self.operations:
            reason = short_reason(f"Subscriber for {op_id} already exists")
            await self.websocket.close(code=4409, reason=reason)
            return
        lang = self.context.lang
        wait = self.throttle()
        if wait:
            # each subscribe parses a document and reads the inbox (since=0: a page of it);
            # a client loops subscribe/complete only by mistake or on purpose
            error = RateLimited(wait)
            message = translate(error.key, lang, **error.params)
            await self.send_errors(op_id, [{"message": message, "extensions": error.extensions}])
            return
        if len(self.operations) >= self.view.max_operations:
            await self.refuse(op_id, "TOO_MANY_SUBSCRIPTIONS")
            return
        if (variables and has_nul(variables)) or (operation_name and has_nul(operation_name)):
            await self.refuse(op_id, NUL_KEY)
            return
        # the HTTP endpoint's cache: size, token and cost limits first, then validation
        document, errors = self.view.endpoint.document(query)
        if errors or document is None:
            request_id = self.context.request_id
            await self.send_errors(op_id, [format_error(e, lang, request_id) for e in errors])
            return
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            await self.refuse(op_id, "BAD_USER_INPUT")
            return
        if operation.operation != OperationType.SUBSCRIPTION:
            # queries and mutations go over HTTP (idempotency keys, rate limits, caching)
            await self.refuse(op_id, "SUBSCRIPTION_ONLY")
            return
        checked = {**payload, DOCUMENT: document}
        await super().handle_subscribe(
            cast(Any, {"id": op_id, "type": "subscribe", "payload": checked})
        )

    async def handle_invalid_message(self, error_message: str) -> None:
        # the library quotes an unknown type in the reason: keep it a valid close frame
        await self.websocket.close(code=4400, reason=short_reason(error_message))

    def throttle(self) -> int:
        """Seconds until this socket may subscribe again (0: now; the attempt counts)."""
        limit, now = self.view.subscribes_per_minute, time.monotonic()
        recent = self.recent = self.recent if self.recent is not None else deque(maxlen=limit)
        if len(recent) >= limit and now - recent[0] < 60:
            return max(1, math.ceil(60 - (now - recent[0])))
        recent.append(now)
        return 0

    async def send_errors(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        await self.send_message(cast(Any, {"id": op_id, "type": "error", "payload": errors}))

    async def refuse(self, op_id: str, key: str) -> None:
        await self.send_errors(op_id, [plain_error("BAD_USER_INPUT", self.context.lang, key)])

    def forget_id(self, id: str) -> None:
        self.operations.pop(id, None)  # the library's `del` fails for one already cleaned up

    async def run_operation(self, operation: Operation[LiveContext, None]) -> None:
        """Execute the subscription with our executor; errors in our shapes."""
        ctx = self.context
        data = operation.request_data
        document = data.document
        assert document is not None
        try:
            source = await create_source_event_stream(
                self.schema,
                document,
                context_value=ctx,
                variable_values=data.variables,
                operation_name=data.operation_name,
            )
            if isinstance(source, ExecutionResult):  # variables, or the field refused to start
                await send(operation, "error", self.shape(source)["errors"])
                return
            try:
                async for event in source:
                    result = execute(
                        self.schema,
                        document,
                        root_value=event,
                        context_value=ctx,
                        variable_values=data.variables,
                        operation_name=data.operation_name,
                        **self.view.endpoint.execute_options,
                    )
                    if isawaitable(result):
                        result = await result
                    await send(operation, "next", self.shape(result))
            finally:
                aclose = getattr(source, "aclose", None)
                if aclose is not None:
                    await aclose()
            await send(operation, "complete")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self.websocket_gone():
                log.debug("live: socket gone during operation %s: %r", operation.id, exc)
            else:
                log.exception("live: operation failed rid=%s", ctx.request_id)
                rid = ctx.request_id
                error = {
                    "message": translate("INTERNAL_SERVER_ERROR", ctx.lang, request_id=rid),
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": rid},
                }
                with contextlib.suppress(Exception):
                    await send(operation, "error", [error])
        finally:
            if self.operations.get(operation.id) is operation:  # not a successor's same id
                del self.operations[operation.id]
            task = asyncio.current_task()
            if task is not None:
                self.completed_tasks.append(task)

    def shape(self, result: ExecutionResult) -> dict[str, Any]:
        ctx = self.context
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [format_error(e, ctx.lang, ctx.request_id) for e in result.errors]
        out["data"] = result.data
        return out

    def websocket_gone(self) -> bool:
        ws: WebSocket = self.context.request  # type: ignore[assignment]
        return WebSocketState.DISCONNECTED in (ws.client_state, ws.application_state)

    async def shutdown(self) -> None:
        if self.context.expiry is not None:
            self.context.expiry.cancel()
        await super().shutdown()


class LiveSocket(GraphQL[LiveContext, None]):
    """The ASGI app for WebSocket requests to /graphql (HTTP stays with GraphQLEndpoint)."""

    graphql_transport_ws_handler_class = TransportHandler

    def __init__(self, endpoint: GraphQLEndpoint) -> None:
        settings = endpoint.settings
        super().__init__(
            endpoint.schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            # the legacy graphql-ws (subscriptions-transport-ws) protocol is not offered:
            # a socket asking only for it is accepted and closed with 4406
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.live_init_timeout_seconds),
        )
        self.endpoint = endpoint
        self.max_operations = settings.live_max_subscriptions
        self.max_user_sockets = settings.live_max_sockets_per_user
        self.max_pending = settings.live_max_pending_per_address
        self.max_sockets = settings.live_max_sockets_per_address
        self.subscribes_per_minute = max(1, settings.live_subscribes_per_minute)
        self.pending: Counter[str] = Counter()  # per address, sockets not yet signed in
        self.sockets: Counter[str] = Counter()  # per address, every open socket
        self.users: Counter[int] = Counter()  # per user, signed-in sockets

    def release_user(self, user_id: int) -> None:
        self.users[user_id] -= 1
        if self.users[user_id] <= 0:
            del self.users[user_id]

    def decode_json(self, data: str | bytes) -> object:
        # uvicorn takes frames up to 16 MiB by default (scripts.serve lowers it); whatever
        # serves us, nothing that large is parsed
        if len(data) > MAX_MESSAGE_CHARS:
            raise MessageTooBig
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()

    async def get_root_value(self, request: Any) -> None:
        return None

    async def get_context(self, request: Any, response: Any) -> LiveContext:
        services: Services = request.app.state.services
        request_id = request.scope.get("state", {}).get("request_id", "-")
        viewer = Viewer()
        return LiveContext(
            request=request,
            services=services,
            viewer=viewer,
            lang=pick_language(request.headers.get("accept-language")),
            request_id=request_id,
            loaders=Loaders(services.region_cache),
        )

    async def setup_connection_params(
        self, connection_params: Any, websocket: Any, context: Any, root_value: Any
    ) -> None:
        context.connection_params = connection_params

    async def on_ws_connect(self, context: LiveContext) -> Any:
        """Signed-in users only: a missing, bad, expired or revoked token closes with 4403."""
        token = token_from(context.connection_params)
        if token is None:
            raise ConnectionRejectionError()
        viewer = await load_viewer(context.settings.auth, f"Bearer {token}")
        if viewer.user is None:
            raise ConnectionRejectionError()
        # a stolen token, or a buggy app reconnecting in a loop, must not hold
        # unbounded sockets (each a task, a queue and a session check)
        uid = viewer.user.id
        if self.users[uid] >= self.max_user_sockets:
            raise TooManySockets
        self.users[uid] += 1
        context.counted_user = uid
        viewer.ip = context.ip
        viewer.request_id = context.request_id
        context.viewer = viewer
        lang = (context.connection_params or {}).get("acceptLanguage")
        if isinstance(lang, str):
            context.lang = pick_language(lang)
        exp = expires_at(token)
        # the socket lives no longer than its token (the client reconnects with a fresh one
        # and `since`) nor than its session: a sign-out, a password reset or a disabled
        # account closes it within LIVE_SESSION_CHECK_SECONDS
        context.expiry = asyncio.create_task(
            watch(
                cast(WebSocket, context.request),
                viewer.session_id,
                exp,
                context.settings.live_session_check_seconds,
            )
        )
        return UNSET

    async def get_graphql_request_data(
        self, request: Any, context: Any, data: dict[str, Any], protocol: Any
    ) -> GraphQLRequestData:
        return GraphQLRequestData(
            query=data.get("query"),
            document=data.get(DOCUMENT),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
            protocol=protocol,
        )


async def send(operation: Operation[LiveContext, None], kind: str, payload: Any = None) -> None:
    message: dict[str, Any] = {"id": operation.id, "type": kind}
    if payload is not None:
        message["payload"] = payload
    await operation.send_operation_message(cast(Any, message))


async def session_alive(session_id: str | None) -> bool:
    if session_id is None:
        return False
    session = await Session.get_or_none(id=session_id, revoked_at=None).select_related("user")
    return session is not None and session.user.is_active


async def watch(
    websocket: WebSocket, session_id: str | None, exp: float | None, every: float
) -> None:
    reason = "Forbidden: token expired"
    while True:
        left = float("inf") if exp is None else exp - time.time()
        if left <= 0:
            break
        await asyncio.sleep(min(left, every))
        if exp is not None and time.time() >= exp:
            break
        try:
            alive = await session_alive(session_id)
        except Exception:  # the database away for a moment: look again next time
            log.warning("live: could not check a socket's session", exc_info=True)
            continue
        if not alive:
            reason = "Forbidden: session ended"
            break
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code=CLOSE_FORBIDDEN, reason=reason)
