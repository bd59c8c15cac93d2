"""How ``bff serve`` runs the app under uvicorn: limits for slow and greedy clients,
the drain at shutdown, and the optional admin listener.

- A connection cap (uvicorn's ``limit_concurrency``: 503 past it).
- A header deadline: a connection that has not sent a whole request head within
  ``header_timeout_s`` (a client trickling half a request line) gets 408 and is
  closed; the body's own deadline is ``bff.api.limits``'s.
- WebSocket frames over the body limit are refused with close code 1009 before
  they are buffered (``ws_max_size``).
- On SIGTERM, subscriptions get the drain window to finish before WebSockets close.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from asyncio import TimerHandle, Transport
from collections.abc import Callable
from contextlib import suppress
from types import FrameType
from typing import Any, ClassVar

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bff.api.drain import Drain
from bff.config import Settings
from bff.observe.logs import log_event

logger = logging.getLogger(__name__)
LINGER_S = 2.0
"""How long a closed connection keeps draining what the peer still sends."""
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
)


class _LingeringTransport:
    """A connection's transport whose ``close``, while a request is still arriving,
    first half-closes and lets the peer's data drain for ``LINGER_S``: a client still
    sending (a slow body, a trickled head) then reads the answer (a 408, a 413)
    instead of losing it to a reset. Idle connections close at once."""

    def __init__(
        self, transport: Transport, loop: asyncio.AbstractEventLoop, receiving: Callable[[], bool]
    ) -> None:
        self.raw = transport
        self.write = transport.write  # every chunk of every response: no __getattr__ hop
        self._loop = loop
        self._receiving = receiving
        self._closing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def is_closing(self) -> bool:
        return self._closing or self.raw.is_closing()

    def close(self) -> None:
        if self._closing or self.raw.is_closing():
            self._closing = True
            return
        self._closing = True
        if not (self._receiving() and self.raw.can_write_eof()):
            self.raw.close()
            return
        self.raw.write_eof()
        self._loop.call_later(LINGER_S, self.raw.close)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing connections whose request head is late, and
    closing every connection gracefully (``_LingeringTransport``)."""

    header_timeout_s: ClassVar[float] = 10.0
    _header_timer: TimerHandle | None = None
    _receiving = False
    """Part of a request (head or body) has arrived, and not all of it."""

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        lingering = _LingeringTransport(transport, self.loop, lambda: self._receiving)
        super().connection_made(lingering)  # type: ignore[arg-type]
        self._arm()

    def on_message_complete(self) -> None:
        self._receiving = False
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        if not self.transport.is_closing():  # once closing, what arrives is dropped
            super().data_received(data)

    def eof_received(self) -> None:
        if self.transport.is_closing():  # the peer has read the answer and left
            self.transport.raw.close()  # type: ignore[attr-defined]

    def handle_websocket_upgrade(self) -> None:
        self.transport = self.transport.raw  # type: ignore[attr-defined]
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        self._receiving = True
        super().on_message_begin()
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _late(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its body has its own deadline
        log_event(
            logger,
            "closed a connection whose request head was late",
            event="headers_late",
            timeout_s=self.header_timeout_s,
        )
        if not self.transport.is_closing():
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration ``bff serve`` uses (the tests use it too)."""
    protocol = type(
        "HeaderDeadlineProtocol",
        (HeaderDeadlineProtocol,),
        {"header_timeout_s": settings.header_timeout_s},
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        ws="websockets-sansio",
        ws_max_size=settings.max_body_bytes,
        # uvicorn counts the connection asking too: N + 1 lets N connections in.
        limit_concurrency=settings.max_connections + 1,
        log_config=None,  # JSON lines through the root logger (bff.observe.logs)
        access_log=False,  # the app logs its own access lines, without query strings
        log_level=settings.log_level,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout_s),
        timeout_keep_alive=math.ceil(settings.keep_alive_s),
    )


class AdminSplit:
    """Pure ASGI: requests that arrive on ``admin_port`` go to ``admin``, the rest (and
    the lifespan) to ``app``; one server, two listening sockets."""

    def __init__(self, app: ASGIApp, admin: ASGIApp, admin_port: int) -> None:
        self.app, self.admin, self.admin_port = app, admin, admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        target = self.admin if server is not None and server[1] == self.admin_port else self.app
        await target(scope, receive, send)


class DrainingServer(uvicorn.Server):
    """Tells the app when shutdown begins, and lets subscriptions finish (or end with a
    typed last payload) within the drain window before WebSockets are closed."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self._drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._drain.begin()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the drain runs
        with suppress(TimeoutError):
            async with asyncio.timeout(self._drain.window_s + 1.0):
                await self._drain.settled()
        await super().shutdown(sockets)
