"""Request ids and access lines: pure ASGI around the app."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bff.observe.logs import log_event, request_id

logger = logging.getLogger(__name__)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every HTTP request and WebSocket a request id (the caller's ``X-Request-ID``
    when it is a plain token, else a new one), echo it in the response, and log one
    access line per request: method, path, status, duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _CLIENT_ID.match(given) else uuid.uuid4().hex
        request_id.set(rid)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_event(
                logger,
                "request",
                event="access",
                method=scope.get("method", "WS"),
                path=scope["path"],
                status=status or None,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
