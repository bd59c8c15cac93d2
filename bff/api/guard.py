"""Authentication and the request rate, before any work: pure ASGI around the app.

Requests that can start work (GraphQL over HTTP, chat, the demo fault switch)
present credentials and count against their client's rate; a refusal is a 401
(with ``www-authenticate``) or a 429 (with ``retry-after``) in the route's own
error shape, sent before the body is read. The caller's ``Principal`` goes in
``scope["state"]["principal"]``. WebSockets authenticate in the GraphQL view, at
``connection_init``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from bff.api.identity import Authenticator, header_credential
from bff.exceptions import ClientLimitError, UnauthenticatedError
from bff.ratelimit import ClientGate

_HEADERS = (b"authorization", b"x-api-key")
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
        gate: ClientGate,
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
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _HEADERS
        }
        address = scope["client"][0] if scope.get("client") else "unknown"
        try:
            principal = await self.authenticator.authenticate(header_credential(headers), address)
            self.gate.hit(principal)
        except UnauthenticatedError as exc:
            self.refused("unauthenticated")
            await _refuse(scope, send, 401, "UNAUTHENTICATED", str(exc), www_authenticate=True)
            return
        except ClientLimitError as exc:
            self.refused(exc.limit)
            await _refuse(scope, send, 429, "RATE_LIMITED", str(exc), retry_after=exc.retry_after)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _refuse(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    www_authenticate: bool = False,
    retry_after: float | None = None,
) -> None:
    body: dict[str, object]
    media = b"application/json"
    if scope["path"] == "/graphql":
        body = {"errors": [{"message": message, "extensions": {"code": code}}]}
        accept = dict(scope["headers"]).get(b"accept", b"")
        if b"application/graphql-response+json" in accept:
            media = b"application/graphql-response+json"
    else:
        body = {"error": {"code": code, "message": message}}
    content = json.dumps(body).encode()
    headers = [
        (b"content-type", media),
        (b"content-length", str(len(content)).encode()),
    ]
    if www_authenticate:
        headers.append((b"www-authenticate", b'Bearer realm="bff"'))
    if retry_after is not None:
        headers.append((b"retry-after", str(math.ceil(retry_after)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
