"""The demo page at ``/`` and the operations it sends, at ``/operations.json``.

Both ship inside the package (``bff/_static/``, put there when the wheel is
built) and are read from the source tree in a checkout or an editable install.
The page is plain HTML, CSS and ES modules: nothing to build. It is served with
a Content-Security-Policy that allows only its own scripts and styles, so even
a rendering bug could not run text from a model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from bff.api.errors import json_error
from bff.api.operations import Operation, load_operations
from bff.api.trusted import document_id

_PACKAGE = Path(__file__).resolve().parents[1]
_SOURCES = {"frontend": "frontend-demo", "operations": "graphql/operations"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def asset_dir(name: str) -> Path | None:
    """Where the ``frontend`` or the ``operations`` are: packaged, else the source tree."""
    for path in (_PACKAGE / "_static" / name, _PACKAGE.parent / _SOURCES[name]):
        if path.is_dir():
            return path
    return None


class Frontend(StaticFiles):
    """The page's files, under a policy that keeps model text inert (the other security
    headers come from ``bff.api.headers``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await not_found(scope, receive, send)  # nothing here but files to read
            return

        async def secured(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                message["headers"] = [*headers, (b"content-security-policy", CSP.encode())]
            await send(message)

        await super().__call__(scope, receive, secured)  # type: ignore[arg-type]


def packaged_operations() -> dict[str, Operation]:
    """The operations the page sends (and the trusted documents), by name."""
    directory = asset_dir("operations")
    return load_operations(directory) if directory is not None else {}


def operations_endpoint(
    loaded: Mapping[str, Operation],
) -> Callable[[Request], Awaitable[Response]]:
    """The operations as JSON (by name: kind, root field, document and its id)."""
    body = {
        name: {
            "kind": op.kind,
            "field": op.field,
            "document": op.document,
            "id": document_id(op.document),
        }
        for name, op in loaded.items()
    }

    async def operations(request: Request) -> Response:
        return JSONResponse(body)

    return operations


def frontend_app() -> ASGIApp:
    """What answers every path no route has: the page's files, when installed."""
    directory = asset_dir("frontend")
    return not_found if directory is None else Frontend(directory=directory, html=True)


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """404 for a path (or a method on it) that nothing answers."""
    if scope["type"] == "websocket":
        await WebSocketClose()(scope, receive, send)
        return
    await json_error(404, "NOT_FOUND", "no such route")(scope, receive, send)
