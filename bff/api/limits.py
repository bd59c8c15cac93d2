"""Request bodies at the edge: a size limit (413), a read deadline (408), a client
that goes away mid-body logged at info, not as an application error; and what a
JSON route accepts.
"""

from __future__ import annotations

import logging

import anyio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bff.api.errors import error_for
from bff.observe.logs import log_event

logger = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class _ClientGone(Exception):
    pass


class BodyLimitMiddleware:
    """Pure ASGI: answers 413 when ``content-length`` or the bytes received pass
    ``limit``, and 408 when the whole body has not arrived ``timeout_s`` after the
    request's headers (a client that trickles a body cannot hold a worker)."""

    def __init__(self, app: ASGIApp, limit: int, timeout_s: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _Body(receive, self.limit, self.timeout_s)
        length = Headers(scope=scope).get("content-length", "0")
        if length.isdigit() and int(length) > self.limit:
            await _refuse(scope, receive, send, 413, body.too_large)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, body.receive, tracking_send)
        except _ClientGone:
            log_event(
                logger,
                "the client went away before its body arrived",
                event="client_gone",
                path=scope["path"],
                received_bytes=body.received,
            )
        except _Refused as exc:
            if started:
                raise
            await _refuse(scope, receive, send, exc.status, exc.message)


class _Body:
    """A request's ``receive``, held to the size limit and the deadline until the
    whole body has arrived; a disconnect before then ends the request quietly."""

    def __init__(self, receive: Receive, limit: int, timeout_s: float) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout_s = timeout_s
        self._deadline = anyio.current_time() + timeout_s
        self.received = 0
        self.complete = False

    @property
    def too_large(self) -> str:
        return f"the request body is over the {self._limit}-byte limit"

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        with anyio.move_on_at(self._deadline):
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            self.received += len(message.get("body", b""))
            if self.received > self._limit:
                raise _Refused(413, self.too_large)
            self.complete = not message.get("more_body", False)
            return message
        raise _Refused(408, f"the request body did not arrive within {self._timeout_s:g}s")


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """Refuse in the route's own error shape, and close: the rest of the body is unread."""
    code = "BODY_TOO_LARGE" if status == 413 else "BODY_TIMEOUT"
    response = error_for(scope, status, code, message, {"connection": "close"})
    await response(scope, receive, send)


def is_json(request: Request) -> bool:
    """Whether the body is declared ``application/json``: a cross-site page cannot send
    that without a CORS preflight, so a simple form or ``text/plain`` post is refused."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media == "application/json"
