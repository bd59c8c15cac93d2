"""The Redis link against a real redis-server: scripts, an outage, and the way back."""

from __future__ import annotations

import pytest
from redis.exceptions import ResponseError

from bff.shared.link import RedisLink, SharedStateUnavailable
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_runs_a_script_on_prefixed_keys(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url, prefix="t1")
    try:
        assert link.key("a", "b") == "t1:a:b"
        assert await link.run(INCR, [link.key("n")], [2]) == 2
        assert await link.run(INCR, [link.key("n")], [3]) == 5
        assert link.up
    finally:
        await link.aclose()


async def test_an_outage_fails_fast_then_rejoins(redis_server: RedisServer) -> None:
    clock = Clock()
    link = RedisLink(redis_server.url, clock=clock, retry_s=1.0, timeout_s=0.2)
    try:
        assert await link.run(INCR, [link.key("n")], [1]) == 1
        redis_server.stop()
        with pytest.raises(SharedStateUnavailable):
            await link.run(INCR, [link.key("n")], [1])
        assert not link.up
        failures = link.failures
        # While down and before the retry time, no network: fails at once.
        with pytest.raises(SharedStateUnavailable):
            await link.run(INCR, [link.key("n")], [1])
        assert link.failures == failures + 1
        redis_server.start()
        with pytest.raises(SharedStateUnavailable):  # still inside the retry interval
            await link.run(INCR, [link.key("n")], [1])
        clock.now += 1.0
        assert await link.run(INCR, [link.key("n")], [1]) == 1  # a fresh server
        assert link.up
    finally:
        await link.aclose()


async def test_a_wrong_script_is_an_error_not_an_outage(redis_server: RedisServer) -> None:
    link = RedisLink(redis_server.url)
    try:
        with pytest.raises(ResponseError):
            await link.run("return redis.call('INCRBY', KEYS[1], 'x')", [link.key("n")], [])
        assert link.up and link.failures == 0
    finally:
        await link.aclose()
