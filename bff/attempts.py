"""The attempt loop both structured runs and chat go through.

For each step of the attempt plan: reserve the call's worst case against the
budgets, make the call, settle what it used, record it, then decide: done, the
same attempt again (a round of tool calls), a retry after the backoff, the next
route, or the end. What a call is and what its events are belong to the caller
(``Caller``): a structured call parsed and validated as it streams, with tools
and reask, or a chat relayed token by token. The loop owns the bookkeeping that
must be the same for both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

from bff.budget import Reservation, Spend
from bff.disclosure import public_message
from bff.exceptions import BFFError, BudgetExceededError
from bff.observe.logs import log_event
from bff.observe.logs import run_id as current_run
from bff.observe.tracing import AttributeValue, Span, start_span
from bff.pii import Redactor
from bff.providers._types import ChatRequest
from bff.providers.base import Provider
from bff.resilience.plan import AttemptPlan, Step
from bff.routes import Route, parse_route
from bff.run import AttemptRecord, CallRecord, RunMeta, RunObserver
from bff.tokens import estimate_prompt_tokens

E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)
ProviderResolver = Callable[[Route], Provider]
logger = logging.getLogger(__name__)


@dataclass(slots=True)
class CallEnd:
    """How a call ended, as its caller tells the loop."""

    prompt_tokens: int
    completion_tokens: int
    error: BFFError | None = None
    final: bool = True
    """No other attempt follows: a success, or a failure that ends the run."""
    healthy: bool = False
    """With an error: the route did its part; the run ends for another reason."""


@dataclass(slots=True)
class Call:
    """One call of the loop: its step, request, reservation and record; ``end`` once
    it is over."""

    step: Step
    request: ChatRequest
    prompt_estimate: int
    reservation: Reservation
    record: CallRecord
    span: Span
    end: CallEnd | None = None

    @property
    def route(self) -> str:
        return self.step.route


class Caller(Protocol[E_co]):
    """What a kind of run plugs into the loop."""

    floor_tokens: int
    """The least ``max_tokens`` a call may carry when the budget is short."""

    def request(self, step: Step) -> ChatRequest:
        """The request of ``step``, with the ``max_tokens`` it would like."""
        ...

    def call(self, provider: Provider, call: Call) -> AsyncGenerator[E_co, None]:
        """Stream the call, yielding the caller's events; set ``call.end`` before the end."""
        ...

    def cancelled_tokens(self, call: Call) -> int:
        """The completion tokens a call cancelled midway had received."""
        ...

    def retrying(self, call: Call, error: BFFError, delay: float) -> E_co | None:
        """Prepare the next attempt on the same route; the event that says so, if any."""
        ...

    def falling_back(self, from_route: str, step: Step, reason: str) -> E_co | None:
        """Prepare the first attempt on the next route; the event that says so, if any."""
        ...


@dataclass(frozen=True, slots=True)
class Refused:
    """A call the budgets could not cover was not made."""

    error: BudgetExceededError


@dataclass(frozen=True, slots=True)
class Ended:
    """The run ended with the last call: ``error`` is None for a success."""

    call: Call
    error: BFFError | None


@dataclass(frozen=True, slots=True)
class Exhausted:
    """Every route is used up, or the deadline passed: ``error`` says which."""

    error: BFFError


Outcome = Refused | Ended | Exhausted


@dataclass(slots=True)
class RunScope:
    """A run being observed: its span, and its result kind once known."""

    span: Span
    result: str = "cancelled"


@contextmanager
def observed(
    meta: RunMeta,
    name: str,
    observer: RunObserver,
    clock: Callable[[], float],
    **attributes: AttributeValue,
) -> Iterator[RunScope]:
    """Give a run its id in the logs and its span; tell ``observer`` when it ends
    (cancelled runs too)."""
    current_run.set(meta.run_id)
    scope = RunScope(start_span(name, None, run_id=meta.run_id, **attributes))
    started = clock()
    try:
        yield scope
    finally:
        meta.latency_ms = meta.latency_ms or (clock() - started) * 1000
        outcome: dict[str, AttributeValue] = {
            "outcome": scope.result,
            "route": meta.route,
            "attempts": meta.attempts,
        }
        scope.span.set_attributes(outcome)
        scope.span.end()
        observer.run_finished(meta, scope.result)


@dataclass(slots=True)
class AttemptLoop(Generic[E]):
    """Runs a caller's calls over ``plan``; ``outcome`` is set when ``run`` ends."""

    plan: AttemptPlan
    spend: Spend
    meta: RunMeta
    span: Span
    providers: ProviderResolver
    redactor: Redactor
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    outcome: Outcome | None = field(default=None, init=False)

    async def run(self, caller: Caller[E]) -> AsyncGenerator[E, None]:
        last: BFFError | None = None
        route_index = 0
        while (step := await self._next()) is not None:
            if step.index != route_index:
                route_index = step.index
                reason = last.kind if last else "circuit_open"
                if (event := caller.falling_back(self.meta.route, step, reason)) is not None:
                    yield event
            call = await self._open(caller, step)
            if call is None:
                return
            async with aclosing(self._make(caller, call)) as events:
                async for event in events:
                    yield event
            end = call.end
            assert end is not None, "the caller sets call.end"
            if end.error is not None:
                last = end.error
            delay = await self._decide(call, end)
            if end.final:
                self.outcome = Ended(call, end.error)
                return
            if delay is not None:
                call.record.retried = True
                if (event := caller.retrying(call, last, delay)) is not None:  # type: ignore[arg-type]
                    yield event
                await self.sleep(delay)
        self.outcome = Exhausted(self.plan.final_error(last))

    async def _next(self) -> Step | None:
        """The plan's next step; each route it skips for an open circuit is an error."""
        plan, skipped = self.plan, len(self.plan.skipped)
        step = await plan.next()
        for passed in plan.skipped[skipped:]:
            detail = plan.circuit_detail(passed.route)
            self.meta.errors.append(
                AttemptRecord(passed.number, passed.route, "circuit_open", detail)
            )
        return step

    async def _open(self, caller: Caller[E], step: Step) -> Call | None:
        """Build and reserve the step's call; None (and the outcome) when refused."""
        request = caller.request(step)
        prompt = estimate_prompt_tokens(request)
        wanted = request.max_tokens or 0
        try:
            reservation = await self.spend.reserve(step.route, prompt, wanted, caller.floor_tokens)
        except BudgetExceededError as exc:
            await self.plan.released(step)
            self.meta.budget_refused = exc.budget
            self.outcome = Refused(exc)
            return None
        request = replace(request, max_tokens=reservation.max_tokens)  # what the budgets cover
        self.meta.route = step.route
        span = start_span("bff.call", self.span, route=step.route, attempt=self.plan.number)
        return Call(step, request, prompt, reservation, CallRecord(step.route, "ok"), span)

    async def _make(self, caller: Caller[E], call: Call) -> AsyncGenerator[E, None]:
        """The call's events; a cancelled call settles what it had received."""
        provider = self.providers(parse_route(call.route))
        try:
            async with aclosing(caller.call(provider, call)) as events:
                async for event in events:
                    yield event
        except BaseException:
            # Settle first: spend is money; a probe slot left held frees itself.
            call.record.outcome = "cancelled"
            await self._settle(call, call.prompt_estimate, caller.cancelled_tokens(call))
            await self.plan.released(call.step)
            raise
        finally:
            call.span.set_attribute("outcome", call.record.outcome)
            call.span.end()
        assert call.end is not None
        await self._settle(call, call.end.prompt_tokens, call.end.completion_tokens)

    async def _settle(self, call: Call, prompt: int, completion: int) -> None:
        """Replace the call's reservation with what it used, in its record and the run's."""
        record, meta = call.record, self.meta
        record.prompt_tokens, record.completion_tokens = prompt, completion
        record.cost_usd = await call.reservation.settle(prompt, completion)
        meta.calls.append(record)
        meta.prompt_tokens += prompt
        meta.completion_tokens += completion
        meta.cost_usd += record.cost_usd

    async def _decide(self, call: Call, end: CallEnd) -> float | None:
        """Tell the plan (and so the route's breaker) how the call went; the delay before
        retrying the same route, or None."""
        plan, error = self.plan, end.error
        if error is None:
            if end.final:
                await plan.succeeded(call.step)
            else:
                await plan.again(call.step)  # the model is working: the attempt goes on
            self.meta.attempts = plan.number
            return None
        self.meta.attempts = plan.number
        detail = public_message(error)
        self.meta.errors.append(AttemptRecord(plan.number, call.route, error.kind, detail))
        if end.healthy:
            await plan.succeeded(call.step)
            return None
        delay = await plan.failed(call.step, error)
        log_event(
            logger,
            "attempt failed",
            event="attempt_failed",
            task=self.meta.task,
            route=call.route,
            attempt=plan.number,
            kind=error.kind,
            retry_in_s=None if delay is None else round(delay, 3),
            detail=self.redactor.redact(str(error)),
        )
        return delay
