"""Backoff, retry-after, deadlines and circuit breakers, through the SDK and the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bff.config import Settings
from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.resilience.breaker import Breakers, BreakerState, LocalBoard
from bff.run import Completed, ErrorCode, Failed, FallingBack, Retrying, RunEvent
from bff.testing.server import SimulatorServer
from tests.api.helpers import operation, sse_events
from tests.conftest import BffFactory

pytestmark = pytest.mark.anyio
TEXT = TextInput(text="Call Bob today.")
TASK = replace(EXTRACT_ACTION_PLAN, safe_response=None)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
async def registry(sim: SimulatorServer) -> AsyncIterator[ProviderRegistry]:
    registry = ProviderRegistry(_settings(sim))
    yield registry
    await registry.aclose()


def _settings(sim: SimulatorServer, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "model": "sim/gpt-4o",
        "fallback_models": ["sim/gpt-4o-mini"],
        "endpoints": {"sim": {"base_url": sim.base_url}},
        "retry_base_s": 0.5,
        "retry_cap_s": 4.0,
        "breaker_cooldown_s": 30,
    }
    return Settings(**{**options, **overrides})


def _pipeline(registry: ProviderRegistry, settings: Settings, clock: Clock) -> Pipeline:
    board = LocalBoard(Breakers(threshold=3, cooldown_s=settings.breaker_cooldown_s, clock=clock))
    return Pipeline(
        registry.get, settings, board=board, clock=clock, sleep=clock.sleep, rng=lambda: 1.0
    )


def _breakers(pipeline: Pipeline) -> Breakers:
    assert isinstance(pipeline.board, LocalBoard)
    return pipeline.board.breakers


async def _run(pipeline: Pipeline) -> list[RunEvent]:
    return [event async for event in pipeline.run(TASK, TEXT)]


async def test_backoff_doubles_between_attempts(
    sim: SimulatorServer, registry: ProviderRegistry
) -> None:
    clock = Clock()
    sim.simulator.add({"status": 503}, {"status": 500}, model="gpt-4o")
    events = await _run(_pipeline(registry, _settings(sim), clock))
    assert isinstance(events[-1], Completed) and events[-1].meta.attempts == 3
    assert clock.slept == [0.5, 1.0]
    assert [e.delay_s for e in events if isinstance(e, Retrying)] == [0.5, 1.0]


async def test_each_attempt_honours_its_own_retry_after(
    sim: SimulatorServer, registry: ProviderRegistry
) -> None:
    clock = Clock()
    sim.simulator.add(
        {"status": 429, "retry_after": 3},
        {"status": 429, "headers": {"retry-after-ms": "1500"}},
        model="gpt-4o",
    )
    events = await _run(_pipeline(registry, _settings(sim), clock))
    assert isinstance(events[-1], Completed)
    assert clock.slept == [3.0, 1.5]


async def test_retry_after_is_capped(sim: SimulatorServer, registry: ProviderRegistry) -> None:
    clock = Clock()
    sim.simulator.add({"status": 429, "retry_after": 3600}, model="gpt-4o")
    await _run(_pipeline(registry, _settings(sim, retry_after_cap_s=5), clock))
    assert clock.slept == [5.0]


async def test_the_deadline_stops_retries(sim: SimulatorServer, registry: ProviderRegistry) -> None:
    clock = Clock()
    sim.simulator.add({"status": 429, "retry_after": 20, "repeat": 3})
    events = await _run(_pipeline(registry, _settings(sim, request_timeout_s=10), clock))
    final = events[-1]
    assert isinstance(final, Failed) and final.code == ErrorCode.TIMEOUT
    assert final.message == "the request deadline passed after 1 attempt"
    assert clock.slept == [] and len(sim.simulator.requests) == 1


async def test_a_breaker_opens_skips_the_route_then_probes(
    sim: SimulatorServer, registry: ProviderRegistry
) -> None:
    clock = Clock()
    settings = _settings(sim, max_attempts=3)
    pipeline = _pipeline(registry, settings, clock)
    sim.simulator.add({"status": 503, "repeat": 3}, model="gpt-4o")
    first = await _run(pipeline)
    assert isinstance(first[-1], Completed) and first[-1].meta.route == "sim/gpt-4o-mini"
    assert _breakers(pipeline).get("sim/gpt-4o").state is BreakerState.OPEN

    # open: the route is skipped without a call reaching the simulator
    sim.simulator.reset()
    second = await _run(pipeline)
    assert isinstance(second[-1], Completed) and second[-1].meta.route == "sim/gpt-4o-mini"
    hop = next(e for e in second if isinstance(e, FallingBack))
    assert (hop.from_route, hop.to_route, hop.reason) == (
        "sim/gpt-4o",
        "sim/gpt-4o-mini",
        "circuit_open",
    )
    assert [r.model for r in sim.simulator.requests] == ["gpt-4o-mini"]

    # after the cool-down one probe goes through, and its success closes the circuit
    clock.now += 30
    assert _breakers(pipeline).get("sim/gpt-4o").state is BreakerState.HALF_OPEN
    sim.simulator.reset()
    third = await _run(pipeline)
    assert isinstance(third[-1], Completed) and third[-1].meta.route == "sim/gpt-4o"
    assert [r.model for r in sim.simulator.requests] == ["gpt-4o"]
    assert _breakers(pipeline).get("sim/gpt-4o").state is BreakerState.CLOSED


async def test_every_circuit_open(sim: SimulatorServer, registry: ProviderRegistry) -> None:
    clock = Clock()
    pipeline = _pipeline(registry, _settings(sim), clock)
    for route in ("sim/gpt-4o", "sim/gpt-4o-mini"):
        for _ in range(3):
            _breakers(pipeline).get(route).failure()
    final = (await _run(pipeline))[-1]
    assert isinstance(final, Failed) and final.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert final.message == "every route's circuit is open: sim/gpt-4o, sim/gpt-4o-mini"
    assert sim.simulator.requests == []
    assert [(e.attempt, e.route, e.kind) for e in final.meta.errors] == [
        (0, "sim/gpt-4o", "circuit_open"),
        (0, "sim/gpt-4o-mini", "circuit_open"),
    ]
    assert final.meta.errors[0].message == (
        f"the circuit of sim/gpt-4o, or of {TASK.name} on it, is open"
    )


def test_breakers_show_in_health_and_chat_shares_them(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff(fallback_models=["sim/gpt-4o-mini"], breaker_threshold=2)
    sim.simulator.add({"status": 500, "repeat": 2}, model="gpt-4o")
    events = sse_events(
        httpx.post(
            f"{server.url}/chat/stream", json={"messages": [{"role": "user", "content": "hi"}]}
        ).text
    )
    assert events[-1][0] == "done" and events[-1][2]["model"] == "sim/gpt-4o-mini"
    health = httpx.post(f"{server.url}/graphql", json={"query": operation("Health")}).json()
    assert health["data"]["health"]["breakers"] == [
        {"route": "sim/gpt-4o", "task": None, "state": "OPEN", "failures": 2},
        {"route": "sim/gpt-4o-mini", "task": None, "state": "CLOSED", "failures": 0},
    ]
    sim.simulator.reset()
    payload = httpx.post(
        f"{server.url}/graphql",
        json={"query": operation("ExtractActionPlan"), "variables": {"text": "Call Bob."}},
    ).json()["data"]["extractActionPlan"]
    assert payload["meta"]["model"] == "sim/gpt-4o-mini"
    assert [r.model for r in sim.simulator.requests] == ["gpt-4o-mini"]
