"""The attempt plan of one request: which route to try next, and after how long.

Each route is tried up to ``max_attempts`` times, then the next route, in
order. A route whose circuit is open is skipped without a call. A failure
that retrying cannot fix (a 4xx, a refusal, content filtering) moves on at
once; one that it can is retried after the policy's backoff, honouring the
failed attempt's own ``retry-after``. Nothing starts, and no wait runs, past
the request's deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bff.exceptions import (
    BFFError,
    CircuitOpenError,
    DeadlineExceededError,
    ProviderError,
    RateLimitedError,
    RefusalError,
)
from bff.resilience.backoff import RetryPolicy
from bff.resilience.breaker import Breakers


def retryable(error: BFFError) -> bool:
    """Whether another attempt on the same route may succeed."""
    if isinstance(error, RefusalError):
        return False
    if isinstance(error, ProviderError):
        return error.retryable
    return True


@dataclass(frozen=True, slots=True)
class Step:
    route: str
    index: int
    attempt: int
    number: int


class AttemptPlan:
    """See the module docstring; ``next``, then ``succeeded`` or ``failed`` per step."""

    def __init__(
        self,
        routes: Sequence[str],
        *,
        max_attempts: int,
        breakers: Breakers,
        policy: RetryPolicy,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.routes = list(routes)
        self._max_attempts = max_attempts
        self._breakers = breakers
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._deadline = clock() + timeout_s
        self._index = 0
        self._attempt = 0
        self.number = 0
        self.skipped: list[str] = []
        self.expired = False

    def remaining(self) -> float:
        return self._deadline - self._clock()

    def next(self) -> Step | None:
        """The next attempt, or None when every route is used up or time has run out."""
        while self._index < len(self.routes):
            if self.remaining() <= 0:
                self.expired = True
                return None
            route = self.routes[self._index]
            if not self._breakers.get(route).allow():
                if self._attempt == 0:
                    self.skipped.append(route)
                self._move_on()
                continue
            self._attempt += 1
            self.number += 1
            return Step(route, self._index, self._attempt, self.number)
        return None

    def succeeded(self, step: Step) -> None:
        self._breakers.get(step.route).success()

    def again(self, step: Step) -> None:
        """The call went well but the work goes on (a round of tool calls): the next
        step is the same attempt again, not counted as a new one."""
        self._breakers.get(step.route).success()
        self._attempt -= 1
        self.number -= 1

    def released(self, step: Step) -> None:
        """The attempt was cancelled: no verdict on the route."""
        self._breakers.get(step.route).release()

    def failed(self, step: Step, error: BFFError) -> float | None:
        """Record the failure; the delay before retrying this route, or None to move on."""
        self._breakers.get(step.route).failure()
        if step.attempt >= self._max_attempts or not retryable(error):
            self._move_on()
            return None
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        delay = self._policy.delay(step.attempt, retry_after, self.remaining(), self._rng)
        if delay is None:
            self.expired = True
            self._index = len(self.routes)
        return delay

    def final_error(self, last: BFFError | None) -> BFFError:
        """Why the plan ran out: the deadline, open circuits, or the last attempt's error."""
        if self.expired:
            attempts = f"after {self.number} attempt{'s' if self.number != 1 else ''}"
            return DeadlineExceededError(f"the request deadline passed {attempts}")
        if last is None:
            return CircuitOpenError("every route's circuit is open: " + ", ".join(self.skipped))
        return last

    def _move_on(self) -> None:
        self._index += 1
        self._attempt = 0
