"""Time limits on a provider stream. The unit tests run on a virtual clock: the gaps and
limits are exact, and waiting costs no wall time."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

import anyio
import pytest

from bff.config import Settings
from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.exceptions import DeadlineExceededError, ProviderTimeoutError
from bff.pipeline import Pipeline
from bff.providers._types import Finish, ProviderEvent, TextDelta, Usage
from bff.providers.registry import ProviderRegistry
from bff.resilience.timeouts import within
from bff.run import ErrorCode, Failed
from bff.testing.server import SimulatorServer
from tests.virtual_time import VIRTUAL_TIME

pytestmark = pytest.mark.anyio
virtual_time = pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME], ids=["virtual-time"])


class Upstream:
    def __init__(self, gaps: list[float]) -> None:
        self.gaps = gaps
        self.closed = False

    async def stream(self) -> AsyncGenerator[ProviderEvent, None]:
        try:
            yield Usage(1, 0)  # not a token: the first-token clock keeps running
            for gap in self.gaps:
                await anyio.sleep(gap)
                yield TextDelta("x")
            yield Finish("stop")
        finally:
            self.closed = True


async def _drain(events: AsyncGenerator[ProviderEvent, None], pause: float = 0) -> int:
    count = 0
    async with aclosing(events) as stream:
        async for _ in stream:
            count += 1
            await anyio.sleep(pause)
    return count


@virtual_time
async def test_no_limits_hit() -> None:
    upstream = Upstream([0.01, 0.01])
    assert await _drain(within(upstream.stream(), first_token_s=1, deadline_s=5)) == 4


@virtual_time
async def test_first_token_timeout_closes_the_upstream() -> None:
    upstream = Upstream([0.5])
    with pytest.raises(ProviderTimeoutError, match=r"no first token within 0\.05s"):
        await _drain(within(upstream.stream(), first_token_s=0.05, deadline_s=5))
    assert upstream.closed


@virtual_time
async def test_only_the_first_token_is_timed_against_that_limit() -> None:
    upstream = Upstream([0.01, 0.2])
    assert await _drain(within(upstream.stream(), first_token_s=0.1, deadline_s=5)) == 4


@virtual_time
async def test_the_deadline_cuts_a_stream_mid_way() -> None:
    upstream = Upstream([0.01] + [0.05] * 10)
    with pytest.raises(DeadlineExceededError):
        await _drain(within(upstream.stream(), first_token_s=1, deadline_s=0.2))
    assert upstream.closed


@virtual_time
async def test_a_slow_consumer_does_not_trip_the_first_token_limit() -> None:
    upstream = Upstream([0.0, 0.0])
    events = within(upstream.stream(), first_token_s=0.05, deadline_s=5)
    assert await _drain(events, pause=0.1) == 4


async def test_first_token_timeout_through_the_simulator(sim: SimulatorServer) -> None:
    settings = Settings(
        model="sim/gpt-4o",
        endpoints={"sim": {"base_url": sim.base_url}},  # type: ignore[dict-item]
        first_token_timeout_s=1.0,  # generous: connecting counts too, and CI may be busy
        read_timeout_s=10,
        max_attempts=1,
    )
    sim.simulator.add({"hold_after_chunks": 0})  # no first token until the test ends
    registry = ProviderRegistry(settings)
    task = replace(EXTRACT_ACTION_PLAN, safe_response=None)
    result = await Pipeline(registry.get, settings).execute(task, TextInput(text="Call Bob."))
    await registry.aclose()
    assert isinstance(result, Failed) and result.code == ErrorCode.TIMEOUT
    assert result.message == "the provider did not answer in time"
    (record,) = await anyio.to_thread.run_sync(sim.simulator.wait_until_settled)
    assert record.hung_up
