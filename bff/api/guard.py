"""Authentication and the request rate, before any work: pure ASGI around the app.

Requests that can start work (GraphQL over HTTP, chat, the demo fault switch)
present credentials and count against their client's rate; a refusal is a 401
(with ``www-authenticate``) or a 429 (with ``retry-after``) in the route's own
error shape, sent before the body is read. The caller's ``Principal`` goes in
``scope["state"]["principal"]``. WebSockets authenticate in the GraphQL view, at
``connection_init``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from bff.api.errors import error_for
from bff.api.identity import Authenticator, header_credential
from bff.exceptions import ClientLimitError, UnauthenticatedError
from bff.ratelimit import Gate

_OPERATION_PARAMETERS = {"query", "documentId", "extensions"}


def _needs_credentials(scope: Scope) -> bool:
    path: str = scope["path"]
    method: str = scope["method"]
    if path == "/graphql":
        # The GraphiQL page itself is static; a POST, or a GET that names a document
        # (however its parameters are spelled), is an operation.
        names = {name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"))}
        return method != "GET" or bool(names & _OPERATION_PARAMETERS)
    return path.startswith("/chat/") or (path == "/demo/faults" and method != "GET")


class GuardMiddleware:
    """See the module docstring; ``refused`` is told the reason of each refusal."""

    def __init__(
        self,
        app: ASGIApp,
        authenticator: Authenticator,
        gate: Gate,
        refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.gate = gate
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _needs_credentials(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        address = scope["client"][0] if scope.get("client") else "unknown"
        try:
            principal = await self.authenticator.authenticate(header_credential(headers), address)
            await self.gate.hit(principal)
        except UnauthenticatedError as exc:
            self.refused("unauthenticated")
            challenge = {"www-authenticate": 'Bearer realm="bff"'}
            refusal = error_for(scope, 401, "UNAUTHENTICATED", str(exc), challenge)
        except ClientLimitError as exc:
            self.refused(exc.limit)
            wait = {"retry-after": str(math.ceil(exc.retry_after))}
            refusal = error_for(scope, 429, "RATE_LIMITED", str(exc), wait)
        else:
            scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send)
            return
        await refusal(scope, receive, send)
