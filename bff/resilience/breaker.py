"""A circuit breaker per model route.

CLOSED counts consecutive failures; at ``threshold`` it opens. OPEN refuses
every call until ``cooldown_s`` has passed, then lets one probe through
(HALF_OPEN): the probe's success closes the circuit, its failure opens it
again for another cool-down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from enum import StrEnum

from bff.observe.logs import log_event

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return self._state

    def allow(self) -> bool:
        """Whether a call may go out now; in HALF_OPEN, only the one probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._state, self._probing = BreakerState.HALF_OPEN, True
            return True
        return False

    def success(self) -> None:
        if self._state is not BreakerState.CLOSED:
            log_event(logger, "circuit closed", event="circuit_closed", route=self.name)
        self._state, self.failures, self._probing = BreakerState.CLOSED, 0, False

    def failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.threshold:
            if self._state is not BreakerState.OPEN or self._probing:
                log_event(
                    logger,
                    "circuit opened",
                    event="circuit_opened",
                    level=logging.WARNING,
                    route=self.name,
                    failures=self.failures,
                    cooldown_s=self.cooldown_s,
                )
            self._state, self._opened_at, self._probing = BreakerState.OPEN, self._clock(), False

    def release(self) -> None:
        """A call that ended without a verdict (cancelled): free the probe slot."""
        self._probing = False


class Breakers:
    """One breaker per route, made on first use."""

    def __init__(
        self,
        *,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold, self._cooldown_s, self._clock = threshold, cooldown_s, clock
        self._by_route: dict[str, CircuitBreaker] = {}

    def get(self, route: str) -> CircuitBreaker:
        breaker = self._by_route.get(route)
        if breaker is None:
            breaker = self._by_route[route] = CircuitBreaker(
                threshold=self._threshold,
                cooldown_s=self._cooldown_s,
                clock=self._clock,
                name=route,
            )
        return breaker

    def __iter__(self) -> Iterator[tuple[str, CircuitBreaker]]:
        return iter(sorted(self._by_route.items()))
