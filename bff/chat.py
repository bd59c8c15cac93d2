"""Plain chat: tokens relayed as they arrive, with the same routes and retries as tasks.

A failure before the first token may be retried or fall back to the next
route; after the first token the stream ends with an error, never a silent
restart that would repeat text. Chat text never goes through the validator.
PII in the messages is redacted before they leave (placeholders are not
restored into the streamed reply).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bff.budget import ANONYMOUS, Reservation, Spend
from bff.config import Settings
from bff.disclosure import public_message
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
from bff.tokens import estimate_prompt_tokens

CHAT = "chat"
"""The task label of chat runs in metrics and logs."""
MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 32_000
MIN_REPLY_TOKENS = 64
"""A client whose budget covers fewer reply tokens than this is refused outright."""
CHARS_PER_TOKEN_CEILING = 8
"""Text has fewer characters per token than this (about four in English), so the
characters over it are a floor for the tokens an upstream sent."""
logger = logging.getLogger("bff.chat")


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
        wanted = min(self._settings.chat_max_tokens, self._settings.max_tokens_cap)
        last_error: BFFError | None = None
        while (step := plan.next()) is not None:
            route = parse_route(step.route)
            request = ChatRequest(
                route.model, self._prompted(step.route, messages), max_tokens=wanted
            )
            prompt = estimate_prompt_tokens(request)
            # A client short of budget gets what is left, if that is a reply's worth.
            affordable = int(spend.affordable_max_tokens(step.route, prompt))
            limit = min(wanted, affordable) if affordable >= MIN_REPLY_TOKENS else wanted
            request = replace(request, max_tokens=limit)
            try:
                reservation = spend.reserve(step.route, prompt, limit)
            except BudgetExceededError as exc:
                plan.released(step)
                meta.budget_refused = exc.budget
                yield ChatFailed(ErrorCode.BUDGET_EXCEEDED, public_message(exc))
                return
            meta.model, meta.attempts = step.route, plan.number
            record = CallRecord(step.route, "ok")
            meta.calls.append(record)
            relay = _Relay(limit, budget_bound=limit < wanted)
            call_started = self._clock()
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
                            if not relay.sent:
                                record.first_token_s = self._clock() - call_started
                            if not relay.forward(event.text):
                                break  # past the limit: closing the stream closes the upstream
                            yield Token(event.text)
                        elif isinstance(event, Finish):
                            relay.finish = event.reason
                        elif isinstance(event, Usage):
                            relay.usage = event
            except (ProviderError, DeadlineExceededError) as exc:
                record.outcome = exc.kind
                _settle(record, reservation, prompt, relay.tokens, meta)
                delay = plan.failed(step, exc)
                _log_failure(step.route, exc, delay, redactor)
                if relay.sent:
                    message = f"the stream broke after {len(relay.sent)} characters: "
                    yield ChatFailed(error_code(exc), message + public_message(exc))
                    return
                last_error = exc
                if delay is not None:
                    record.retried = True
                    await self._sleep(delay)
                continue
            except BaseException:
                plan.released(step)
                record.outcome = "cancelled"
                _settle(record, reservation, prompt, relay.tokens, meta)
                raise
            finally:
                call_span.set_attribute("outcome", record.outcome)
                call_span.end()
            plan.succeeded(step)
            usage = relay.usage
            _settle(
                record,
                reservation,
                usage.prompt_tokens if usage else prompt,
                usage.completion_tokens if usage else relay.tokens,
                meta,
            )
            meta.fallback = Fallback.MODEL if step.index else Fallback.NONE
            if relay.over and relay.budget_bound:
                yield ChatFailed(
                    ErrorCode.BUDGET_EXCEEDED,
                    f"the reply reached the {limit} tokens the remaining budget covers",
                )
                return
            yield ChatDone(
                run_id=meta.run_id,
                model=step.route,
                attempts=plan.number,
                fallback=meta.fallback,
                finish_reason=relay.finish,
                prompt_tokens=meta.prompt_tokens,
                completion_tokens=meta.completion_tokens,
                latency_ms=round((self._clock() - started) * 1000, 3),
                cost_usd=meta.cost_usd,
                redactions=dict(redactor.counts),
            )
            return
        error = final_error(plan, last_error)
        yield ChatFailed(error_code(error), public_message(error))

    def _prompted(self, route: str, messages: tuple[Message, ...]) -> tuple[Message, ...]:
        """``messages`` after the server's own system prompt for ``route``, if any."""
        system = self._settings.chat_system_prompts.get(route, self._settings.chat_system_prompt)
        return (Message("system", system), *messages) if system else messages


class _Relay:
    """What one call has forwarded, held to ``limit`` tokens. Tokens are counted as the
    larger of the text deltas (providers stream about one token each) and a floor from
    the characters, so an upstream that ignores ``max_tokens`` is cut near it, whatever
    its chunk sizes, and one that honours it never is."""

    def __init__(self, limit: int, *, budget_bound: bool) -> None:
        self.limit = limit
        self.budget_bound = budget_bound
        """The limit is the budget's, not the configured ``max_tokens``."""
        self.sent = ""
        self.deltas = 0
        self.finish = "stop"
        self.usage: Usage | None = None
        self.over = False

    @property
    def tokens(self) -> int:
        return max(self.deltas, -(-len(self.sent) // CHARS_PER_TOKEN_CEILING))

    def forward(self, text: str) -> bool:
        """Count ``text`` in; False when it would go past the limit (it is not sent)."""
        deltas, chars = self.deltas + 1, len(self.sent) + len(text)
        if max(deltas, -(-chars // CHARS_PER_TOKEN_CEILING)) > self.limit:
            self.over, self.finish = True, "length"
            return False
        self.deltas, self.sent = deltas, self.sent + text
        return True


def _log_failure(route: str, error: BFFError, delay: float | None, redactor: Redactor) -> None:
    fields = {
        "event": "attempt_failed",
        "task": CHAT,
        "route": route,
        "kind": error.kind,
        "retry_in_s": None if delay is None else round(delay, 3),
        "detail": redactor.redact(str(error)),
    }
    logger.info("attempt failed", extra={"fields": fields})


def _settle(
    record: CallRecord, reservation: Reservation, prompt: int, completion: int, meta: RunMeta
) -> None:
    """Settle a call's reservation and count its usage in the record and the run."""
    record.prompt_tokens, record.completion_tokens = prompt, completion
    record.cost_usd = reservation.settle(prompt, completion)
    meta.prompt_tokens += prompt
    meta.completion_tokens += completion
    meta.cost_usd += record.cost_usd
