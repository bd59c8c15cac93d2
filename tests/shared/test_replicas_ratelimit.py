"""Two ``bff serve`` processes on one redis-server: a client's rate limit and its run
limit hold across both replicas, whichever one a request reaches.

Each test starts two processes (about two seconds). The run held open is held by the
simulator's gate and ended by opening it; the lease it frees is polled for, not slept on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from bff.testing.server import SimulatorServer
from tests.redis_server import RedisServer
from tests.shared.replicas import Replica, replicas

KEY = "replica-key-0123456789"
OTHER = "other-key-0123456789ab"
HEALTH = {"query": "{ health { status } }"}


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


AUTH = _auth(KEY)
MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}


@pytest.fixture
def fleet(
    redis_server: RedisServer, sim: SimulatorServer, tmp_path: Path
) -> Iterator[list[Replica]]:
    env = {
        "BFF_API_KEYS": f"{KEY},{OTHER}",
        "BFF_RATE_LIMIT": "10/minute",
        "BFF_MAX_CONCURRENT_RUNS": "1",
    }
    with replicas(2, redis_server, sim, tmp_path, env=env) as found:
        yield found


def test_a_clients_rate_limit_holds_across_both_replicas(fleet: list[Replica]) -> None:
    answers = []
    with httpx.Client(timeout=10) as http:
        for index in range(16):
            url = f"{fleet[index % 2].url}/graphql"
            answers.append(http.post(url, json=HEALTH, headers=AUTH))
        other = http.post(f"{fleet[1].url}/graphql", json=HEALTH, headers=_auth(OTHER))
    admitted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(admitted) == 10
    assert answers[:10] == admitted  # first come, first served, on either replica
    for answer in admitted:
        assert answer.json()["data"]["health"]["status"] == "ok", answer.text
    for answer in refused:
        assert answer.status_code == 429, answer.text
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        (error,) = answer.json()["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED"}
        assert error["message"] == "over the rate limit of 10 per 60s"
    assert {a.url.port for a in refused} == {httpx.URL(r.url).port for r in fleet}
    assert other.status_code == 200, other.text  # another client has its own count


@pytest.mark.anyio
async def test_a_clients_run_limit_holds_across_both_replicas(
    fleet: list[Replica], sim: SimulatorServer
) -> None:
    sim.simulator.add({"hold_after_chunks": 3})  # the first chat stays open
    a, b = (f"{replica.url}/chat/stream" for replica in fleet)
    with anyio.fail_after(20):
        async with httpx.AsyncClient(timeout=10) as http:
            async with http.stream("POST", a, json=MESSAGES, headers=AUTH) as held:
                assert held.status_code == 200
                lines = held.aiter_lines()
                while await anext(lines) != "event: token":
                    pass
                refused = await http.post(b, json=MESSAGES, headers=AUTH)
                assert refused.status_code == 429, refused.text
                assert refused.headers["retry-after"] == "1"
                message = refused.json()["error"]["message"]
                assert message == "this client already has 1 run open, its limit"
                other = await http.post(b, json=MESSAGES, headers=_auth(OTHER))
                assert other.status_code == 200, other.text
                sim.simulator.release()
                async for line in lines:  # A's run ends...
                    if line == "event: done":
                        break
                await lines.aclose()
            while True:  # ...and B may run, once A has let go of its lease
                answer = await http.post(b, json=MESSAGES, headers=AUTH)
                if answer.status_code == 200:
                    break
                assert answer.status_code == 429, answer.text
                await anyio.sleep(0.02)
    assert "event: done" in answer.text
