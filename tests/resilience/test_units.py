from __future__ import annotations

import pytest

from bff.exceptions import (
    ClientRequestError,
    MalformedOutputError,
    RateLimitedError,
    RefusalError,
    ServerError,
)
from bff.resilience.backoff import RetryPolicy
from bff.resilience.breaker import Breakers, BreakerState, CircuitBreaker, LocalBoard
from bff.resilience.plan import AttemptPlan, Skipped


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_full_jitter_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=3.0)
    assert [policy.delay(n, None, 100, rng=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [
        0.5,
        1.0,
        2.0,
        3.0,
        3.0,
    ]
    assert policy.delay(3, None, 100, rng=lambda: 0.25) == 0.5
    assert policy.delay(1, None, 100, rng=lambda: 0.0) == 0.0


def test_retry_after_is_honoured_capped_and_bounded_by_the_deadline() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=3.0, retry_after_cap_s=10.0)
    assert policy.delay(1, 4.0, 100, rng=lambda: 1.0) == 4.0
    assert policy.delay(1, 60.0, 100, rng=lambda: 1.0) == 10.0
    assert policy.delay(1, 4.0, 3.9, rng=lambda: 1.0) is None
    assert policy.delay(1, 0.1, 100, rng=lambda: 1.0) == 0.5


def test_breaker_opens_cools_down_and_probes_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one probe only
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.failures == 0 and breaker.allow()


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2)
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state is BreakerState.CLOSED


def test_a_cancelled_probe_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=1, clock=clock)
    breaker.failure()
    clock.now += 1
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


def _plan(
    clock: Clock, breakers: Breakers | None = None, timeout_s: float = 60, attempts: int = 2
) -> AttemptPlan:
    return AttemptPlan(
        ["a/x", "b/y"],
        max_attempts=attempts,
        board=LocalBoard(breakers or Breakers(threshold=5, clock=clock)),
        policy=RetryPolicy(base_s=1, cap_s=1),
        timeout_s=timeout_s,
        clock=clock,
        rng=lambda: 1.0,
    )


@pytest.mark.anyio
async def test_plan_retries_then_falls_back() -> None:
    plan = _plan(Clock())
    first = await plan.next()
    assert first is not None and (first.route, first.attempt, first.number) == ("a/x", 1, 1)
    assert await plan.failed(first, ServerError("boom")) == 1.0
    second = await plan.next()
    assert second is not None and (second.route, second.attempt) == ("a/x", 2)
    assert await plan.failed(second, MalformedOutputError("bad")) is None
    third = await plan.next()
    assert third is not None and (third.route, third.index, third.number) == ("b/y", 1, 3)
    assert await plan.failed(third, ClientRequestError("no", status=401)) is None
    assert await plan.next() is None and not plan.expired


@pytest.mark.anyio
@pytest.mark.parametrize("error", [ClientRequestError("x", status=404), RefusalError("no")])
async def test_unfixable_errors_move_on_at_once(error: Exception) -> None:
    plan = _plan(Clock())
    step = await plan.next()
    assert step is not None and await plan.failed(step, error) is None  # type: ignore[arg-type]
    nxt = await plan.next()
    assert nxt is not None and nxt.route == "b/y"


@pytest.mark.anyio
async def test_retry_after_from_the_attempt_itself() -> None:
    plan = _plan(Clock())
    step = await plan.next()
    assert step is not None
    assert await plan.failed(step, RateLimitedError("slow", retry_after=7.5)) == 7.5


@pytest.mark.anyio
async def test_open_circuits_are_skipped_without_a_call() -> None:
    clock = Clock()
    breakers = Breakers(threshold=1, cooldown_s=30, clock=clock)
    breakers.get("a/x").failure()
    plan = _plan(clock, breakers)
    step = await plan.next()
    assert step is not None and step.route == "b/y"
    assert plan.skipped == [Skipped("a/x", 0)]


@pytest.mark.anyio
async def test_the_deadline_ends_the_plan() -> None:
    clock = Clock()
    plan = _plan(clock, timeout_s=1.5, attempts=3)
    step = await plan.next()
    assert step is not None
    assert await plan.failed(step, ServerError("boom")) == 1.0
    clock.now += 1.0
    step = await plan.next()
    assert step is not None
    assert await plan.failed(step, ServerError("boom")) is None  # the next wait would pass it
    assert plan.expired and await plan.next() is None


def test_breaker_transitions_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    breakers = Breakers(threshold=2, cooldown_s=5, clock=clock)
    breaker = breakers.get("openai/gpt-4o")
    with caplog.at_level("INFO", logger="bff.resilience.breaker"):
        breaker.failure()
        breaker.failure()
        clock.now += 5
        assert breaker.allow()
        breaker.success()
    assert [(r.getMessage(), r.fields) for r in caplog.records] == [  # type: ignore[attr-defined]
        (
            "circuit opened",
            {"event": "circuit_opened", "route": "openai/gpt-4o", "failures": 2, "cooldown_s": 5},
        ),
        ("circuit closed", {"event": "circuit_closed", "route": "openai/gpt-4o"}),
    ]
