"""Run one task: attempts on each model route in turn, then the safe response.

``Pipeline.run`` is an async iterator of run events — started, progress,
retrying, falling back — ending in exactly one ``Completed`` or ``Failed``.
Closing it early cancels the run and closes the upstream request. The attempts
themselves go through the loop chat uses too (``bff.attempts``); what is the
task's own is here: structured calls, tool rounds, reask, the safe response.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from pydantic import BaseModel

from bff.attempts import (
    AttemptLoop,
    Call,
    CallEnd,
    Ended,
    Exhausted,
    Outcome,
    ProviderResolver,
    observed,
)
from bff.budget import ANONYMOUS, DailyLedger, Ledger, Spend
from bff.config import Settings
from bff.context.retriever import Retriever
from bff.disclosure import public_message
from bff.exceptions import (
    BFFError,
    ContextError,
    InputRejectedError,
    OutputError,
    OutputValidationError,
    RefusalError,
    ToolCallError,
    ToolDepthExceededError,
    TruncatedOutputError,
)
from bff.grounding import citation_problems
from bff.observe.tracing import Span, start_span
from bff.providers._types import ChatRequest
from bff.providers.base import Provider
from bff.reask import reask
from bff.resilience.breaker import Board, Breakers, LocalBoard
from bff.resilience.plan import AttemptPlan, Step
from bff.routes import parse_route
from bff.run import (
    NO_OBSERVER,
    SAFE_RESPONSE_ROUTE,
    CallingTools,
    Completed,
    Failed,
    Fallback,
    FallingBack,
    Retrying,
    RunEvent,
    RunMeta,
    RunObserver,
    Started,
    SuppliedSnippet,
    error_code,
    outcome,
)
from bff.sanitize import strings
from bff.structured import CallResult, StructuredCall
from bff.task_io import Prepared, prepared_input, restored, with_context
from bff.tasks import Task
from bff.tools import run_tools

__all__ = ["OFF_LOOP_CHARS", "Pipeline", "ProviderResolver"]

T = TypeVar("T")
OFF_LOOP_CHARS = 8192
"""Input larger than this (in characters) is checked and redacted in a worker thread."""


class Pipeline:
    """Runs tasks against the configured routes; see the module docstring."""

    def __init__(
        self,
        providers: ProviderResolver,
        settings: Settings,
        *,
        board: Board | None = None,
        ledger: Ledger | None = None,
        observer: RunObserver = NO_OBSERVER,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        progress_every: float = 0.1,
        retriever: Retriever | None = None,
    ) -> None:
        self.providers = providers
        self.retriever = retriever
        """Where tasks that use context find their snippets; without one they get none."""
        self.settings = settings
        self.board = board or LocalBoard(
            Breakers(threshold=settings.breaker_threshold, cooldown_s=settings.breaker_cooldown_s)
        )
        self.ledger = ledger or DailyLedger(
            tokens=settings.client_daily_tokens, cost_usd=settings.client_daily_cost_usd
        )
        self.observer = observer
        self.clock = clock
        self.sleep = sleep
        self._rng = rng
        self.progress_every = progress_every

    async def sanitizing(self, size: int, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)``: input checks and PII redaction, run in a worker thread when
        the input is large (``size`` characters over OFF_LOOP_CHARS), so that a large
        or hostile input does not hold the event loop for every other request."""
        if size <= OFF_LOOP_CHARS:
            return work(*args)
        return await anyio.to_thread.run_sync(functools.partial(work, *args))

    def routes(self, task: Task[Any, Any]) -> list[str]:
        primary = task.route or self.settings.model
        fallbacks = task.fallbacks if task.fallbacks is not None else self.settings.fallback_models
        return [primary, *fallbacks]

    def plan(self, routes: list[str], task: str | None = None) -> AttemptPlan:
        """A fresh attempt plan over ``routes`` with this pipeline's settings and breakers
        (the task's own on each route too, when given)."""
        return AttemptPlan(
            routes,
            max_attempts=self.settings.max_attempts,
            board=self.board,
            task=task,
            policy=self.settings.retry_policy,
            timeout_s=self.settings.request_timeout_s,
            clock=self.clock,
            rng=self._rng,
        )

    def spend(self, client: str, token_budget: int | None = None) -> Spend:
        """A new request's budgets: its own tokens and ``client``'s daily allowance."""
        return Spend(
            token_budget=token_budget or self.settings.request_token_budget,
            ledger=self.ledger,
            client=client,
            prices=self.settings.prices,
        )

    async def execute(
        self, task: Task[Any, Any], data: BaseModel, *, client: str = ANONYMOUS
    ) -> Completed | Failed:
        """Run to the end and return the outcome, dropping the progress events."""
        async with aclosing(self.run(task, data, client=client)) as events:
            async for event in events:
                if isinstance(event, Completed | Failed):
                    return event
        raise AssertionError("a run always ends in Completed or Failed")

    async def run(
        self, task: Task[Any, Any], data: BaseModel, *, client: str = ANONYMOUS
    ) -> AsyncGenerator[RunEvent, None]:
        meta = RunMeta(run_id=uuid.uuid4().hex, task=task.name, route=self.routes(task)[0])
        with observed(meta, "bff.run", self.observer, self.clock, task=task.name) as scope:
            async with aclosing(self._run(task, data, client, meta, scope.span)) as events:
                async for event in events:
                    if isinstance(event, Completed | Failed):
                        scope.result = outcome(event)
                    yield event

    async def _run(
        self, task: Task[Any, Any], data: BaseModel, client: str, meta: RunMeta, span: Span
    ) -> AsyncGenerator[RunEvent, None]:
        started = self.clock()
        routes = self.routes(task)
        yield Started(meta.run_id, task.name, routes[0])
        stage = start_span("bff.sanitize", span)
        try:
            size = sum(len(text) for text in strings(data.model_dump(mode="json")))
            prepared = await self.sanitizing(
                size, prepared_input, task, data, self.settings.pii_scanner
            )
            prepared = await self._grounded(task, prepared, meta)
        except (InputRejectedError, ContextError) as exc:
            meta.latency_ms = (self.clock() - started) * 1000
            yield Failed(error_code(exc), public_message(exc), meta)
            return
        finally:
            stage.end()
        meta.redactions = dict(prepared.redactor.counts)
        plan = self.plan(routes, task.name)
        caller = _TaskCaller(task, prepared, meta, self, plan.remaining)
        loop: AttemptLoop[RunEvent] = AttemptLoop(
            plan,
            self.spend(client, task.token_budget),
            meta,
            span,
            self.providers,
            prepared.redactor,
            self.sleep,
        )
        async with aclosing(loop.run(caller)) as events:
            async for event in events:
                yield event
        meta.latency_ms = (self.clock() - started) * 1000
        assert loop.outcome is not None
        for event in _finish(task, prepared, caller, loop.outcome, meta):
            yield event

    async def _grounded(self, task: Task[Any, Any], prepared: Prepared, meta: RunMeta) -> Prepared:
        """``prepared`` quoting the snippets retrieved for it, for a task that uses context."""
        if task.context is None:
            return prepared
        snippets = []
        if self.retriever is not None:
            query = task.context.query(prepared.redacted)
            snippets = await self.retriever.retrieve(query, self.settings.context_budget)
        meta.context = [SuppliedSnippet(s.id, s.source, s.title, s.tokens) for s in snippets]
        return with_context(task, prepared, snippets)


def _finish(
    task: Task[Any, Any], prepared: Prepared, caller: _TaskCaller, end: Outcome, meta: RunMeta
) -> list[RunEvent]:
    """The run's last events: its result, its error, or the safe response."""
    if end.error is None:
        assert isinstance(end, Ended) and caller.output is not None
        meta.fallback = Fallback.MODEL if end.call.step.index else Fallback.NONE
        return [Completed(restored(task, caller.output, prepared.redactor), meta)]
    if isinstance(end, Exhausted) and task.safe_response is not None:
        falling = FallingBack(meta.route, SAFE_RESPONSE_ROUTE, end.error.kind)
        meta.route, meta.fallback = SAFE_RESPONSE_ROUTE, Fallback.SAFE_RESPONSE
        answer = task.safe_response(prepared.data if task.restore_pii else prepared.redacted)
        return [falling, Completed(answer, meta)]
    return [Failed(error_code(end.error), public_message(end.error), meta)]


class _TaskCaller:
    """A task's side of the attempt loop: structured calls, tool rounds, reask, and
    twice the ``max_tokens`` after an answer cut short."""

    def __init__(
        self,
        task: Task[Any, Any],
        prepared: Prepared,
        meta: RunMeta,
        pipeline: Pipeline,
        remaining: Callable[[], float],
    ) -> None:
        self._task = task
        self._redactor = prepared.redactor
        self._supplied = tuple(snippet.id for snippet in prepared.snippets)
        self._meta = meta
        self._pipeline = pipeline
        self._remaining = remaining
        self._cap = pipeline.settings.max_tokens_cap
        self.floor_tokens = self._wanted = min(task.max_tokens, self._cap)
        self._base = self._conversation = self._messages = prepared.messages
        self._tools = tuple(tool.spec for tool in task.tools)
        self._depth = 0
        self._last: CallResult | None = None
        self._structured: StructuredCall | None = None
        self.output: BaseModel | None = None

    def request(self, step: Step) -> ChatRequest:
        task = self._task
        model = parse_route(step.route).model
        return ChatRequest(
            model, self._messages, task.output, self._wanted, task.temperature, self._tools
        )

    async def call(self, provider: Provider, call: Call) -> AsyncGenerator[RunEvent, None]:
        structured = self._structured = StructuredCall(
            provider,
            call.request,
            self._task,
            attempt=call.step.number,
            route=call.route,
            first_token_s=self._pipeline.settings.first_token_timeout_s,
            deadline_s=self._remaining(),
            clock=self._pipeline.clock,
            progress_every=self._pipeline.progress_every,
            span=call.span,
        )
        async with aclosing(structured.events()) as progress:
            async for event in progress:
                yield event
        result = structured.result
        assert result is not None
        self._check_citations(result)
        _record(call, result)
        self._last = result
        if result.tool_calls:
            async for step_event in self._tool_round(call, result):
                yield step_event
            return
        if isinstance(result.error, TruncatedOutputError):
            self._wanted = min(self._wanted * 2, self._cap)
        self.output = result.output
        call.end = _end(result, error=result.error, final=result.output is not None)

    def _check_citations(self, result: CallResult) -> None:
        """Turn an output citing what this call did not supply into a validation failure."""
        use = self._task.context
        if use is None or result.output is None:
            return
        output = result.output
        problems = citation_problems(
            use.citations(output), self._supplied, use.needs_citations(output)
        )
        if problems:
            result.output, result.error = None, OutputValidationError(problems)

    async def _tool_round(self, call: Call, result: CallResult) -> AsyncGenerator[RunEvent, None]:
        """Run the tools the model asked for; their results go back to it next."""
        task = self._task
        if self._depth >= task.max_tool_depth:
            message = (
                f"the model asked for tool round {self._depth + 1}; "
                f"max_tool_depth is {task.max_tool_depth}"
            )
            call.end = _end(result, error=ToolDepthExceededError(message), final=True, healthy=True)
            return
        self._depth += 1
        self._meta.tool_calls += len(result.tool_calls)
        names = tuple(tool_call.name for tool_call in result.tool_calls)
        yield CallingTools(call.step.number, call.route, names)
        rounds = await run_tools(task.tool_map, result.tool_calls, self._redactor.redact)
        self._conversation = self._messages = (*self._conversation, *rounds.messages)
        if rounds.error is not None:
            call.record.outcome, call.record.validation_failure = rounds.error.kind, True
        call.end = _end(result, error=rounds.error, final=False)

    def cancelled_tokens(self, call: Call) -> int:
        structured = self._structured  # the call's: each call starts a new one
        return structured.completion_tokens if structured is not None else 0

    def retrying(self, call: Call, error: BFFError, delay: float) -> RunEvent:
        last = self._last
        if isinstance(error, OutputError) and not isinstance(error, ToolCallError) and last:
            self._messages = reask(
                self._conversation, self._task, last.text, error, last.tool_call_id
            )
        return Retrying(call.step.number + 1, call.route, error.kind, public_message(error), delay)

    def falling_back(self, from_route: str, step: Step, reason: str) -> RunEvent:
        self._conversation = self._messages = self._base
        return FallingBack(from_route, step.route, reason)


def _end(
    result: CallResult, *, error: BFFError | None, final: bool = False, healthy: bool = False
) -> CallEnd:
    return CallEnd(result.prompt_tokens, result.completion_tokens, error, final, healthy)


def _record(call: Call, result: CallResult) -> None:
    """What metrics and the drift monitor need to know of one call."""
    record, error = call.record, result.error
    if result.output is not None:
        record.outcome = "ok"
    elif result.tool_calls:
        record.outcome = "tools"
    else:
        record.outcome = error.kind if error is not None else "error"
    record.first_token_s = result.first_token_s
    record.abandoned = result.abandoned
    saved = max(0, (call.request.max_tokens or 0) - result.completion_tokens)
    record.tokens_saved = saved if result.abandoned else 0
    record.validation_failure = isinstance(error, OutputError) and not isinstance(
        error, RefusalError
    )
    call.span.set_attribute("abandoned", result.abandoned)
