"""Several BFF replicas in their own processes, sharing one real redis-server, each
routed to the loopback simulator: what a fleet behind a load balancer looks like."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bff.testing.server import SimulatorServer, free_port
from tests.processes import BFF, clean_env, running
from tests.redis_server import RedisServer


@dataclass(frozen=True, slots=True)
class Replica:
    url: str
    log: Path

    def logs(self) -> str:
        return self.log.read_text()


@contextmanager
def replicas(
    count: int,
    redis: RedisServer,
    sim: SimulatorServer,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[Replica]]:
    """Start ``count`` replicas of ``bff serve`` on ``sim/gpt-4o`` with ``BFF_REDIS_URL``
    set; ``env`` adds or overrides settings. Stopped (SIGTERM) on exit."""
    settings = {
        "BFF_MODEL": "sim/gpt-4o",
        "BFF_ENDPOINTS": json.dumps({"sim": {"base_url": sim.base_url}}),
        "BFF_REDIS_URL": redis.url,
        "BFF_RETRY_BASE_S": "0.01",
        "BFF_DEMO_CHUNK_DELAY_S": "0",
        **(env or {}),
    }
    with ExitStack() as stack:
        found = []
        for index in range(count):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            log = tmp_path / f"replica-{index}.log"
            argv = [*BFF, "serve", "--host", "127.0.0.1", "--port", str(port)]
            stack.enter_context(
                running(argv, ready_url=f"{url}/healthz", env=clean_env(**settings), log=log)
            )
            found.append(Replica(url, log))
        yield found
