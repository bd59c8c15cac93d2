from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bff.testing.server import SimulatorServer

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
