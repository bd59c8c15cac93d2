"""Plain chat: tokens relayed as they arrive, with the same routes and retries as tasks.

A failure before the first token may be retried or fall back to the next
route; after the first token the stream ends with an error, never a silent
restart that would repeat text. Chat text never goes through the validator.
PII in the messages is redacted before they leave (placeholders are not
restored into the streamed reply).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bff.budget import ANONYMOUS, Reservation, Spend
from bff.config import Settings
from bff.exceptions import BFFError, BudgetExceededError, DeadlineExceededError, ProviderError
from bff.observe.logs import run_id as current_run
from bff.observe.tracing import Span, start_span
from bff.pipeline import ProviderResolver, error_code, final_error
from bff.providers._types import ChatRequest, Finish, Message, RefusalDelta, TextDelta, Usage
from bff.resilience.plan import AttemptPlan
from bff.resilience.timeouts import within
from bff.routes import parse_route
from bff.run import NO_OBSERVER, CallRecord, ErrorCode, Fallback, RunMeta, RunObserver
from bff.sanitize import Redactor
from bff.tokens import estimate_prompt_tokens, estimate_tokens

CHAT = "chat"
"""The task label of chat runs in metrics and logs."""
MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 32_000


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatBody(BaseModel):
    """The body of ``POST /chat/stream``."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)


@dataclass(frozen=True, slots=True)
class Token:
    text: str


@dataclass(frozen=True, slots=True)
class ChatDone:
    run_id: str
    model: str
    attempts: int
    fallback: Fallback
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    cost_usd: float
    redactions: dict[str, int]


@dataclass(frozen=True, slots=True)
class ChatFailed:
    code: ErrorCode
    message: str


ChatEvent = Token | ChatDone | ChatFailed


class ChatRunner:
    """Streams one chat; see the module docstring. ``plans`` makes the attempt plan of a
    request (the pipeline's, so chat and tasks share circuit breakers)."""

    def __init__(
        self,
        providers: ProviderResolver,
        settings: Settings,
        *,
        plans: Callable[[list[str]], AttemptPlan],
        spends: Callable[[str], Spend],
        observer: RunObserver = NO_OBSERVER,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._providers = providers
        self._settings = settings
        self._plans = plans
        self._spends = spends
        self._observer = observer
        self._clock = clock
        self._sleep = sleep

    async def stream(
        self, messages: tuple[Message, ...], *, client: str = ANONYMOUS
    ) -> AsyncGenerator[ChatEvent, None]:
        """The chat's events; the observer hears of the run when it ends (or is closed)."""
        meta = RunMeta(run_id=uuid.uuid4().hex, task=CHAT, model=self._settings.model)
        current_run.set(meta.run_id)
        span = start_span("bff.chat", run_id=meta.run_id)
        started = self._clock()
        result = "cancelled"
        try:
            async with aclosing(self._stream(messages, client, meta, span)) as events:
                async for event in events:
                    if isinstance(event, ChatDone):
                        result = "ok"
                    elif isinstance(event, ChatFailed):
                        result = event.code.value.lower()
                    yield event
        finally:
            meta.latency_ms = (self._clock() - started) * 1000
            span.set_attributes({"outcome": result, "route": meta.model})
            span.end()
            self._observer.run_finished(meta, result)

    async def _stream(
        self, messages: tuple[Message, ...], client: str, meta: RunMeta, span: Span
    ) -> AsyncGenerator[ChatEvent, None]:
        started = self._clock()
        redactor = Redactor()
        messages = tuple(replace(m, content=redactor.redact(m.content or "")) for m in messages)
        meta.redactions = dict(redactor.counts)
        plan = self._plans([str(route) for route in self._settings.routes])
        spend = self._spends(client)
        max_tokens = min(self._settings.chat_max_tokens, self._settings.max_tokens_cap)
        last_error: BFFError | None = None
        while (step := plan.next()) is not None:
            route = parse_route(step.route)
            request = ChatRequest(route.model, messages, max_tokens=max_tokens)
            prompt = estimate_prompt_tokens(request)
            try:
                reservation = spend.reserve(step.route, prompt, max_tokens)
            except BudgetExceededError as exc:
                plan.released(step)
                meta.budget_refused = exc.budget
                yield ChatFailed(ErrorCode.BUDGET_EXCEEDED, str(exc))
                return
            meta.model, meta.attempts = step.route, plan.number
            record = CallRecord(step.route, "ok")
            meta.calls.append(record)
            call_started = self._clock()
            sent = ""
            finish = "stop"
            usage: Usage | None = None
            call_span = start_span("bff.call", span, route=step.route, attempt=plan.number)
            try:
                events = within(
                    self._providers(route).stream(request),
                    first_token_s=self._settings.first_token_timeout_s,
                    deadline_s=plan.remaining(),
                )
                async with aclosing(events) as stream:
                    async for event in stream:
                        if isinstance(event, TextDelta | RefusalDelta):
                            if not sent:
                                record.first_token_s = self._clock() - call_started
                            sent += event.text
                            yield Token(event.text)
                        elif isinstance(event, Finish):
                            finish = event.reason
                        elif isinstance(event, Usage):
                            usage = event
            except (ProviderError, DeadlineExceededError) as exc:
                record.outcome = exc.kind
                _settle(record, reservation, prompt, estimate_tokens(sent), meta)
                delay = plan.failed(step, exc)
                if sent:
                    yield ChatFailed(
                        error_code(exc), f"the stream broke after {len(sent)} characters: {exc}"
                    )
                    return
                last_error = exc
                if delay is not None:
                    record.retried = True
                    await self._sleep(delay)
                continue
            except BaseException:
                plan.released(step)
                record.outcome = "cancelled"
                _settle(record, reservation, prompt, estimate_tokens(sent), meta)
                raise
            finally:
                call_span.set_attribute("outcome", record.outcome)
                call_span.end()
            plan.succeeded(step)
            _settle(
                record,
                reservation,
                usage.prompt_tokens if usage else prompt,
                usage.completion_tokens if usage else estimate_tokens(sent),
                meta,
            )
            meta.fallback = Fallback.MODEL if step.index else Fallback.NONE
            yield ChatDone(
                run_id=meta.run_id,
                model=step.route,
                attempts=plan.number,
                fallback=meta.fallback,
                finish_reason=finish,
                prompt_tokens=meta.prompt_tokens,
                completion_tokens=meta.completion_tokens,
                latency_ms=round((self._clock() - started) * 1000, 3),
                cost_usd=meta.cost_usd,
                redactions=dict(redactor.counts),
            )
            return
        error = final_error(plan, last_error)
        yield ChatFailed(error_code(error), str(error))


def _settle(
    record: CallRecord, reservation: Reservation, prompt: int, completion: int, meta: RunMeta
) -> None:
    """Settle a call's reservation and count its usage in the record and the run."""
    record.prompt_tokens, record.completion_tokens = prompt, completion
    record.cost_usd = reservation.settle(prompt, completion)
    meta.prompt_tokens += prompt
    meta.completion_tokens += completion
    meta.cost_usd += record.cost_usd
