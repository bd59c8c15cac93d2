from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from bff.app import create_app
from bff.config import Settings
from bff.tasks import TaskRegistry
from bff.testing.server import ServerThread, SimulatorServer

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
            }
            options.update(overrides)
            app = create_app(Settings(**options), tasks)
            return stack.enter_context(ServerThread(app))

        yield start
