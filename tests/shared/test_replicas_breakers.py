"""Two ``bff serve`` processes on one redis-server: a route's circuit opened through
replica A is skipped by replica B without a call, and after the cool-down exactly one
probe reaches the upstream, whichever replica the requests reach."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from bff.testing.server import SimulatorServer
from tests.api.helpers import sse_events
from tests.redis_server import RedisServer
from tests.shared.replicas import Replica, replicas

CHAT = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}


@pytest.fixture
def fleet(
    redis_server: RedisServer, sim: SimulatorServer, tmp_path: Path
) -> Iterator[list[Replica]]:
    env = {
        "BFF_FALLBACK_MODELS": "sim/gpt-4o-mini",
        "BFF_BREAKER_THRESHOLD": "2",
        "BFF_MAX_ATTEMPTS": "2",
    }
    with replicas(2, redis_server, sim, tmp_path, env=env) as found:
        yield found


def _chat(replica: Replica) -> str:
    """The route that answered a chat sent to ``replica``."""
    answer = httpx.post(f"{replica.url}/chat/stream", json=CHAT, timeout=20)
    last = sse_events(answer.text)[-1]
    assert last[0] == "done", answer.text
    model: str = last[2]["model"]
    return model


def test_a_circuit_opened_on_a_is_skipped_by_b_then_probed_once(
    fleet: list[Replica], sim: SimulatorServer, redis_server: RedisServer
) -> None:
    a, b = fleet
    sim.simulator.add({"status": 503, "repeat": 2}, model="gpt-4o")
    assert _chat(a) == "sim/gpt-4o-mini"  # two 503s opened the route's circuit
    sim.simulator.reset()
    assert _chat(b) == "sim/gpt-4o-mini"
    assert [r.model for r in sim.simulator.requests] == ["gpt-4o-mini"]  # no call to gpt-4o

    # The cool-down passes (moved in Redis rather than waited for); the probe is held.
    with redis.Redis.from_url(redis_server.url) as client:
        opened = int(client.hget("bff:breaker:sim/gpt-4o", "opened") or 0)
        client.hset("bff:breaker:sim/gpt-4o", "opened", opened - 60_000)
    sim.simulator.reset()
    sim.simulator.add({"hold_after_chunks": 2, "gate": "probe"}, model="gpt-4o")
    with ThreadPoolExecutor(max_workers=8) as pool:
        probe = pool.submit(_chat, a)
        sim.simulator.wait_until_held(1, gate="probe")
        others = [pool.submit(_chat, fleet[i % 2]) for i in range(6)]
        assert [f.result() for f in others] == ["sim/gpt-4o-mini"] * 6
        sim.simulator.release("probe")
        assert probe.result() == "sim/gpt-4o"
    models = [r.model for r in sim.simulator.wait_until_settled()]
    assert models.count("gpt-4o") == 1 and models.count("gpt-4o-mini") == 6
    assert _chat(b) == "sim/gpt-4o"  # the probe's success closed it for the fleet
