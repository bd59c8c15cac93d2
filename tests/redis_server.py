"""A real ``redis-server`` on a free loopback port, for the shared-state tests.

Started with no persistence; ``stop`` kills it (an outage, as a crash would be) and
``start`` brings it back on the same port. Readiness is the server's own "Ready to
accept connections" line, not a sleep.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from types import TracebackType

READY = "Ready to accept connections"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="bff-redis-")
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", self._dir.name, "--protected-mode", "yes",
        ]  # fmt: skip
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:  # blocks until the server says it is ready, or exits
            seen.append(line)
            if READY in line:
                break
        else:
            raise AssertionError("redis-server did not start:\n" + "".join(seen))
        self._process = process

    def stop(self) -> None:
        """Kill the server (no shutdown, no save), and wait until it is gone."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def flush(self) -> None:
        import redis

        with redis.Redis.from_url(self.url) as client:
            client.flushall()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._dir.cleanup()
