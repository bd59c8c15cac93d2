"""Request bodies at the edge: a size limit (413), a read deadline (408), a client
that goes away mid-body logged at info, not as an application error; and what a
JSON route accepts.
"""

from __future__ import annotations

import json
import logging

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("bff.edge")


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
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(send, 413, f"the request body is over the {self.limit}-byte limit")
            return
        received = 0
        complete = False
        started = False
        deadline = anyio.current_time() + self.timeout_s

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            with anyio.move_on_at(deadline):
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _Refused(413, f"the request body is over the {self.limit}-byte limit")
                complete = not message.get("more_body", False)
                return message
            raise _Refused(408, f"the request body did not arrive within {self.timeout_s:g}s")

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _ClientGone:
            fields = {"event": "client_gone", "path": scope["path"], "received_bytes": received}
            logger.info("the client went away before its body arrived", extra={"fields": fields})
        except _Refused as exc:
            if started:
                raise
            await self._refuse(send, exc.status, exc.message)

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        body = json.dumps({"errors": [{"message": message}]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def is_json(request: Request) -> bool:
    """Whether the body is declared ``application/json``: a cross-site page cannot send
    that without a CORS preflight, so a simple form or ``text/plain`` post is refused."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media == "application/json"
