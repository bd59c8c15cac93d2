"""The drift windows on a real Redis: judged exactly as the in-process monitor judges
them, and shared by the replicas, so the fleet's rate raises the alert, once."""

from __future__ import annotations

import random

import anyio
import pytest

from bff.observe.drift import DriftMonitor, DriftPolicy, DriftStatus
from bff.shared.drift import SharedDrift
from bff.shared.link import RedisLink
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio


def _key(status: DriftStatus) -> tuple[object, ...]:
    baseline = None if status.baseline is None else round(status.baseline, 9)
    return (status.task, status.route, status.recent, status.failures, baseline, status.drifting)


@pytest.mark.parametrize("expected", [None, 0.1])
async def test_the_shared_window_judges_as_the_monitor_does(
    redis_server: RedisServer, expected: float | None
) -> None:
    policy = DriftPolicy(window=10, min_samples=5, threshold=0.3, expected_rate=expected)
    local_changes: list[DriftStatus] = []
    shared_changes: list[DriftStatus] = []
    monitor = DriftMonitor(policy, on_change=local_changes.append)
    link = RedisLink(redis_server.url)
    shared = SharedDrift(link, DriftMonitor(policy, on_change=shared_changes.append))
    draw = random.Random(7)
    try:
        for step in range(200):
            rate = 0.05 if (step // 40) % 2 == 0 else 0.7  # calm, then drifting, in turns
            failed = draw.random() < rate
            monitor.record("t", "r/m", failed=failed)
            await shared.add("t", "r/m", failed=failed)
            assert [_key(s) for s in shared.statuses()] == [_key(s) for s in monitor.statuses()]
        assert [_key(s) for s in await shared.snapshot()] == [_key(s) for s in monitor.statuses()]
    finally:
        await link.aclose()
    assert [_key(s) for s in shared_changes] == [_key(s) for s in local_changes]
    assert len(local_changes) >= 2  # raised and cleared at least once: the test has teeth


async def test_the_fleets_rate_raises_the_alert_once(redis_server: RedisServer) -> None:
    policy = DriftPolicy(window=20, min_samples=10, threshold=0.2, expected_rate=0.0)
    changes: list[DriftStatus] = []
    links = [RedisLink(redis_server.url) for _ in range(2)]
    replicas = [SharedDrift(link, DriftMonitor(policy, on_change=changes.append)) for link in links]
    try:
        for index in range(12):  # six failures each: neither alone has ten samples
            await replicas[index % 2].add("t", "r/m", failed=True)
        assert [(s.recent, s.failures, s.drifting) for s in changes] == [(10, 10, True)]
        statuses = await replicas[1].snapshot()
        assert [(s.recent, s.failures, s.drifting) for s in statuses] == [(12, 12, True)]
    finally:
        for link in links:
            await link.aclose()


async def test_without_redis_samples_go_to_the_replicas_own_monitor(
    redis_server: RedisServer,
) -> None:
    link = RedisLink(redis_server.url, retry_s=0.0)
    shared = SharedDrift(link, DriftMonitor(DriftPolicy(window=5, min_samples=2)))
    try:
        await shared.add("t", "r/m", failed=True)
        redis_server.stop()
        with anyio.fail_after(3):
            shared.record("t", "r/m", failed=False)
            shared.record("t", "r/m", failed=True)
            await shared.aclose()  # the samples in flight are sent (and fall back)
            statuses = await shared.snapshot()
        # The fleet's one sample as last seen, overlaid by nothing newer from Redis; the
        # local monitor holds the two samples taken while Redis was down.
        assert [(s.recent, s.failures) for s in shared.statuses()] == [(1, 1)]
        assert [(s.recent, s.failures) for s in statuses] == [(1, 1)]
    finally:
        await link.aclose()
