"""The error envelope of each transport, built here and nowhere else.

- GraphQL (``/graphql``): ``{"errors": [{"message", "extensions": {"code"}}]}``, as
  ``application/graphql-response+json`` when the client accepts it.
- Everything else (chat, the fault switch, the page's routes, metrics):
  ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

GRAPHQL_RESPONSE = "application/graphql-response+json"
Endpoint = Callable[[Request], Awaitable[Response]]


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """``{"error": {"code", "message"}}``."""
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def graphql_error(
    status: int,
    message: str,
    code: str | None = None,
    *,
    graphql_response: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``{"errors": [{"message", "extensions": {"code"}}]}`` (no ``extensions`` without a
    code), in the media type the client asked for."""
    error: dict[str, object] = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    media = GRAPHQL_RESPONSE if graphql_response else "application/json"
    return Response(
        json.dumps({"errors": [error]}), status_code=status, media_type=media, headers=headers
    )


def wants_graphql_response(headers: Headers) -> bool:
    return GRAPHQL_RESPONSE in headers.get("accept", "")


def error_for(
    scope: Scope,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The error response of the transport ``scope`` belongs to (by its path)."""
    if scope["path"] == "/graphql":
        wanted = wants_graphql_response(Headers(scope=scope))
        return graphql_error(status, message, code, graphql_response=wanted, headers=headers)
    return json_error(status, code, message, headers)
