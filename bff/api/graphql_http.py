"""GraphQL over HTTP, following the GraphQL-over-HTTP specification's SHOULDs too.

Stock strawberry answers every request ``application/json`` with status 200.
This view also speaks ``application/graphql-response+json`` to clients that
accept it: a document that fails to parse or validate, or variables that fail
coercion, get status 400 and a body with ``errors`` and no ``data`` entry.
Mutations over GET get 405; request errors are JSON ``errors`` bodies, never
plain text.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from bff.api.drain import Drain
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

GRAPHQL_RESPONSE = "application/graphql-response+json"
_STATUS_FOR_REASON = {"Unsupported content type": 415}


def _wants_graphql_response(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return GRAPHQL_RESPONSE in accept


def _operation_type(query: str, operation_name: str | None) -> OperationType | None:
    try:
        document = parse(query)
    except GraphQLError:
        return None
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None
            or (definition.name is not None and definition.name.value == operation_name)
        ):
            return definition.operation
    return None


class GraphQLView(GraphQL):
    """Strawberry's ASGI view with the spec's status codes and media types."""

    def __init__(self, schema: BaseSchema, drain: Drain | None = None) -> None:
        self._drain = drain
        super().__init__(
            schema,
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )

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
            if _wants_graphql_response(request):
                body.pop("data", None)
        return body

    def _adapt(self, request: Request, response: Response) -> None:
        if not _wants_graphql_response(request):
            return
        if response.headers.get("content-type", "").startswith("application/json"):
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if getattr(request.state, "graphql_request_error", False):
                response.status_code = 400

    def _refuse_get_mutation(self, request: Request) -> Response | None:
        query = request.query_params.get("query")
        if request.method != "GET" or not query:
            return None
        kind = _operation_type(query, request.query_params.get("operationName"))
        if kind in (OperationType.MUTATION, OperationType.SUBSCRIPTION):
            response = self._errors(request, f"{kind.value}s need POST, not GET", 405)
            response.headers["allow"] = "POST"
            return response
        return None

    def _errors(self, request: Request, message: str, status: int) -> Response:
        media = GRAPHQL_RESPONSE if _wants_graphql_response(request) else "application/json"
        body: dict[str, Any] = {"errors": [{"message": message}]}
        return Response(json.dumps(body), status_code=status, media_type=media)
