"""One structured call: a provider stream fed into the task's parser, checked as it arrives.

The stream is closed the moment the parser says the output can no longer be
valid, so no token after a violation is read. A result is accepted only when
the top-level value has closed, passed validation, and the finish reason says
the model finished.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bff.exceptions import (
    DeadlineExceededError,
    MalformedOutputError,
    OutputError,
    ProviderError,
    RefusalError,
    TruncatedOutputError,
)
from bff.observe.tracing import Span, start_span
from bff.providers._types import (
    ChatRequest,
    Finish,
    ProviderEvent,
    RefusalDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from bff.providers.base import Provider
from bff.resilience.timeouts import within
from bff.run import Progress
from bff.streaming.parser import JsonStreamParser
from bff.tasks import Task
from bff.tokens import estimate_prompt_tokens, tokens_for_chars


@dataclass(slots=True)
class CallResult:
    """How one call ended: an output, or the error, and what the model produced."""

    output: BaseModel | None
    error: OutputError | ProviderError | DeadlineExceededError | None
    text: str
    tool_call_id: str | None
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[ToolCall, ...] = ()
    """Calls of the task's tools the model asked for instead of answering."""
    first_token_s: float | None = None
    abandoned: bool = False
    """The stream was closed before its end because the output could not be valid."""


class StructuredCall:
    """Iterate ``events()`` for progress; ``result`` is set when it ends."""

    def __init__(
        self,
        provider: Provider,
        request: ChatRequest,
        task: Task[Any, Any],
        *,
        attempt: int,
        route: str,
        first_token_s: float = math.inf,
        deadline_s: float = math.inf,
        clock: Callable[[], float] = time.monotonic,
        progress_every: float = 0.1,
        span: Span | None = None,
    ) -> None:
        self._provider = provider
        self._request = request
        self._task = task
        self._attempt = attempt
        self._route = route
        self._first_token_s = first_token_s
        self._deadline_s = deadline_s
        self._clock = clock
        self._progress_every = progress_every
        self._span = span
        self._reading: _Reading | None = None
        self.result: CallResult | None = None

    @property
    def completion_tokens(self) -> int:
        """The completion tokens received so far, for a call cancelled midway: the
        provider's count once it has sent one, else an estimate from what has streamed."""
        if self.result is not None:
            return self.result.completion_tokens
        return self._reading.completion_tokens if self._reading is not None else 0

    async def events(self) -> AsyncGenerator[Progress, None]:
        reading = self._reading = _Reading(self._task, self._clock())
        error: OutputError | ProviderError | DeadlineExceededError | None = None
        output: BaseModel | None = None
        calls: tuple[ToolCall, ...] = ()
        try:
            with _ended(start_span("bff.parse", self._span)):
                events = within(
                    self._provider.stream(self._request),
                    first_token_s=self._first_token_s,
                    deadline_s=self._deadline_s,
                )
                async with aclosing(events) as stream:
                    async for event in stream:
                        now = self._clock()
                        reading.take(event, now)
                        if reading.report_due(now, self._progress_every):
                            yield Progress(
                                self._attempt, self._route, reading.deltas, reading.reported_items
                            )
            calls = reading.tool_calls()
            if not calls:
                with _ended(start_span("bff.validate", self._span)):
                    output = self._accept(reading.parser, reading.finish, reading.refusal)
        except (OutputError, ProviderError, DeadlineExceededError) as exc:
            error = exc
        self.result = reading.result(self._request, output, error, calls)

    def _accept(self, parser: JsonStreamParser, finish: str | None, refusal: str) -> BaseModel:
        if refusal:
            raise RefusalError(refusal)
        if finish == "length":
            limit = self._request.max_tokens
            raise TruncatedOutputError(
                f"the model stopped at max_tokens ({limit}) before it finished the JSON"
            )
        accepted = ("stop", "tool_calls") if self._task.output_mode == "tools" else ("stop",)
        if finish not in accepted:
            raise MalformedOutputError(f"the model finished with {finish!r}, not {accepted[0]!r}")
        return parser.close()


class _Reading:
    """What a structured call has read so far: the answer fed to the parser, tool calls
    asked for, a refusal, the finish reason, the usage."""

    def __init__(self, task: Task[Any, Any], started: float) -> None:
        self.tools = task.output_mode == "tools"
        self.parser = JsonStreamParser(
            task.schema_node, allow_preamble=task.output_mode == "json_object"
        )
        self.started = started
        self.refusal = ""
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.call_id: str | None = None
        self.requested: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        self.deltas = self.reported_items = 0
        self.chars = 0
        """Characters of text, refusal and tool-call arguments received (counted, not
        kept: this is the hot path)."""
        self.last_report = -math.inf  # the first delta is reported at once
        self.first_token_s: float | None = None

    def take(self, event: ProviderEvent, now: float) -> None:
        """Feed one provider event; the parser raises at the first impossible token."""
        if isinstance(event, TextDelta):
            self.chars += len(event.text)
            if not self.tools:
                self.deltas += 1
                self.parser.feed(event.text)
        elif isinstance(event, ToolCallDelta):
            self._tool_delta(event)
        elif isinstance(event, RefusalDelta):
            self.chars += len(event.text)
            self.refusal += event.text
        elif isinstance(event, Finish):
            self.finish = event.reason
        else:
            self.usage = event
        if self.first_token_s is None and (self.deltas or self.refusal):
            self.first_token_s = now - self.started

    def _tool_delta(self, delta: ToolCallDelta) -> None:
        self.chars += len(delta.arguments)
        if self.tools:  # the answer is the output function's arguments (call 0)
            if delta.index == 0:
                self.deltas += 1
                self.call_id = self.call_id or delta.id
                self.parser.feed(delta.arguments)
            return
        self.deltas += 1  # a call of one of the task's tools
        call = self.requested.setdefault(delta.index, ["", "", ""])
        call[0] = call[0] or delta.id or ""
        call[1] = call[1] or delta.name or ""
        call[2] += delta.arguments

    @property
    def completion_tokens(self) -> int:
        """The provider's count when it has sent one, else an estimate from the characters."""
        return self.usage.completion_tokens if self.usage else tokens_for_chars(self.chars)

    def report_due(self, now: float, every: float) -> bool:
        """Whether progress is worth a report: new items validated, or time has passed."""
        if not self.deltas or (
            self.parser.items_validated == self.reported_items and now - self.last_report < every
        ):
            return False
        self.reported_items, self.last_report = self.parser.items_validated, now
        return True

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The task's tools the model called instead of answering (none if it answered)."""
        if not self.requested or self.parser.text.strip() or self.refusal:
            return ()
        if self.finish == "length":
            raise TruncatedOutputError("the model stopped at max_tokens mid tool call")
        return tuple(
            ToolCall(id or f"call_{index}", name, arguments)
            for index, (id, name, arguments) in sorted(self.requested.items())
        )

    def result(
        self,
        request: ChatRequest,
        output: BaseModel | None,
        error: OutputError | ProviderError | DeadlineExceededError | None,
        calls: tuple[ToolCall, ...],
    ) -> CallResult:
        text, usage = self.parser.text, self.usage
        return CallResult(
            output,
            error,
            text,
            self.call_id,
            usage.prompt_tokens if usage else estimate_prompt_tokens(request),
            self.completion_tokens,
            calls,
            self.first_token_s,
            isinstance(error, OutputError) and self.finish is None,
        )


@contextmanager
def _ended(span: Span) -> Iterator[Span]:
    try:
        yield span
    finally:
        span.end()
