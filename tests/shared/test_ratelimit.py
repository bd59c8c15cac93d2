"""The per-client limits two replicas share on a real redis-server: one rate and one
count of open runs and subscriptions per client across both, leases that free
themselves, and the local gate standing in while Redis is down.

Each replica is a ``SharedGate`` on its own ``RedisLink``. The links' clocks are fake,
so a test decides when a link tries Redis again after an outage; every step that
touches Redis is bounded by a short deadline, and conditions are polled, never slept on.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import anyio
import pytest
from limits import parse

from bff.clients import ClientLimits, Principal
from bff.exceptions import ClientLimitError
from bff.ratelimit import ClientGate
from bff.shared.link import RedisLink
from bff.shared.ratelimit import SharedGate
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio

STEP_S = 1.0
"""The most one step may take: Redis answers in well under a millisecond, and a refused
connection fails at once."""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(name: str, rate: str | None = "5/minute", runs: int = 2, subs: int = 1) -> Principal:
    return Principal(name, name, ClientLimits(parse(rate) if rate else None, runs, subs), True)


class Fleet:
    """Two replicas' gates, each on its own link, sharing one Redis."""

    def __init__(self, url: str, lease_s: float) -> None:
        self.clock = Clock()
        self.links = [RedisLink(url, clock=self.clock, retry_s=1.0) for _ in range(2)]
        self.a, self.b = (SharedGate(link, ClientGate(), lease_s=lease_s) for link in self.links)
        self.redis = self.links[0].client

    def rejoin(self) -> None:
        """Let each link try Redis again on its next command."""
        self.clock.now += 1.0

    async def aclose(self) -> None:
        for link in self.links:
            await link.aclose()


@pytest.fixture
async def fleet(redis_server: RedisServer) -> AsyncIterator[Fleet]:
    found = Fleet(redis_server.url, lease_s=60)
    yield found
    await found.aclose()


async def _refused(gate: SharedGate, principal: Principal) -> ClientLimitError:
    with anyio.fail_after(STEP_S), pytest.raises(ClientLimitError) as caught:
        await gate.hit(principal)
    return caught.value


async def _hit(gate: SharedGate, principal: Principal) -> None:
    with anyio.fail_after(STEP_S):
        await gate.hit(principal)


async def _wait_until_gone(fleet: Fleet, key: str) -> None:
    """Poll Redis until ``key`` is gone (Redis notifies nobody of an expiry)."""
    with anyio.fail_after(5):
        while True:
            if not await fleet.redis.exists(key):
                return
            await anyio.sleep(0.01)


# -- the rate ----------------------------------------------------------------------------


async def test_both_replicas_count_against_one_rate(fleet: Fleet) -> None:
    alice, bob = _client("alice"), _client("bob")
    for index in range(5):
        await _hit((fleet.a, fleet.b)[index % 2], alice)
    for gate in (fleet.a, fleet.b):
        refused = await _refused(gate, alice)
        assert str(refused) == "over the rate limit of 5 per 60s"  # ClientGate's words
        assert refused.limit == "rate"
        # The first hit leaves the window a minute after it came, less this test's time.
        assert refused.retry_after == 60
    for gate in (fleet.a, fleet.b, fleet.a):  # another client is counted on its own
        await _hit(gate, bob)
    (key,) = await fleet.redis.keys("bff:limit:rate:5/60:alice")
    assert await fleet.redis.zcard(key) == 5  # refusals are not counted
    assert 0 < await fleet.redis.pttl(key) <= 60_000


async def test_a_hit_leaving_the_window_admits_the_next(fleet: Fleet) -> None:
    fast = _client("fast", rate="2/second")
    await _hit(fleet.a, fast)
    await _hit(fleet.b, fast)
    refused = await _refused(fleet.a, fast)
    assert str(refused) == "over the rate limit of 2 per 1s"
    assert refused.retry_after == 1
    with anyio.fail_after(3):
        while True:
            try:
                await fleet.b.hit(fast)
                break
            except ClientLimitError:
                await anyio.sleep(0.02)


async def test_no_rate_touches_no_redis(fleet: Fleet) -> None:
    free = _client("free", rate=None)
    for _ in range(20):
        await _hit(fleet.a, free)
    assert await fleet.redis.keys("*") == []


# -- runs and subscriptions ----------------------------------------------------------------


async def test_runs_are_counted_across_replicas(fleet: Fleet) -> None:
    alice, bob = _client("alice", runs=2), _client("bob", runs=2)
    with anyio.fail_after(5):
        async with fleet.a.run(alice):
            async with fleet.b.run(alice):
                for gate in (fleet.a, fleet.b):
                    with pytest.raises(ClientLimitError) as caught:
                        async with gate.run(alice):
                            pass
                    assert str(caught.value) == "this client already has 2 runs open, its limit"
                    assert (caught.value.limit, caught.value.retry_after) == ("runs", 1.0)
                async with fleet.a.run(bob), fleet.b.run(bob):  # bob has his own count
                    pass
            # B's run ended: its place is free on A too.
            async with fleet.a.run(alice):
                assert await fleet.redis.zcard("bff:limit:runs:alice") == 2
        assert await fleet.redis.keys("bff:limit:*") == []


async def test_subscriptions_are_counted_across_replicas(fleet: Fleet) -> None:
    alice = _client("alice", subs=1)
    with anyio.fail_after(5):
        async with fleet.a.subscription(alice):
            with pytest.raises(ClientLimitError) as caught:
                async with fleet.b.subscription(alice):
                    pass
            assert str(caught.value) == "this client already has 1 subscription open, its limit"
            assert caught.value.limit == "subscriptions"
            async with fleet.b.run(alice):  # runs are another count
                pass
        async with fleet.b.subscription(alice):
            pass


async def test_a_cancelled_holder_still_releases_its_lease(fleet: Fleet) -> None:
    alice = _client("alice", runs=1)
    held = anyio.Event()

    async def hold() -> None:
        async with fleet.a.run(alice):
            held.set()
            await anyio.sleep_forever()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            await held.wait()
            assert await fleet.redis.zcard("bff:limit:runs:alice") == 1
            group.cancel_scope.cancel()
        assert await fleet.redis.exists("bff:limit:runs:alice") == 0
        async with fleet.b.run(alice):
            pass


async def test_a_crashed_replicas_lease_frees_itself(redis_server: RedisServer) -> None:
    fleet = Fleet(redis_server.url, lease_s=0.3)
    alice = _client("alice", runs=1)
    crashed = fleet.a.run(alice)
    try:
        with anyio.fail_after(STEP_S):
            await crashed.__aenter__()  # and never leaves: its replica is gone
        with anyio.fail_after(STEP_S), pytest.raises(ClientLimitError):
            async with fleet.b.run(alice):
                pass
        await _wait_until_gone(fleet, "bff:limit:runs:alice")  # it expired with its lease
        with anyio.fail_after(STEP_S):
            async with fleet.b.run(alice):
                pass
    finally:
        await crashed.__aexit__(None, None, None)  # removes nothing: the lease is gone
        await fleet.aclose()


async def test_an_expired_lease_is_dropped_when_the_next_is_taken(
    fleet: Fleet,
) -> None:
    short = SharedGate(fleet.links[0], ClientGate(), lease_s=0.2)
    alice = _client("alice", runs=2)
    crashed = short.run(alice)
    with anyio.fail_after(5):
        async with fleet.a.run(alice):  # a long lease keeps the key alive
            await crashed.__aenter__()  # a short one whose replica is gone
            try:
                assert await fleet.redis.zcard("bff:limit:runs:alice") == 2
                # The key lives as long as its longest lease, not its latest.
                assert await fleet.redis.pttl("bff:limit:runs:alice") > 50_000
                while True:  # until B's acquire finds the short lease expired
                    try:
                        async with fleet.b.run(alice):
                            assert await fleet.redis.zcard("bff:limit:runs:alice") == 2
                            break
                    except ClientLimitError:
                        await anyio.sleep(0.02)
            finally:
                await crashed.__aexit__(None, None, None)


# -- Redis down ---------------------------------------------------------------------------


async def test_an_outage_falls_back_to_each_replicas_own_limits(
    fleet: Fleet, redis_server: RedisServer
) -> None:
    alice = _client("alice", rate="3/minute", runs=1)
    await _hit(fleet.a, alice)
    async with AsyncExitStack() as leases:
        with anyio.fail_after(STEP_S):
            await leases.enter_async_context(fleet.a.run(alice))  # a lease in Redis
        redis_server.stop()
        # Each replica now counts on its own: its local window starts empty.
        for gate in (fleet.a, fleet.b):
            for _ in range(3):
                await _hit(gate, alice)
            refused = await _refused(gate, alice)
            assert str(refused) == "over the rate limit of 3 per 60s"
        with anyio.fail_after(STEP_S):
            async with fleet.a.run(alice):  # locally, A has no run open
                assert fleet.a.local.open("runs", alice) == 1
                with pytest.raises(ClientLimitError):
                    async with fleet.a.run(alice):
                        pass
                async with fleet.b.run(alice):  # B's own count
                    pass
            assert fleet.a.local.open("runs", alice) == 0
        # Leaving the Redis lease's block with Redis down: nothing raised, nothing waits.
        with anyio.fail_after(STEP_S):
            await leases.aclose()
    assert all(not link.up for link in fleet.links)


async def test_after_an_outage_the_shared_counts_apply_again(
    fleet: Fleet, redis_server: RedisServer
) -> None:
    alice, carol = _client("alice", runs=1), _client("carol", rate="3/minute")
    redis_server.stop()
    with anyio.fail_after(STEP_S):
        async with fleet.a.run(alice):  # a local hold, released locally after Redis is back
            redis_server.start()
            fleet.rejoin()
            async with fleet.b.run(alice):  # in Redis again
                assert await fleet.redis.zcard("bff:limit:runs:alice") == 1
                with pytest.raises(ClientLimitError):
                    async with fleet.a.run(alice):
                        pass
        assert fleet.a.local.open("runs", alice) == 0
    assert all(link.up for link in fleet.links)
    for gate in (fleet.a, fleet.b, fleet.a):
        await _hit(gate, carol)
    await _refused(fleet.b, carol)  # B alone has seen one hit: the count is shared


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a Redis that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


async def test_a_redis_that_does_not_answer_costs_at_most_a_timeout(silent_port: int) -> None:
    clock = Clock()
    link = RedisLink(f"redis://127.0.0.1:{silent_port}/0", timeout_s=0.1, clock=clock)
    gate = SharedGate(link, ClientGate(), lease_s=60)
    alice = _client("alice", rate="2/minute", runs=1)
    try:
        await _hit(gate, alice)  # times out once, then counts locally
        await _hit(gate, alice)
        await _refused(gate, alice)
        with anyio.fail_after(STEP_S):
            async with gate.run(alice):
                with pytest.raises(ClientLimitError):
                    async with gate.run(alice):
                        pass
        assert not link.up
    finally:
        await link.aclose()
