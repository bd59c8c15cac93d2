from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from bff.app import create_app
from bff.config import Settings
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.tasks import TaskRegistry
from bff.testing.server import ServerThread, SimulatorServer
from tests.redis_server import RedisServer

RECORDED = Path(__file__).parent / "data" / "openai-recorded"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def _simulator_server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def sim(_simulator_server: SimulatorServer) -> Iterator[SimulatorServer]:
    """The loopback simulator, with an empty script and no recorded requests."""
    _simulator_server.simulator.reset()
    _simulator_server.simulator.chunk_delay = 0.0
    yield _simulator_server
    _simulator_server.simulator.reset()


@pytest.fixture(scope="session")
def _redis_process() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_server(_redis_process: RedisServer) -> Iterator[RedisServer]:
    """A real redis-server on loopback, empty, and running (a test may stop it)."""
    if not _redis_process.running:
        _redis_process.start()
    _redis_process.flush()
    yield _redis_process
    if not _redis_process.running:
        _redis_process.start()


@pytest.fixture
async def pipeline(sim: SimulatorServer) -> AsyncIterator[Pipeline]:
    """A pipeline routed to the simulator (gpt-4o, then gpt-4o-mini), without the app."""
    settings = Settings(
        model="sim/gpt-4o",
        fallback_models=["sim/gpt-4o-mini"],
        endpoints={"sim": {"base_url": sim.base_url, "api_key_env": None}},  # type: ignore[dict-item]
        retry_base_s=0.01,
    )
    registry = ProviderRegistry(settings)
    yield Pipeline(registry.get, settings, progress_every=0)
    await registry.aclose()


BffFactory = Callable[..., ServerThread]


@pytest.fixture
def bff(sim: SimulatorServer) -> Iterator[BffFactory]:
    """Start the BFF on loopback, routed to the simulator; stopped after the test."""
    with ExitStack() as stack:

        def start(tasks: TaskRegistry | None = None, **overrides: Any) -> ServerThread:
            options: dict[str, Any] = {
                "model": "sim/gpt-4o",
                "endpoints": {"sim": {"base_url": sim.base_url}},
                "demo_chunk_delay_s": 0,
                "retry_base_s": 0.01,
                # A chat whose client leaves is cancelled at once, not after a grace for
                # it to resume: tests of resuming set a grace of their own.
                "stream_resume_grace_s": 0,
            }
            options.update(overrides)
            settings = Settings(**options)
            app = create_app(settings, tasks)
            return stack.enter_context(ServerThread(app.state.asgi, settings=settings))

        yield start
