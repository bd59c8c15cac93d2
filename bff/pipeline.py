"""Run one task: attempts on each model route in turn, then the safe response.

``Pipeline.run`` is an async iterator of run events — started, progress,
retrying, falling back — ending in exactly one ``Completed`` or ``Failed``.
Closing it early cancels the run and closes the upstream request.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from bff.budget import ANONYMOUS, DailyLedger, Spend
from bff.config import Settings
from bff.disclosure import public_message
from bff.exceptions import (
    BFFError,
    BudgetExceededError,
    CircuitOpenError,
    ContentFilteredError,
    DeadlineExceededError,
    InputRejectedError,
    OutputError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusalError,
    ToolCallError,
    ToolDepthExceededError,
    TruncatedOutputError,
)
from bff.observe.logs import run_id as current_run
from bff.observe.tracing import Span, start_span
from bff.providers._types import ChatRequest
from bff.providers.base import Provider
from bff.reask import reask
from bff.resilience.breaker import Breakers
from bff.resilience.plan import AttemptPlan
from bff.routes import Route, parse_route
from bff.run import (
    NO_OBSERVER,
    SAFE_RESPONSE_ROUTE,
    AttemptRecord,
    CallingTools,
    CallRecord,
    Completed,
    ErrorCode,
    Failed,
    Fallback,
    FallingBack,
    Retrying,
    RunEvent,
    RunMeta,
    RunObserver,
    RunOutcome,
    Started,
    outcome,
)
from bff.sanitize import Redactor
from bff.structured import CallResult, StructuredCall
from bff.task_io import checked_input, redacted_input, restored
from bff.tasks import Task
from bff.tokens import estimate_prompt_tokens, estimate_tokens
from bff.tools import run_tools

ProviderResolver = Callable[[Route], Provider]
logger = logging.getLogger("bff.pipeline")


def error_code(error: BFFError) -> ErrorCode:
    """The code a client sees for a run that ended on ``error``."""
    if isinstance(error, RefusalError | ContentFilteredError):
        return ErrorCode.REFUSED
    if isinstance(error, BudgetExceededError):
        return ErrorCode.BUDGET_EXCEEDED
    if isinstance(error, OutputError):
        return ErrorCode.VALIDATION_FAILED
    if isinstance(error, RateLimitedError):
        return ErrorCode.RATE_LIMITED
    if isinstance(error, ProviderTimeoutError | DeadlineExceededError):
        return ErrorCode.TIMEOUT
    return ErrorCode.PROVIDER_UNAVAILABLE


class Pipeline:
    """Runs tasks against the configured routes; see the module docstring."""

    def __init__(
        self,
        providers: ProviderResolver,
        settings: Settings,
        *,
        breakers: Breakers | None = None,
        ledger: DailyLedger | None = None,
        observer: RunObserver = NO_OBSERVER,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        progress_every: float = 0.1,
    ) -> None:
        self._providers = providers
        self._settings = settings
        self.breakers = breakers or Breakers(
            threshold=settings.breaker_threshold, cooldown_s=settings.breaker_cooldown_s
        )
        self.ledger = ledger or DailyLedger(
            tokens=settings.client_daily_tokens, cost_usd=settings.client_daily_cost_usd
        )
        self._observer = observer
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._progress_every = progress_every

    def routes(self, task: Task[Any, Any]) -> list[str]:
        primary = task.route or self._settings.model
        fallbacks = task.fallbacks if task.fallbacks is not None else self._settings.fallback_models
        return [primary, *fallbacks]

    def plan(self, routes: list[str]) -> AttemptPlan:
        """A fresh attempt plan over ``routes`` with this pipeline's settings and breakers."""
        return AttemptPlan(
            routes,
            max_attempts=self._settings.max_attempts,
            breakers=self.breakers,
            policy=self._settings.retry_policy,
            timeout_s=self._settings.request_timeout_s,
            clock=self._clock,
            rng=self._rng,
        )

    async def execute(
        self, task: Task[Any, Any], data: BaseModel, *, client: str = ANONYMOUS
    ) -> RunOutcome:
        """Run to the end and return the outcome, dropping the progress events."""
        async with aclosing(self.run(task, data, client=client)) as events:
            async for event in events:
                if isinstance(event, Completed | Failed):
                    return event
        raise AssertionError("a run always ends in Completed or Failed")

    def spend(self, client: str, token_budget: int | None = None) -> Spend:
        """A new request's budgets: its own tokens and ``client``'s daily allowance."""
        return Spend(
            token_budget=token_budget or self._settings.request_token_budget,
            ledger=self.ledger,
            client=client,
            prices=self._settings.prices,
        )

    async def run(
        self, task: Task[Any, Any], data: BaseModel, *, client: str = ANONYMOUS
    ) -> AsyncGenerator[RunEvent, None]:
        meta = RunMeta(run_id=uuid.uuid4().hex, task=task.name, model=self.routes(task)[0])
        current_run.set(meta.run_id)
        span = start_span("bff.run", task=task.name, run_id=meta.run_id)
        started = self._clock()
        result = "cancelled"
        try:
            async with aclosing(self._run(task, data, client, meta, span)) as events:
                async for event in events:
                    if isinstance(event, Completed | Failed):
                        result = outcome(event)
                    yield event
        finally:
            meta.latency_ms = meta.latency_ms or (self._clock() - started) * 1000
            span.set_attributes({"outcome": result, "route": meta.model, "attempts": meta.attempts})
            span.end()
            self._observer.run_finished(meta, result)

    async def _run(
        self, task: Task[Any, Any], data: BaseModel, client: str, meta: RunMeta, span: Span
    ) -> AsyncGenerator[RunEvent, None]:
        started = self._clock()
        routes = self.routes(task)
        plan = self.plan(routes)

        def ended(code: ErrorCode, error: BFFError) -> Failed:
            meta.latency_ms = (self._clock() - started) * 1000
            return Failed(code, public_message(error), meta)

        yield Started(meta.run_id, task.name, routes[0])
        stage = start_span("bff.sanitize", span)
        try:
            data = checked_input(task, data)
        except InputRejectedError as exc:
            yield ended(ErrorCode.INPUT_REJECTED, exc)
            return
        finally:
            stage.end()
        redactor = Redactor()
        redacted = redacted_input(task, data, redactor)
        meta.redactions = dict(redactor.counts)
        base = conversation = messages = task.messages(redacted)
        prompt_tokens = sum(estimate_tokens(m.content or "") for m in base)
        if prompt_tokens > task.max_input_tokens:
            message = (
                f"the prompt is about {prompt_tokens} tokens; "
                f"max_input_tokens is {task.max_input_tokens}"
            )
            yield ended(ErrorCode.INPUT_REJECTED, InputRejectedError(message))
            return
        spend = self.spend(client, task.token_budget)
        cap = self._settings.max_tokens_cap
        least_max_tokens = wanted_max_tokens = min(task.max_tokens, cap)
        tools = tuple(tool.spec for tool in task.tools)
        depth = 0
        last_error: BFFError | None = None
        current = 0
        while (step := plan.next()) is not None:
            if step.index != current:
                reason = last_error.kind if last_error else "circuit_open"
                yield FallingBack(meta.model, step.route, reason)
                current, conversation = step.index, base
                messages = base
            route = parse_route(step.route)
            request = ChatRequest(
                route.model, messages, task.output, least_max_tokens, task.temperature, tools
            )
            prompt = estimate_prompt_tokens(request)
            # A raised max_tokens is used only as far as the budgets cover it.
            affordable = int(spend.affordable_max_tokens(step.route, prompt))
            request = replace(
                request, max_tokens=max(least_max_tokens, min(wanted_max_tokens, affordable))
            )
            try:
                reservation = spend.reserve(step.route, prompt, request.max_tokens or 0)
            except BudgetExceededError as exc:
                plan.released(step)
                meta.budget_refused = exc.budget
                yield ended(ErrorCode.BUDGET_EXCEEDED, exc)
                return
            meta.model = step.route
            call_span = start_span("bff.call", span, route=step.route, attempt=meta.attempts + 1)
            call = StructuredCall(
                self._providers(route),
                request,
                task,
                attempt=meta.attempts + 1,
                route=step.route,
                first_token_s=self._settings.first_token_timeout_s,
                deadline_s=plan.remaining(),
                clock=self._clock,
                progress_every=self._progress_every,
                span=call_span,
            )
            try:
                async with aclosing(call.events()) as progress:
                    async for event in progress:
                        yield event
            except BaseException:
                plan.released(step)
                reservation.settle(prompt, 0)
                call_span.end()
                raise
            result = call.result
            assert result is not None
            record = _record(step.route, request, result)
            record.cost_usd = reservation.settle(result.prompt_tokens, result.completion_tokens)
            call_span.set_attributes({"outcome": record.outcome, "abandoned": record.abandoned})
            call_span.end()
            meta.calls.append(record)
            meta.prompt_tokens += result.prompt_tokens
            meta.completion_tokens += result.completion_tokens
            meta.cost_usd = spend.cost_usd
            if result.output is not None:
                meta.attempts += 1
                plan.succeeded(step)
                meta.fallback = Fallback.MODEL if step.index else Fallback.NONE
                meta.latency_ms = (self._clock() - started) * 1000
                yield Completed(restored(task, result.output, redactor), meta)
                return
            error = result.error
            if result.tool_calls:
                if depth >= task.max_tool_depth:
                    plan.succeeded(step)
                    meta.attempts += 1
                    yield ended(
                        ErrorCode.TOOL_DEPTH_EXCEEDED,
                        ToolDepthExceededError(
                            f"the model asked for tool round {depth + 1}; "
                            f"max_tool_depth is {task.max_tool_depth}"
                        ),
                    )
                    return
                depth += 1
                meta.tool_calls += len(result.tool_calls)
                names = tuple(call.name for call in result.tool_calls)
                yield CallingTools(meta.attempts + 1, step.route, names)
                rounds = await run_tools(task.tool_map, result.tool_calls, redactor.redact)
                conversation = messages = (*conversation, *rounds.messages)
                if rounds.error is None:
                    plan.again(step)  # the model is working: the attempt goes on
                    continue
                error = rounds.error
                record.outcome, record.validation_failure = error.kind, True
            meta.attempts += 1
            assert error is not None
            last_error = error
            detail = public_message(error)
            meta.errors.append(AttemptRecord(meta.attempts, step.route, error.kind, detail))
            delay = plan.failed(step, error)
            fields = {
                "event": "attempt_failed",
                "task": task.name,
                "route": step.route,
                "attempt": meta.attempts,
                "kind": error.kind,
                "retry_in_s": None if delay is None else round(delay, 3),
                "detail": redactor.redact(str(error)),
            }
            logger.info("attempt failed", extra={"fields": fields})
            if isinstance(error, TruncatedOutputError):
                wanted_max_tokens = min(wanted_max_tokens * 2, cap)
            if delay is not None:
                record.retried = True
                yield Retrying(meta.attempts + 1, step.route, error.kind, detail, delay)
                if isinstance(error, OutputError) and not isinstance(error, ToolCallError):
                    messages = reask(conversation, task, result.text, error, result.tool_call_id)
                await self._sleep(delay)
        final = final_error(plan, last_error)
        meta.latency_ms = (self._clock() - started) * 1000
        if task.safe_response is not None:
            yield FallingBack(meta.model, SAFE_RESPONSE_ROUTE, final.kind)
            meta.model, meta.fallback = SAFE_RESPONSE_ROUTE, Fallback.SAFE_RESPONSE
            yield Completed(task.safe_response(data if task.restore_pii else redacted), meta)
            return
        yield Failed(error_code(final), public_message(final), meta)


def _record(route: str, request: ChatRequest, result: CallResult) -> CallRecord:
    """What metrics and the drift monitor need to know of one call."""
    error = result.error
    if result.output is not None:
        kind = "ok"
    elif result.tool_calls:
        kind = "tools"
    else:
        kind = error.kind if error is not None else "error"
    saved = max(0, (request.max_tokens or 0) - result.completion_tokens)
    return CallRecord(
        route,
        kind,
        result.prompt_tokens,
        result.completion_tokens,
        first_token_s=result.first_token_s,
        abandoned=result.abandoned,
        tokens_saved=saved if result.abandoned else 0,
        validation_failure=isinstance(error, OutputError) and not isinstance(error, RefusalError),
    )


def final_error(plan: AttemptPlan, last: BFFError | None) -> BFFError:
    """Why the plan ran out: the deadline, open circuits, or the last attempt's error."""
    if plan.expired:
        attempts = f"after {plan.number} attempt{'s' if plan.number != 1 else ''}"
        return DeadlineExceededError(f"the request deadline passed {attempts}")
    if last is None:
        return CircuitOpenError("every route's circuit is open: " + ", ".join(plan.skipped))
    return last
