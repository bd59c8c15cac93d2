"""Two ``bff serve`` processes on one redis-server share each client's daily budget:
200 concurrent requests split across them never spend past it, and while Redis is
down the budgets refuse (fail closed) without hanging, until it is back.

Each test starts two processes (about two seconds). Waits are bounded and polled.
The load is marked slow: on two cores, 200 GraphQL requests take a few seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import redis

from bff.testing.server import SimulatorServer
from tests.api.helpers import operation
from tests.guards.test_budgets_api import TEXT, _worst_case
from tests.redis_server import RedisServer
from tests.shared.replicas import Replica, replicas

pytestmark = pytest.mark.anyio

RESERVATION = _worst_case()
"""What one extractActionPlan request reserves (its prompt estimate plus max_tokens)."""
LIMIT = 4 * RESERVATION
UNAVAILABLE = "the shared budget store is unavailable"


@pytest.fixture
def fleet(
    redis_server: RedisServer, sim: SimulatorServer, tmp_path: Path
) -> Iterator[list[Replica]]:
    env = {
        "BFF_CLIENT_DAILY_TOKENS": str(LIMIT),
        "BFF_RATE_LIMIT": "none",
        "BFF_MAX_CONCURRENT_RUNS": "1000",
        # 100 requests arriving at once keep a replica's event loop busy for longer than
        # the default 0.25 s: a reply read late would count as Redis down (fail closed).
        "BFF_REDIS_TIMEOUT_S": "2",
    }
    with replicas(2, redis_server, sim, tmp_path, env=env) as found:
        yield found


async def _plan(http: httpx.AsyncClient, replica: Replica) -> dict[str, Any]:
    """One extractActionPlan mutation on ``replica``: its result or its TaskError."""
    body = {"query": operation("ExtractActionPlan"), "variables": {"text": TEXT}}
    response = await http.post(f"{replica.url}/graphql", json=body)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["extractActionPlan"]
    return payload


def _refused(payload: dict[str, Any]) -> bool:
    if payload["__typename"] == "ActionPlanResult":
        return False
    assert payload["code"] == "BUDGET_EXCEEDED", payload
    return True


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200))


async def _burst(http: httpx.AsyncClient, fleet: list[Replica], count: int) -> list[dict[str, Any]]:
    """``count`` requests at once, split across the replicas."""
    answers: list[dict[str, Any]] = []

    async def send(index: int) -> None:
        answers.append(await _plan(http, fleet[index % 2]))

    async with anyio.create_task_group() as group:
        for index in range(count):
            group.start_soon(send, index)
    return answers


def _used(answers: list[dict[str, Any]]) -> int:
    return sum(a["meta"]["promptTokens"] + a["meta"]["completionTokens"] for a in answers)


@pytest.mark.slow  # a load: 200 requests at once, then the rest of the day (about 8 s)
async def test_a_budget_shared_by_two_replicas_holds_under_200_concurrent_requests(
    fleet: list[Replica], redis_server: RedisServer
) -> None:
    day = dt.datetime.now(dt.UTC).date().isoformat()
    async with _client() as http:
        with anyio.fail_after(60):
            answers = await _burst(http, fleet, 200)
            admitted = [a for a in answers if not _refused(a)]
            refused = [a for a in answers if _refused(a)]
            # Every reservation is the same size: the first LIMIT // RESERVATION fit.
            assert len(admitted) >= LIMIT // RESERVATION and refused
            for answer in refused:
                assert "the client's daily token budget" in answer["message"], answer
                assert answer["meta"]["attempts"] == 0  # refused before any call
            while True:  # then spend the rest of the day: smaller bursts until none fits
                more = [a for a in await _burst(http, fleet, 6) if not _refused(a)]
                if not more:
                    break
                admitted += more
    used = _used(admitted)
    # What was admitted is within one request's reservation of the limit.
    assert LIMIT - RESERVATION < used <= LIMIT + RESERVATION
    with redis.Redis.from_url(redis_server.url) as store:
        ledger = store.hgetall(f"bff:budget:used:{day}:anonymous")
    if day == dt.datetime.now(dt.UTC).date().isoformat():  # not across midnight
        assert int(ledger[b"tokens"]) == used  # every call settled, on either replica
        assert int(ledger[b"held_tokens"]) == 0


async def test_redis_stopped_mid_run_refuses_without_hanging_and_resumes(
    fleet: list[Replica], redis_server: RedisServer, sim: SimulatorServer
) -> None:
    sim.simulator.add({"hold_after_chunks": 3, "repeat": 2})  # two calls stay open
    async with _client() as http:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                in_flight: list[dict[str, Any]] = []

                async def run(replica: Replica) -> None:
                    in_flight.append(await _plan(http, replica))

                for replica in fleet:
                    group.start_soon(run, replica)
                while True:  # the simulator's thread records the calls: polled
                    if len(sim.simulator.requests) == 2:  # both reserved and sent
                        break
                    await anyio.sleep(0.01)
                redis_server.stop()
                sim.simulator.release()
            # The calls already made end normally; their settles are dropped (logged).
            assert [a["__typename"] for a in in_flight] == ["ActionPlanResult"] * 2
            for replica in fleet:  # no call is made while the budget store is down
                answer = await _plan(http, replica)
                assert _refused(answer) and UNAVAILABLE in answer["message"], answer
            assert len(sim.simulator.requests) == 2
        redis_server.start()
        with anyio.fail_after(15):
            for replica in fleet:  # each replica's link tries Redis again within 1 s
                while _refused(answer := await _plan(http, replica)):
                    assert UNAVAILABLE in answer["message"], answer
                    await anyio.sleep(0.05)
    assert any("budget_settle_dropped" in replica.logs() for replica in fleet)
