"""Run an ASGI app under uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
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
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
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
