"""The breakers on a real Redis, as two replicas see them (two links, two boards)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
import redis

from bff.exceptions import OutputValidationError, ServerError
from bff.resilience.backoff import RetryPolicy
from bff.resilience.breaker import Breakers, BreakerState, LocalBoard, Verdict, scope
from bff.resilience.plan import AttemptPlan
from bff.shared.breakers import SharedBoard
from bff.shared.link import RedisLink
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio
ROUTE = "sim/gpt-4o"


class Fleet:
    """Two replicas' boards over one Redis."""

    def __init__(self, url: str, threshold: int = 3, lease_s: float = 30) -> None:
        self.links = [RedisLink(url, retry_s=0.0) for _ in range(2)]
        self.a, self.b = (
            SharedBoard(
                link,
                LocalBoard(Breakers(threshold=threshold, cooldown_s=30)),
                threshold=threshold,
                cooldown_s=30,
                probe_lease_s=lease_s,
            )
            for link in self.links
        )
        self.redis = redis.Redis.from_url(url)

    def cool_down(self, key: str) -> None:
        """Move the circuit's opening 30 s into the past (Redis time), as if it cooled."""
        hash_key = f"bff:breaker:{key}"
        opened = int(self.redis.hget(hash_key, "opened") or 0)
        self.redis.hset(hash_key, "opened", opened - 30_000)

    async def aclose(self) -> None:
        for link in self.links:
            await link.aclose()
        self.redis.close()


@pytest.fixture
async def fleet(redis_server: RedisServer) -> AsyncIterator[Fleet]:
    found = Fleet(redis_server.url)
    yield found
    await found.aclose()


def _plan(board: SharedBoard, task: str | None = None) -> AttemptPlan:
    return AttemptPlan(
        [ROUTE], max_attempts=1, board=board, task=task, policy=RetryPolicy(), timeout_s=60
    )


async def _fail(board: SharedBoard, error: Exception, task: str | None = None) -> None:
    plan = _plan(board, task)
    step = await plan.next()
    assert step is not None
    await plan.failed(step, error)  # type: ignore[arg-type]


async def test_a_circuit_opened_on_one_replica_is_skipped_by_the_other(fleet: Fleet) -> None:
    await _fail(fleet.a, ServerError("boom", status=503))
    await _fail(fleet.b, ServerError("boom", status=503))
    assert await fleet.a.allow([ROUTE]) is not None
    await _fail(fleet.a, ServerError("boom", status=503))  # the third, fleet-wide
    assert await fleet.b.allow([ROUTE]) is None
    assert await fleet.a.allow([ROUTE]) is None
    statuses = await fleet.b.snapshot()
    assert [(s.key, s.state, s.failures) for s in statuses] == [(ROUTE, BreakerState.OPEN, 3)]


async def test_after_the_cool_down_exactly_one_replica_probes(fleet: Fleet) -> None:
    for _ in range(3):
        await _fail(fleet.a, ServerError("boom", status=500))
    fleet.cool_down(ROUTE)
    assert [s.state for s in await fleet.a.snapshot()] == [BreakerState.HALF_OPEN]
    permits = []

    async def ask(board: SharedBoard) -> None:
        permits.append(await board.allow([ROUTE]))

    async with anyio.create_task_group() as group:
        for index in range(40):
            group.start_soon(ask, fleet.a if index % 2 else fleet.b)
    granted = [p for p in permits if p is not None]
    assert len(granted) == 1 and granted[0].probing == (True,)
    # The probe fails: open again for a whole cool-down, on both replicas.
    await fleet.a.settle(granted[0], [Verdict.FAIL])
    assert await fleet.b.allow([ROUTE]) is None
    fleet.cool_down(ROUTE)
    probe = await fleet.b.allow([ROUTE])
    assert probe is not None
    await fleet.b.settle(probe, [Verdict.OK])  # its success closes the circuit everywhere
    again = await fleet.a.allow([ROUTE])
    assert again is not None and again.clean
    assert [(s.state, s.failures) for s in await fleet.a.snapshot()] == [(BreakerState.CLOSED, 0)]


async def test_a_probe_held_by_a_dead_replica_frees_itself(redis_server: RedisServer) -> None:
    fleet = Fleet(redis_server.url, threshold=1, lease_s=0.05)
    try:
        await _fail(fleet.a, ServerError("boom", status=500))
        fleet.cool_down(ROUTE)
        assert await fleet.a.allow([ROUTE]) is not None  # and this replica dies
        assert await fleet.b.allow([ROUTE]) is None
        left_ms = fleet.redis.pttl(f"bff:breaker:{ROUTE}:probe")
        assert 0 < left_ms <= 50  # the lease runs out by itself: wait exactly that long
        await anyio.sleep(left_ms / 1000 + 0.005)
        assert await fleet.b.allow([ROUTE]) is not None
    finally:
        await fleet.aclose()


async def test_output_failures_open_only_the_tasks_circuit_fleet_wide(fleet: Fleet) -> None:
    for board in (fleet.a, fleet.b, fleet.a):
        await _fail(board, OutputValidationError("does not fit"), task="taskA")
    assert await _plan(fleet.b, "taskA").next() is None
    assert await _plan(fleet.b, "taskB").next() is not None
    assert await _plan(fleet.b).next() is not None  # chat
    statuses = {s.key: (s.state, s.failures) for s in await fleet.b.snapshot()}
    assert statuses == {
        ROUTE: (BreakerState.CLOSED, 0),
        scope(ROUTE, "taskA"): (BreakerState.OPEN, 3),
        scope(ROUTE, "taskB"): (BreakerState.CLOSED, 0),
    }


async def test_a_clean_success_writes_nothing(fleet: Fleet) -> None:
    plan = _plan(fleet.a, "t")
    step = await plan.next()
    assert step is not None and step.permit.clean
    await plan.succeeded(step)
    assert fleet.redis.keys("bff:breaker*") == []


async def test_without_redis_each_replica_uses_its_own_breakers(
    fleet: Fleet, redis_server: RedisServer
) -> None:
    redis_server.stop()
    with anyio.fail_after(3):
        for _ in range(3):
            await _fail(fleet.a, ServerError("boom", status=500))
        assert await fleet.a.allow([ROUTE]) is None  # A's own breaker opened
        assert await fleet.b.allow([ROUTE]) is not None  # B knows nothing of it
        assert [s.state for s in await fleet.a.snapshot()] == [BreakerState.OPEN]
    redis_server.start()
    permit = await fleet.b.allow([ROUTE])
    assert permit is not None and permit.token  # back on the shared board
