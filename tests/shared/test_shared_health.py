"""Health and metrics say where the shared state is, and when Redis is gone."""

from __future__ import annotations

import time

import httpx

from tests.conftest import BffFactory
from tests.redis_server import RedisServer

HEALTH = {"query": "{ health { status sharedState } }"}


def _state(url: str) -> str:
    answer = httpx.post(f"{url}/graphql", json=HEALTH).json()
    state: str = answer["data"]["health"]["sharedState"]
    return state


def _healthz(url: str) -> str:
    state: str = httpx.get(f"{url}/healthz").json()["sharedState"]
    return state


def test_without_redis_the_state_is_in_process(bff: BffFactory) -> None:
    url = bff().url
    answer = httpx.post(f"{url}/graphql", json=HEALTH).json()
    assert answer["data"]["health"]["sharedState"] == "IN_PROCESS"
    assert "sharedState" not in httpx.get(f"{url}/healthz").json()
    assert "bff_redis_up" not in httpx.get(f"{url}/metrics").text


def test_a_redis_outage_shows_in_health_and_metrics(
    bff: BffFactory, redis_server: RedisServer
) -> None:
    url = bff(redis_url=redis_server.url).url
    assert _state(url) == _healthz(url) == "UP"
    assert "bff_redis_up 1.0" in httpx.get(f"{url}/metrics").text
    redis_server.stop()
    started = time.monotonic()
    assert _state(url) == "DOWN"
    assert _healthz(url) == "DOWN"  # within the second before the link tries again
    assert time.monotonic() - started < 2  # short timeouts: nothing hangs
    metrics = httpx.get(f"{url}/metrics").text
    assert "bff_redis_up 0.0" in metrics
    assert "bff_redis_unavailable_total" in metrics
    redis_server.start()
    deadline = time.monotonic() + 5
    while _state(url) != "UP":  # the link tries again once a second
        assert time.monotonic() < deadline, "the replica did not rejoin Redis"
        time.sleep(0.05)
    assert _healthz(url) == "UP"
