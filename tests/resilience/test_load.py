"""200 concurrent structured requests with about 30% of upstream calls faulted."""

from __future__ import annotations

import random
import time
from pathlib import Path

import anyio
import httpx
import pytest

from bff.testing.server import SimulatorServer, free_port
from tests.api.helpers import operation
from tests.processes import BFF, clean_env, running

REQUESTS = 200
FAULTS = [
    {"status": 429, "retry_after": 0.2},
    {"status": 500},
    {"status": 503},
    {"fault": "drop"},
    {"fault": "cut"},
    {"fault": "malformed"},
    {"fault": "schema_violation"},
    {"fault": "length"},
    {"fault": "stall", "stall_s": 3},
    {"fault": "refusal"},
]


def _established(port: int) -> tuple[int, int]:
    """(connections to ``port``, connections from it) in ESTABLISHED state, IPv4 loopback."""
    inbound = outbound = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state != "01":
            continue
        if int(local.split(":")[1], 16) == port:
            inbound += 1
        if int(remote.split(":")[1], 16) == port:
            outbound += 1
    return inbound, outbound


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_load_with_faults(sim: SimulatorServer, tmp_path: Path) -> None:
    rng = random.Random(7)
    steps = [rng.choice(FAULTS) if rng.random() < 0.3 else {} for _ in range(REQUESTS * 3)]
    sim.simulator.add(*steps)
    config = tmp_path / "bff.toml"
    sim_port = int(sim.base_url.split(":")[2].split("/")[0])
    config.write_text(
        f'model = "sim/gpt-4o"\nread_timeout_s = 1\nretry_base_s = 0.05\nretry_cap_s = 0.5\n'
        f'breaker_threshold = 1000\nrate_limit = "none"\nmax_concurrent_runs = {REQUESTS}\n'
        f'[endpoints.sim]\nbase_url = "{sim.base_url}"\n'
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(
        [*BFF, "serve", "--port", str(port), "--config", str(config)],
        ready_url=f"{url}/healthz",
        env=clean_env(BFF_LOG_LEVEL="warning"),
    ):
        baseline = _established(port)
        query = operation("ExtractActionPlan")

        async def one(client: httpx.AsyncClient, i: int) -> dict[str, object]:
            text = f"Call customer {i} today. Email the team about invoice {i}."
            response = await client.post(
                f"{url}/graphql", json={"query": query, "variables": {"text": text}}
            )
            assert response.status_code == 200, response.text
            payload: dict[str, object] = response.json()["data"]["extractActionPlan"]
            return payload

        async def load() -> list[dict[str, object]]:
            limits = httpx.Limits(max_connections=REQUESTS)
            async with httpx.AsyncClient(timeout=120, limits=limits) as client:
                with anyio.fail_after(180):
                    results: list[dict[str, object]] = [{}] * REQUESTS

                    async def run(i: int) -> None:
                        results[i] = await one(client, i)

                    async with anyio.create_task_group() as group:
                        for i in range(REQUESTS):
                            group.start_soon(run, i)
            return results

        started = time.monotonic()
        results = anyio.run(load)
        elapsed = time.monotonic() - started
        kinds = [r["__typename"] for r in results]
        assert len(kinds) == REQUESTS
        assert set(kinds) <= {"ActionPlanResult", "TaskError"}
        fallbacks = [
            r["meta"]["fallback"] for r in results if r["__typename"] == "ActionPlanResult"
        ]  # type: ignore[index]
        assert fallbacks.count("NONE") > REQUESTS / 2
        records = sim.simulator.wait_until_settled(timeout=10)
        assert all(r.outcome is not None for r in records)
        # every client connection is gone; upstream connections are only idle pooled ones
        deadline = time.monotonic() + 10
        while _established(port)[0] > baseline[0] and time.monotonic() < deadline:
            time.sleep(0.02)  # the kernel's table of sockets: nothing to wait on
        assert _established(port)[0] == baseline[0]
        assert _established(sim_port)[1] <= 100  # at most the SDK pool's keep-alive limit
        print(f"{REQUESTS} requests in {elapsed:.1f}s; {len(records)} upstream calls")
