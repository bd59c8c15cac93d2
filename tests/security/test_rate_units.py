"""The per-client gate on its own: the moving window on a fake clock, open counts."""

from __future__ import annotations

import pytest
from limits import parse
from limits.strategies import MovingWindowRateLimiter

from bff.clients import ClientLimits, Principal
from bff.exceptions import ClientLimitError
from bff.rate_storage import SWEEP_EVERY_S, LoopMemoryStorage
from bff.ratelimit import ClientGate


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _principal(key: str, rate: str | None = "3/minute", runs: int = 2) -> Principal:
    limits = ClientLimits(parse(rate) if rate else None, runs, 1)
    return Principal(key, key, limits, authenticated=True)


def test_the_window_moves_and_says_when_a_slot_frees() -> None:
    clock = Clock()
    gate = ClientGate(clock=clock)
    a = _principal("a")
    for _ in range(3):
        gate.hit_now(a)
        clock.now += 10
    with pytest.raises(ClientLimitError) as refused:
        gate.hit_now(a)
    # The first hit was 30 s ago: its slot frees 30 s from now.
    assert refused.value.limit == "rate" and refused.value.retry_after == 30
    gate.hit_now(_principal("b"))  # another client has its own window
    clock.now += 30
    gate.hit_now(a)  # the oldest entry has left the window
    with pytest.raises(ClientLimitError):
        gate.hit_now(a)


def test_no_rate_means_no_limit() -> None:
    gate = ClientGate()
    for _ in range(1000):
        gate.hit_now(_principal("a", rate=None))


@pytest.mark.anyio
async def test_open_runs_are_counted_and_given_back() -> None:
    gate = ClientGate()
    a = _principal("a", runs=2)
    await gate.hit(a)
    async with gate.run(a), gate.run(a):
        with pytest.raises(ClientLimitError, match="already has 2 runs open") as refused:
            async with gate.run(a):
                pass  # pragma: no cover - refused before the block
        assert refused.value.retry_after == 1.0
        assert gate.open("runs", a) == 2
    assert gate.open("runs", a) == 0
    async with gate.subscription(a):
        with pytest.raises(ClientLimitError, match="already has 1 subscription open"):
            async with gate.subscription(a):
                pass  # pragma: no cover


def test_idle_keys_are_swept_without_a_thread() -> None:
    clock = Clock()
    storage = LoopMemoryStorage(clock=clock)
    limiter = MovingWindowRateLimiter(storage)
    minute = parse("2/minute")
    for key in ("a", "b", "c"):
        assert limiter.hit(minute, key)
    clock.now += SWEEP_EVERY_S + 1
    assert limiter.hit(minute, "d")  # the sweep runs on this hit
    assert limiter.get_window_stats(minute, "a").remaining == 2
    assert storage.reset() == 2  # a, b and c were swept: d, and a as read just now
    assert limiter.hit(minute, "a") and limiter.hit(minute, "a")
    assert not limiter.hit(minute, "a")
    limiter.clear(minute, "a")
    assert limiter.hit(minute, "a")


def test_the_fixed_window_half_counts_and_expires() -> None:
    clock = Clock()
    storage = LoopMemoryStorage(clock=clock)
    assert storage.incr("k", 10) == 1 and storage.incr("k", 10, 2) == 3
    assert storage.get("k") == 3 and storage.get_expiry("k") == clock.now + 10
    clock.now += 10
    assert storage.get("k") == 0 and storage.incr("k", 10) == 1
    assert storage.check()
