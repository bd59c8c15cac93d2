"""The upstream HTTP client's sockets: one idle timer per connection, not a cancel scope per read.

httpcore2's own anyio backend opens an anyio cancel scope (``fail_after``) around every
network read, and a streamed completion is read in as many pieces as the provider
sends: at a token every few milliseconds that is most of the per-chunk cost of reading
it. Here each connection keeps one timer. A read only moves the connection's deadline;
the timer, when it fires, re-arms for the current deadline, or, if a read is still
waiting past it, shuts the socket down, and the waiting read fails with httpcore2's
``ReadTimeout``, as it would have. Connecting, TLS and writes (a few per request) keep
their timeouts as httpcore2 has them.
"""

from __future__ import annotations

import asyncio
import math
import os
import select
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.abc
import anyio.streams.tls
import httpcore2
import httpx2

LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
"""The openai SDK's own defaults for its HTTP client."""


def upstream_client() -> httpx2.AsyncClient:
    """An HTTP client for the openai SDK, as the SDK would make one (its connection
    limits, redirects followed, proxies from the environment), on these sockets."""
    transport = httpx2.AsyncHTTPTransport(limits=LIMITS)
    # httpx2's transport takes no network backend; its pool reads the one it was given.
    pool = transport._pool
    if not isinstance(getattr(pool, "_network_backend", None), httpcore2.AsyncNetworkBackend):
        raise RuntimeError("httpx2's transport no longer has an httpcore2 pool to configure")
    pool._network_backend = IdleTimedBackend()
    return httpx2.AsyncClient(transport=transport, limits=LIMITS, follow_redirects=True)


@contextmanager
def _mapped(timeout: type[Exception], error: type[Exception]) -> Iterator[None]:
    try:
        yield
    except TimeoutError as exc:
        raise timeout(str(exc)) from exc
    except (OSError, ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
        raise error(str(exc)) from exc


class IdleTimedBackend(httpcore2.AsyncNetworkBackend):
    """TCP connections whose reads share one timer (see the module's docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        with _mapped(httpcore2.ConnectTimeout, httpcore2.ConnectError):
            with anyio.fail_after(timeout):
                stream = await anyio.connect_tcp(host, port, local_host=local_address)
            raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            for option in socket_options or ():
                raw.setsockopt(*option)
        return IdleTimedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class IdleTimedStream(httpcore2.AsyncNetworkStream):
    """One connection: reads timed by one timer, everything else as httpcore2 does it."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self._stream = stream
        self._loop = asyncio.get_running_loop()
        self._deadline = math.inf
        self._reading = False
        self._expired = False
        self._timer: asyncio.TimerHandle | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if timeout is None:
            self._deadline = math.inf
        else:
            self._deadline = self._loop.time() + timeout
            if self._timer is None:
                self._timer = self._loop.call_at(self._deadline, self._check)
        self._reading = True
        try:
            return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            if self._expired:
                raise httpcore2.ReadTimeout("no data within the read timeout") from None
            return b""
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            if self._expired:
                raise httpcore2.ReadTimeout("no data within the read timeout") from exc
            raise httpcore2.ReadError(str(exc)) from exc
        finally:
            self._reading = False

    def _check(self) -> None:
        """The timer: re-armed while reads keep moving the deadline; past it, the read
        still waiting is ended by shutting the socket."""
        self._timer = None
        if not self._reading:
            return  # idle in the pool: the next read arms the timer again
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._check)
            return
        self._expired = True
        raw = self._stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
        if raw is not None:
            _shut(raw)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore2.WriteTimeout, httpcore2.WriteError):
            with anyio.fail_after(timeout):
                await self._stream.send(buffer)

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with _mapped(httpcore2.ConnectTimeout, httpcore2.ConnectError):
                with anyio.fail_after(timeout):
                    tls = await anyio.streams.tls.TLSStream.wrap(
                        self._stream,
                        ssl_context=ssl_context,
                        hostname=server_hostname,
                        standard_compatible=False,
                        server_side=False,
                    )
        except BaseException:
            await self.aclose()
            raise
        return IdleTimedStream(tls)

    def get_extra_info(self, info: str) -> Any:
        extra = self._stream.extra
        if info == "ssl_object":
            return extra(anyio.streams.tls.TLSAttribute.ssl_object, None)
        if info == "client_addr":
            return extra(anyio.abc.SocketAttribute.local_address, None)
        if info == "server_addr":
            return extra(anyio.abc.SocketAttribute.remote_address, None)
        raw = extra(anyio.abc.SocketAttribute.raw_socket, None)
        if info == "socket":
            return raw
        if info == "is_readable":
            return _readable(raw)
        return None


def _shut(raw: socket.socket) -> None:
    """Shut a connection down under its transport, which then reads its end. uvloop's
    transport sockets refuse ``shutdown()``, so it is done on a duplicate descriptor:
    the connection is shut for every descriptor of it."""
    duplicate = socket.socket(fileno=os.dup(raw.fileno()))
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the peer closed it first: the read ends anyway
    finally:
        duplicate.close()


def _readable(raw: socket.socket | None) -> bool:
    """Whether a pooled connection has something to read (data, or the peer's close): a
    connection that does is not reused."""
    if raw is None or raw.fileno() == -1:
        return True
    return bool(select.select([raw], [], [], 0)[0])
