"""GraphQL over HTTP and over graphql-transport-ws, with the edge's checks.

Stock strawberry answers every request ``application/json`` with status 200.
This view also speaks ``application/graphql-response+json`` to clients that
accept it: a document that fails to parse or validate, or variables that fail
coercion, get status 400 and a body with ``errors`` and no ``data`` entry.
Mutations over GET get 405; request errors are JSON ``errors`` bodies, never
plain text, and never a 500: a body that is not UTF-8, not JSON, or not a JSON
object is a 400. Documents may be sent by id (``bff.api.trusted``); responses
over the size limit are replaced by an error. On WebSockets the caller
authenticates in ``connection_init`` (or the upgrade's headers) and each
``subscribe`` counts against the client's request rate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import anyio
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult

from bff.api.errors import GRAPHQL_RESPONSE, graphql_error, wants_graphql_response
from bff.api.identity import Authenticator, header_credential, payload_credential
from bff.api.runtime import Services
from bff.api.trusted import DocumentError, TrustedDocuments
from bff.clients import Principal
from bff.exceptions import ClientLimitError, UnauthenticatedError
from bff.ratelimit import Gate
from graphql import (
    GraphQLError,
    GraphQLFormattedError,
    OperationDefinitionNode,
    OperationType,
    parse,
)

_STATUS_FOR_REASON = {"Unsupported content type": 415}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


@dataclass(frozen=True, slots=True)
class GraphQLEdge:
    """What the view enforces besides GraphQL itself."""

    authenticator: Authenticator
    gate: Gate
    trusted: TrustedDocuments = field(default_factory=lambda: TrustedDocuments({}))
    max_response_bytes: int = 1_048_576
    max_document_tokens: int = 500
    graphiql: bool = True
    origins: tuple[str, ...] = ()
    """Other origins whose pages may open a WebSocket (same-origin ones always may)."""
    refused: Callable[[str], None] = lambda reason: None
    """Told of each refusal: unauthenticated, rate, bad_document."""


class _RequestError(Exception):
    """A request the view refuses before GraphQL sees it."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _operation_type(
    query: str, operation_name: str | None, max_tokens: int
) -> OperationType | None:
    try:
        document = parse(query, max_tokens=max_tokens)
    except (GraphQLError, RecursionError):
        return None
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None
            or (definition.name is not None and definition.name.value == operation_name)
        ):
            return definition.operation
    return None


def _decode_json(text: str | bytes) -> object:
    """JSON text, or a 400: not UTF-8, not JSON, nested too deep, numbers too long."""
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except UnicodeDecodeError:
        raise _RequestError(400, "the request body is not UTF-8", "BAD_REQUEST") from None
    except (ValueError, RecursionError):  # JSONDecodeError, the int digit limit, nesting
        raise _RequestError(400, "the request is not valid JSON", "BAD_REQUEST") from None


def _json_object(body: bytes) -> dict[str, Any]:
    data = _decode_json(body)
    if isinstance(data, list):
        raise _RequestError(400, "batched requests are not supported", "BAD_REQUEST")
    if not isinstance(data, dict):
        raise _RequestError(400, "the request body must be a JSON object", "BAD_REQUEST")
    return data


def _request_data(data: dict[str, Any], trusted: TrustedDocuments) -> GraphQLRequestData:
    try:
        query = trusted.resolve(data.get("query"), data.get("documentId"), data.get("extensions"))
    except DocumentError as exc:
        raise _RequestError(400, exc.message, exc.code) from None
    for name, value, kinds in (
        ("query", query, (str,)),
        ("operationName", data.get("operationName"), (str,)),
        ("variables", data.get("variables"), (dict,)),
        ("extensions", data.get("extensions"), (dict,)),
    ):
        if value is not None and not isinstance(value, kinds):
            expected = "a string" if kinds == (str,) else "an object"
            raise _RequestError(400, f"`{name}` must be {expected} or null", "BAD_REQUEST")
    return GraphQLRequestData(
        query=cast(str | None, query),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


def _graphiql_csp(html: str) -> str:
    """A policy for the GraphiQL page: its pinned CDN files and its one inline script."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html.encode())
    )
    return (
        f"default-src 'none'; script-src https://unpkg.com {hashes}; "
        "style-src https://unpkg.com 'unsafe-inline'; img-src 'self' data: https://unpkg.com; "
        "font-src https://unpkg.com data:; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


class _TransportWSHandler(BaseGraphQLTransportWSHandler[dict[str, Any], None]):
    """graphql-transport-ws with authentication at ``connection_init`` (close 4401 on
    missing or bad credentials), documents by id, and a rate check per ``subscribe``."""

    @property
    def _edge(self) -> GraphQLEdge:
        return cast(GraphQLView, self.view).edge

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        if isinstance(payload, dict) and not self.connection_init_received:
            socket: WebSocket = self.context["request"]
            credential = payload_credential(payload) or header_credential(socket.headers)
            address = socket.client.host if socket.client else "unknown"
            try:
                principal = await self._edge.authenticator.authenticate(credential, address)
            except UnauthenticatedError as exc:
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                self._edge.refused("unauthenticated")
                await self.websocket.close(code=4401, reason=f"Unauthorized: {exc}"[:120])
                return
            self.context["principal"] = principal
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: object = message.get("payload")
        if not self.connection_acknowledged:
            await super().handle_subscribe(message)  # closes the socket with 4401
            return
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="subscribe needs a payload object")
            return
        try:
            data = _request_data(payload, self._edge.trusted)
            if data.query is None:
                raise _RequestError(400, "subscribe needs a query or a documentId", "BAD_REQUEST")
            await self._edge.gate.hit(self.context["principal"])
        except _RequestError as exc:
            self._edge.refused("bad_document")
            await self._error(message["id"], exc.message, {"code": exc.code})
            return
        except ClientLimitError as exc:
            self._edge.refused(exc.limit)
            extensions = {"code": "RATE_LIMITED", "retryAfter": exc.retry_after}
            await self._error(message["id"], str(exc), extensions)
            return
        payload["query"] = data.query
        await super().handle_subscribe(message)

    async def _error(self, op_id: str, message: str, extensions: dict[str, object]) -> None:
        error: GraphQLFormattedError = {"message": message, "extensions": extensions}
        await self.send_message(ErrorMessage(id=op_id, type="error", payload=[error]))


class GraphQLView(GraphQL):
    """Strawberry's ASGI view with the spec's status codes and media types and the
    edge's checks; see the module docstring."""

    graphql_transport_ws_handler_class = _TransportWSHandler  # type: ignore[assignment]

    def __init__(self, schema: BaseSchema, services: Services, edge: GraphQLEdge) -> None:
        self._services = services
        self._drain = services.drain
        self.edge = edge
        super().__init__(
            schema,
            graphql_ide="graphiql" if edge.graphiql else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            allowed_origins=edge.origins,
        )
        self._ide_csp = _graphiql_csp(self.graphql_ide_html) if edge.graphiql else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        response = self._refuse_get_mutation(request)
        if response is None:
            await request.body()  # read (and cache) it before watching for a hang-up
            response = await self._run_until_disconnect(request, receive)
            if response is None:
                return  # the client went away: the run was cancelled, nobody to answer
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Any:
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        return {
            "request": request,
            "response": response,
            "principal": principal,
            "services": self._services,
        }

    async def parse_http_body(self, request: Any) -> GraphQLRequestData:
        if request.method == "GET":
            return _request_data(self.parse_query_params(request.query_params), self.edge.trusted)
        media = (request.content_type or "").partition(";")[0].strip().lower()
        if media != "application/json":
            raise HTTPException(415, "Unsupported content type")
        return _request_data(_json_object(await request.get_body()), self.edge.trusted)

    def decode_json(self, data: str | bytes) -> object:
        return _decode_json(data)

    def encode_json(self, data: object) -> str:
        encoded = json.dumps(data, separators=(",", ":"))
        if len(encoded) <= self.edge.max_response_bytes:
            return encoded
        error = {
            "message": f"the response would be over {self.edge.max_response_bytes} bytes",
            "extensions": {"code": "RESPONSE_TOO_LARGE"},
        }
        if isinstance(data, dict) and data.get("type") == "next":
            return json.dumps({**data, "payload": {"data": None, "errors": [error]}})
        return json.dumps({"data": None, "errors": [error]})

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(
            self.graphql_ide_html, headers={"content-security-policy": self._ide_csp}
        )

    async def _run_until_disconnect(self, request: Request, receive: Receive) -> Response | None:
        """Execute the request, cancelling it (run, retries, upstream call) if the
        client disconnects first, or if the server's drain window closes first."""
        response: Response | None = None
        drained = False
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            async def drain() -> None:
                nonlocal drained
                assert self._drain is not None
                await self._drain.over()
                drained = True
                group.cancel_scope.cancel()

            group.start_soon(watch)
            if self._drain is not None:
                group.start_soon(drain)
            try:
                response = await self.run(request)
            except HTTPException as exc:
                status = _STATUS_FOR_REASON.get(exc.reason, exc.status_code)
                response = self._errors(request, exc.reason, status)
            except _RequestError as exc:
                self.edge.refused("bad_document")
                response = self._errors(request, exc.message, exc.status, exc.code)
            else:
                self._adapt(request, response)
            group.cancel_scope.cancel()
        if drained:
            response = self._errors(request, "the server is shutting down; try again", 503)
            response.headers["retry-after"] = "1"
        return response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body = process_result(result)
        # A request error: nothing was executed (no field path on any error).
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            request.state.graphql_request_error = True
            if wants_graphql_response(request.headers):
                body.pop("data", None)
        return body

    def _adapt(self, request: Request, response: Response) -> None:
        if not wants_graphql_response(request.headers):
            return
        if response.headers.get("content-type", "").startswith("application/json"):
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if getattr(request.state, "graphql_request_error", False):
                response.status_code = 400

    def _refuse_get_mutation(self, request: Request) -> Response | None:
        query = request.query_params.get("query")
        if request.method != "GET" or not query:
            return None
        name = request.query_params.get("operationName")
        kind = _operation_type(query, name, self.edge.max_document_tokens)
        if kind in (OperationType.MUTATION, OperationType.SUBSCRIPTION):
            response = self._errors(request, f"{kind.value}s need POST, not GET", 405)
            response.headers["allow"] = "POST"
            return response
        return None

    def _errors(
        self, request: Request, message: str, status: int, code: str | None = None
    ) -> Response:
        wanted = wants_graphql_response(request.headers)
        return graphql_error(status, message, code, graphql_response=wanted)
