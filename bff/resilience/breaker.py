"""Circuit breakers: one per model route, and one per (task, route).

CLOSED counts consecutive failures; at ``threshold`` it opens (a ``trip`` opens
it at once). OPEN refuses every call until ``cooldown_s`` has passed, then lets
one probe through (HALF_OPEN): the probe's success closes the circuit, its
failure opens it again for another cool-down.

A call passes every breaker of its scopes: chat the route's, a task's call the
route's and the task's on that route. What a call's ending says about each scope
is a ``Verdict`` (``bff.resilience.plan`` decides which). The breakers live on a
``Board``: ``LocalBoard`` in this process, or the one the replicas share on Redis
(``bff.shared.breakers``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bff.observe.logs import log_event

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class Verdict(StrEnum):
    """What one call's ending says about one scope."""

    OK = "ok"
    FAIL = "fail"
    """Counts toward opening."""
    TRIP = "trip"
    """Opens at once (a route's credentials are refused)."""
    NONE = "none"
    """No verdict (cancelled, or not this scope's doing): frees a probe, counts nothing."""


def scope(route: str, task: str | None = None) -> str:
    """The breaker key of ``route``, or of ``task`` on ``route``."""
    return route if task is None else f"{route}#{task}"


def split_scope(key: str) -> tuple[str, str | None]:
    """``(route, task)`` of a breaker key; task None for a route's own breaker."""
    route, _, task = key.partition("#")
    return route, task or None


@dataclass(frozen=True, slots=True)
class Permit:
    """A call let through ``scopes``; ``probing`` marks the scopes it probes, ``clean``
    says every scope was closed with no failures (a success then changes nothing)."""

    scopes: tuple[str, ...]
    probing: tuple[bool, ...]
    clean: bool
    token: str = ""
    """The shared board's probe owner; empty for a permit of this process's breakers."""


@dataclass(frozen=True, slots=True)
class CircuitStatus:
    key: str
    state: BreakerState
    failures: int

    @property
    def route(self) -> str:
        return split_scope(self.key)[0]

    @property
    def task(self) -> str | None:
        return split_scope(self.key)[1]


class Board(Protocol):
    """Where the breakers live; see the module docstring."""

    async def allow(self, scopes: Sequence[str]) -> Permit | None:
        """Let a call through every scope, or None (and no probe held) if one is open."""
        ...

    async def settle(self, permit: Permit, verdicts: Sequence[Verdict]) -> None:
        """Record the call's verdict on each of its scopes."""
        ...

    def statuses(self) -> list[CircuitStatus]:
        """Every breaker this replica knows of (for metrics), sorted by key."""
        ...

    async def snapshot(self) -> list[CircuitStatus]:
        """Every breaker of the fleet, sorted by key."""
        ...


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
            closed(self.name)
        self._state, self.failures, self._probing = BreakerState.CLOSED, 0, False

    def settle(self, verdict: Verdict) -> None:
        if verdict is Verdict.OK:
            self.success()
        elif verdict is Verdict.NONE:
            self.release()
        else:
            self.failure(trip=verdict is Verdict.TRIP)

    def failure(self, *, trip: bool = False) -> None:
        self.failures += 1
        if trip or self._probing or self.failures >= self.threshold:
            if self._state is not BreakerState.OPEN or self._probing:
                opened(self.name, self.failures, self.cooldown_s)
            self._state, self._opened_at, self._probing = BreakerState.OPEN, self._clock(), False

    def release(self) -> None:
        """A call that ended without a verdict (cancelled): free the probe slot."""
        self._probing = False


def opened(key: str, failures: int, cooldown_s: float) -> None:
    fields: dict[str, Any] = {**_where(key), "failures": failures, "cooldown_s": cooldown_s}
    log_event(logger, "circuit opened", event="circuit_opened", level=logging.WARNING, **fields)


def closed(key: str) -> None:
    log_event(logger, "circuit closed", event="circuit_closed", **_where(key))


def _where(key: str) -> dict[str, Any]:
    route, task = split_scope(key)
    return {"route": route} if task is None else {"route": route, "task": task}


class Breakers:
    """One breaker per scope (route, or task on a route), made on first use."""

    def __init__(
        self,
        *,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold, self._cooldown_s, self._clock = threshold, cooldown_s, clock
        self._by_key: dict[str, CircuitBreaker] = {}

    def get(self, route: str) -> CircuitBreaker:
        breaker = self._by_key.get(route)
        if breaker is None:
            breaker = self._by_key[route] = CircuitBreaker(
                threshold=self._threshold,
                cooldown_s=self._cooldown_s,
                clock=self._clock,
                name=route,
            )
        return breaker

    def __iter__(self) -> Iterator[tuple[str, CircuitBreaker]]:
        return iter(sorted(self._by_key.items()))


class LocalBoard:
    """The breakers of this process (a ``Board``)."""

    def __init__(self, breakers: Breakers) -> None:
        self.breakers = breakers

    async def allow(self, scopes: Sequence[str]) -> Permit | None:
        return self.allow_now(scopes)

    def allow_now(self, scopes: Sequence[str]) -> Permit | None:
        """``allow``, without awaiting (the shared board's fallback)."""
        taken: list[CircuitBreaker] = []
        probing: list[bool] = []
        for key in scopes:
            breaker = self.breakers.get(key)
            state = breaker.state
            if not breaker.allow():
                for held in taken:
                    held.release()
                return None
            taken.append(breaker)
            probing.append(state is BreakerState.HALF_OPEN)
        clean = all(b.state is BreakerState.CLOSED and not b.failures for b in taken)
        return Permit(tuple(scopes), tuple(probing), clean and not any(probing))

    async def settle(self, permit: Permit, verdicts: Sequence[Verdict]) -> None:
        self.settle_now(permit, verdicts)

    def settle_now(self, permit: Permit, verdicts: Sequence[Verdict]) -> None:
        for key, verdict in zip(permit.scopes, verdicts, strict=True):
            self.breakers.get(key).settle(verdict)

    def statuses(self) -> list[CircuitStatus]:
        return [CircuitStatus(key, b.state, b.failures) for key, b in self.breakers]

    async def snapshot(self) -> list[CircuitStatus]:
        return self.statuses()
