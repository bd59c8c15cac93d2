"""The attempt plan of one request: which route to try next, and after how long.

Each route is tried up to ``max_attempts`` times, then the next route, in
order. A route whose circuit is open, or the task's circuit on it, is skipped
without a call. A failure
that retrying cannot fix (a 4xx, a refusal, content filtering) moves on at
once; one that it can is retried after the policy's backoff, honouring the
failed attempt's own ``retry-after``. Nothing starts, and no wait runs, past
the request's deadline.

What a failure says about the breakers (``verdicts``): transport failures, 5xx,
timeouts and 429 count against the route; 401 and 403 (the route's credentials
are refused) open it at once; other 4xx are the request's own fault and count
against nothing. An output that does not fit the task (invalid, truncated,
refused) counts against the task on that route only: the route itself worked.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bff.exceptions import (
    BFFError,
    CircuitOpenError,
    ClientRequestError,
    ContentFilteredError,
    DeadlineExceededError,
    OutputError,
    ProviderError,
    RateLimitedError,
    RefusalError,
)
from bff.resilience.backoff import RetryPolicy
from bff.resilience.breaker import Board, Permit, Verdict, scope

REFUSED_CREDENTIALS = frozenset({401, 403})


def retryable(error: BFFError) -> bool:
    """Whether another attempt on the same route may succeed."""
    if isinstance(error, RefusalError):
        return False
    if isinstance(error, ProviderError):
        return error.retryable
    return True


def route_verdict(error: BFFError | None) -> Verdict:
    """What a call's ending says about its route; see the module docstring."""
    if error is None or isinstance(error, OutputError):
        return Verdict.OK
    if not isinstance(error, ProviderError):
        return Verdict.NONE  # the request's own deadline, budget or tool depth
    if error.status in REFUSED_CREDENTIALS:
        return Verdict.TRIP
    if isinstance(error, ClientRequestError | ContentFilteredError):
        return Verdict.NONE
    return Verdict.FAIL


def task_verdict(error: BFFError | None) -> Verdict:
    """What a call's ending says about the task on its route."""
    if error is None:
        return Verdict.OK
    return Verdict.FAIL if isinstance(error, OutputError) else Verdict.NONE


@dataclass(frozen=True, slots=True)
class Step:
    route: str
    index: int
    attempt: int
    number: int
    permit: Permit


@dataclass(frozen=True, slots=True)
class Skipped:
    """A route passed over without a call: its circuit, or the task's on it, is open."""

    route: str
    number: int
    """Attempts made before it was skipped."""


class AttemptPlan:
    """See the module docstring; ``next``, then ``succeeded`` or ``failed`` per step."""

    def __init__(
        self,
        routes: Sequence[str],
        *,
        max_attempts: int,
        board: Board,
        task: str | None = None,
        policy: RetryPolicy,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.routes = list(routes)
        self._max_attempts = max_attempts
        self._board = board
        self._task = task
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._deadline = clock() + timeout_s
        self._index = 0
        self._attempt = 0
        self.number = 0
        self.skipped: list[Skipped] = []
        self.expired = False

    def remaining(self) -> float:
        return self._deadline - self._clock()

    def scopes(self, route: str) -> tuple[str, ...]:
        """The breakers a call on ``route`` passes."""
        if self._task is None:
            return (route,)
        return (route, scope(route, self._task))

    async def next(self) -> Step | None:
        """The next attempt, or None when every route is used up or time has run out."""
        while self._index < len(self.routes):
            if self.remaining() <= 0:
                self.expired = True
                return None
            route = self.routes[self._index]
            permit = await self._board.allow(self.scopes(route))
            if permit is None:
                if self._attempt == 0:
                    self.skipped.append(Skipped(route, self.number))
                self._move_on()
                continue
            self._attempt += 1
            self.number += 1
            return Step(route, self._index, self._attempt, self.number, permit)
        return None

    async def succeeded(self, step: Step) -> None:
        await self._settle(step, None)

    async def again(self, step: Step) -> None:
        """The call went well but the work goes on (a round of tool calls): the next
        step is the same attempt again, not counted as a new one."""
        await self._settle(step, None)
        self._attempt -= 1
        self.number -= 1

    async def released(self, step: Step) -> None:
        """The attempt was cancelled: no verdict on its breakers."""
        await self._board.settle(step.permit, [Verdict.NONE] * len(step.permit.scopes))

    async def failed(self, step: Step, error: BFFError) -> float | None:
        """Record the failure; the delay before retrying this route, or None to move on."""
        await self._settle(step, error)
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
            routes = ", ".join(skipped.route for skipped in self.skipped)
            return CircuitOpenError(f"every route's circuit is open: {routes}")
        return last

    def circuit_detail(self, route: str) -> str:
        """Why ``route`` was skipped, in words a client may read."""
        if self._task is None:
            return f"the circuit of {route} is open"
        return f"the circuit of {route}, or of {self._task} on it, is open"

    async def _settle(self, step: Step, error: BFFError | None) -> None:
        route = route_verdict(error)
        verdicts = [route, task_verdict(error)][: len(step.permit.scopes)]
        if step.permit.clean and all(v in (Verdict.OK, Verdict.NONE) for v in verdicts):
            return  # every breaker closed with no failures, and still so: nothing to write
        await self._board.settle(step.permit, verdicts)

    def _move_on(self) -> None:
        self._index += 1
        self._attempt = 0
