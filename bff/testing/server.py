"""Run an ASGI app under uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
from contextlib import suppress
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from bff.config import Settings
from bff.demo.model import DEMO_ANSWERS
from bff.server import server_config
from bff.testing.simulator import Simulator


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    """uvicorn's server, told to stop by an event instead of noticing at its next 0.1 s
    tick, and without the fixed pause of its shutdown when no connection is left."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        """Set once startup has ended, whether or not the server is serving."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            super().run(sockets)
        finally:
            self.ready.set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()

    def stop(self) -> None:
        """Ask the server to shut down; safe from any thread."""
        self.should_exit = True
        if self._loop is not None:
            with suppress(RuntimeError):  # the loop has already finished
                self._loop.call_soon_threadsafe(self._stop.set)

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with suppress(TimeoutError):
                async with asyncio.timeout(0.1):  # uvicorn's tick: the date header, limits
                    await self._stop.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # an idle connection closes now, a busy one when answered
        for _ in range(3):  # the loop turns that let closed connections go
            await asyncio.sleep(0)
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)  # uvicorn's graceful wait, for what is still open
        else:
            await self.lifespan.shutdown()


class ServerThread:
    """``with ServerThread(app) as server:`` serves ``app`` at ``server.url`` until exit.
    With ``settings``, uvicorn runs as ``bff serve`` runs it (its limits included)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        if settings is not None:
            quiet = settings.model_copy(update={"log_level": "warning"})
            config = server_config(app, quiet, host, self.port)
        else:
            config = uvicorn.Config(
                app, host=host, port=self.port, log_level="warning", ws="websockets-sansio"
            )
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        if not self._server.ready.wait(timeout=30) or not self._server.started:
            self._server.stop()
            raise RuntimeError(f"server on {self.url} did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()
        self._thread.join(timeout=10)


class SimulatorServer(ServerThread):
    """A :class:`Simulator` served on loopback; ``base_url`` is what an SDK wants."""

    def __init__(self, simulator: Simulator | None = None, **kwargs: object) -> None:
        self.simulator = simulator or Simulator(DEMO_ANSWERS)
        super().__init__(self.simulator.app, **kwargs)  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def __enter__(self) -> SimulatorServer:
        super().__enter__()
        return self
