"""Plain chat: tokens relayed as they arrive, with the same routes and retries as tasks.

A failure before the first token may be retried or fall back to the next
route; after the first token the stream ends with an error, never a silent
restart that would repeat text. Chat text never goes through the validator.
Chat runs no tools: a reply of tool calls and no text is a failed attempt.
PII in the messages is redacted before they leave (placeholders are not
restored into the streamed reply).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bff.attempts import AttemptLoop, Call, CallEnd, Ended, Exhausted, Outcome, Refused, observed
from bff.budget import ANONYMOUS
from bff.config import Settings
from bff.disclosure import public_message
from bff.exceptions import (
    BFFError,
    BudgetExceededError,
    DeadlineExceededError,
    OutputError,
    ProviderError,
)
from bff.observe.tracing import Span
from bff.pii import Redactor
from bff.pipeline import Pipeline
from bff.providers._types import (
    ChatRequest,
    Finish,
    Message,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from bff.providers.base import Provider
from bff.resilience.plan import Step
from bff.resilience.timeouts import within
from bff.routes import parse_route
from bff.run import ErrorCode, Fallback, RunMeta, error_code
from bff.tokens import tokens_for_chars

CHAT = "chat"
"""The task label of chat runs in metrics and logs."""
MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 32_000
MIN_REPLY_TOKENS = 64
"""A client whose budget covers fewer reply tokens than this is refused outright."""
CHARS_PER_TOKEN_CEILING = 8
"""Text has fewer characters per token than this (about four in English), so the
characters over it are a floor for the tokens an upstream sent."""


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
    """Streams one chat over the pipeline's routes, breakers, budgets and attempt loop;
    see the module docstring."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def stream(
        self, messages: tuple[Message, ...], *, client: str = ANONYMOUS
    ) -> AsyncGenerator[ChatEvent, None]:
        """The chat's events; the observer hears of the run when it ends (or is closed)."""
        pipeline = self._pipeline
        meta = RunMeta(run_id=uuid.uuid4().hex, task=CHAT, route=pipeline.settings.model)
        with observed(meta, "bff.chat", pipeline.observer, pipeline.clock) as scope:
            async with aclosing(self._stream(messages, client, meta, scope.span)) as events:
                async for event in events:
                    if isinstance(event, ChatDone):
                        scope.result = "ok"
                    elif isinstance(event, ChatFailed):
                        scope.result = event.code.value.lower()
                    yield event

    async def _stream(
        self, messages: tuple[Message, ...], client: str, meta: RunMeta, span: Span
    ) -> AsyncGenerator[ChatEvent, None]:
        pipeline, settings = self._pipeline, self._pipeline.settings
        started = pipeline.clock()
        size = sum(len(m.content or "") for m in messages)
        messages, redactor = await pipeline.sanitizing(size, _redacted, messages, settings)
        meta.redactions = dict(redactor.counts)
        plan = pipeline.plan([str(route) for route in settings.routes])
        caller = _ChatCaller(pipeline, messages, plan.remaining)
        loop: AttemptLoop[ChatEvent] = AttemptLoop(
            plan, pipeline.spend(client), meta, span, pipeline.providers, redactor, pipeline.sleep
        )
        async with aclosing(loop.run(caller)) as events:
            async for event in events:
                yield event
        meta.latency_ms = (pipeline.clock() - started) * 1000
        assert loop.outcome is not None
        yield _last(loop.outcome, caller, meta)


def _last(end: Outcome, caller: _ChatCaller, meta: RunMeta) -> ChatEvent:
    """The chat's terminal event."""
    if isinstance(end, Ended) and end.error is None:
        meta.fallback = Fallback.MODEL if end.call.step.index else Fallback.NONE
        return ChatDone(
            run_id=meta.run_id,
            model=end.call.route,
            attempts=meta.attempts,
            fallback=meta.fallback,
            finish_reason=caller.relay.finish,
            prompt_tokens=meta.prompt_tokens,
            completion_tokens=meta.completion_tokens,
            latency_ms=round(meta.latency_ms, 3),
            cost_usd=meta.cost_usd,
            redactions=dict(meta.redactions),
        )
    assert isinstance(end, Refused | Ended | Exhausted) and end.error is not None
    message = public_message(end.error)
    if isinstance(end, Ended) and caller.relay.chars and not caller.relay.over:
        message = f"the stream broke after {caller.relay.chars} characters: {message}"
    return ChatFailed(error_code(end.error), message)


def _redacted(
    messages: tuple[Message, ...], settings: Settings
) -> tuple[tuple[Message, ...], Redactor]:
    """``messages`` with their PII redacted, and the redactor that can put it back."""
    redactor = Redactor(settings.pii_scanner)
    redactor.reserve(m.content or "" for m in messages)
    return tuple(replace(m, content=redactor.redact(m.content or "")) for m in messages), redactor


class _ChatCaller:
    """Chat's side of the attempt loop: the server's system prompt first, tokens relayed
    as they come, no restart once one is sent, and no more than the call's
    ``max_tokens`` forwarded."""

    def __init__(
        self, pipeline: Pipeline, messages: tuple[Message, ...], remaining: Callable[[], float]
    ) -> None:
        settings = pipeline.settings
        self._settings = settings
        self._clock = pipeline.clock
        self._messages = messages
        self._remaining = remaining
        self._wanted = min(settings.chat_max_tokens, settings.max_tokens_cap)
        self.floor_tokens = min(MIN_REPLY_TOKENS, self._wanted)
        self.relay = _Relay(self._wanted, budget_bound=False)

    def request(self, step: Step) -> ChatRequest:
        system = self._settings.chat_system_prompts.get(
            step.route, self._settings.chat_system_prompt
        )
        messages = (Message("system", system), *self._messages) if system else self._messages
        return ChatRequest(parse_route(step.route).model, messages, max_tokens=self._wanted)

    async def call(self, provider: Provider, call: Call) -> AsyncGenerator[ChatEvent, None]:
        limit = call.request.max_tokens or self._wanted
        relay = self.relay = _Relay(limit, budget_bound=limit < self._wanted)
        started = self._clock()
        try:
            events = within(
                provider.stream(call.request),
                first_token_s=self._settings.first_token_timeout_s,
                deadline_s=self._remaining(),
            )
            async with aclosing(events) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta | RefusalDelta):
                        if not relay.chars:
                            call.record.first_token_s = self._clock() - started
                        if not relay.forward(event.text):
                            break  # past the limit: closing the stream closes the upstream
                        yield Token(event.text)
                    elif isinstance(event, ToolCallDelta):
                        relay.tool_call(event)
                    elif isinstance(event, Finish):
                        relay.finish = event.reason
                    elif isinstance(event, Usage):
                        relay.usage = event
        except (ProviderError, DeadlineExceededError) as exc:
            call.record.outcome = exc.kind
            # Once text has gone out, another attempt would repeat it: the chat ends.
            end = CallEnd(call.prompt_estimate, relay.tokens, exc, final=bool(relay.chars))
            call.end = end
            return
        call.end = relay.end(call)

    def cancelled_tokens(self, call: Call) -> int:
        return self.relay.received

    def retrying(self, call: Call, error: BFFError, delay: float) -> None:
        return None

    def falling_back(self, from_route: str, step: Step, reason: str) -> None:
        return None


class _Relay:
    """What one call has forwarded, held to ``limit`` tokens. Tokens are counted as the
    larger of the text deltas (providers stream about one token each) and a floor from
    the characters, so an upstream that ignores ``max_tokens`` is cut near it, whatever
    its chunk sizes, and one that honours it never is."""

    def __init__(self, limit: int, *, budget_bound: bool) -> None:
        self.limit = limit
        self.budget_bound = budget_bound
        """The limit is the budget's, not the configured ``max_tokens``."""
        self.chars = 0
        """Characters forwarded (counted, not kept: the relay is the hot path)."""
        self.deltas = 0
        self.finish = "stop"
        self.usage: Usage | None = None
        self.over = False
        self.tool_calls = 0
        self.tool_chars = 0
        """Tool calls asked for, and their arguments' characters: billed, never forwarded."""

    @property
    def tokens(self) -> int:
        return max(self.deltas, -(-self.chars // CHARS_PER_TOKEN_CEILING))

    @property
    def received(self) -> int:
        """An estimate of the completion tokens received: the text's and the tool calls'."""
        return self.tokens + tokens_for_chars(self.tool_chars)

    def tool_call(self, delta: ToolCallDelta) -> None:
        """Count a tool-call fragment in."""
        self.tool_calls = max(self.tool_calls, delta.index + 1)
        self.tool_chars += len(delta.arguments)

    def forward(self, text: str) -> bool:
        """Count ``text`` in; False when it would go past the limit (it is not sent)."""
        deltas, chars = self.deltas + 1, self.chars + len(text)
        if max(deltas, -(-chars // CHARS_PER_TOKEN_CEILING)) > self.limit:
            self.over, self.finish = True, "length"
            return False
        self.deltas, self.chars = deltas, chars
        return True

    def end(self, call: Call) -> CallEnd:
        """How a call that streamed to its end (or to the limit) ended."""
        usage = self.usage
        prompt = usage.prompt_tokens if usage else call.prompt_estimate
        completion = usage.completion_tokens if usage else self.received
        if self.tool_calls and not self.chars:
            # Nothing was relayed, so another attempt may answer in text.
            calls = f"{self.tool_calls} tool call{'s' if self.tool_calls != 1 else ''}"
            error = OutputError(
                f"the model answered with {calls} and no text; chat does not run tools"
            )
            call.record.outcome = error.kind
            return CallEnd(prompt, completion, error, final=False)
        if self.over and self.budget_bound:
            message = f"the reply reached the {self.limit} tokens the remaining budget covers"
            return CallEnd(prompt, completion, BudgetExceededError(message, "reply"), healthy=True)
        return CallEnd(prompt, completion)
