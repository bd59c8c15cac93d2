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
from bff.tokens import estimate_prompt_tokens, estimate_tokens


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
        self.result: CallResult | None = None

    async def events(self) -> AsyncGenerator[Progress, None]:
        tools = self._task.output_mode == "tools"
        parser = JsonStreamParser(
            self._task.schema_node, allow_preamble=self._task.output_mode == "json_object"
        )
        refusal = ""
        finish: str | None = None
        usage: Usage | None = None
        call_id: str | None = None
        requested: dict[int, list[str]] = {}  # index -> [id, name, arguments]
        deltas = reported_items = 0
        last_report = -math.inf  # the first delta is reported at once
        output: BaseModel | None = None
        error: OutputError | ProviderError | DeadlineExceededError | None = None
        calls: tuple[ToolCall, ...] = ()
        started = self._clock()
        first_token_s: float | None = None
        try:
            with _ended(start_span("bff.parse", self._span)):
                events = within(
                    self._provider.stream(self._request),
                    first_token_s=self._first_token_s,
                    deadline_s=self._deadline_s,
                )
                async with aclosing(events) as stream:
                    async for event in stream:
                        if isinstance(event, TextDelta):
                            if not tools:
                                deltas += 1
                                parser.feed(event.text)
                        elif isinstance(event, ToolCallDelta):
                            if tools and event.index == 0:
                                deltas += 1
                                call_id = call_id or event.id
                                parser.feed(event.arguments)
                            elif not tools:
                                deltas += 1
                                _add_fragment(requested, event)
                        elif isinstance(event, RefusalDelta):
                            refusal += event.text
                        elif isinstance(event, Finish):
                            finish = event.reason
                        else:
                            usage = event
                        now = self._clock()
                        if first_token_s is None and (deltas or refusal):
                            first_token_s = now - started
                        if deltas and (
                            parser.items_validated != reported_items
                            or now - last_report >= self._progress_every
                        ):
                            reported_items, last_report = parser.items_validated, now
                            yield Progress(self._attempt, self._route, deltas, reported_items)
            if requested and not parser.text.strip() and not refusal:
                if finish == "length":
                    raise TruncatedOutputError("the model stopped at max_tokens mid tool call")
                calls = tuple(
                    ToolCall(id or f"call_{index}", name, arguments)
                    for index, (id, name, arguments) in sorted(requested.items())
                )
            else:
                with _ended(start_span("bff.validate", self._span)):
                    output = self._accept(parser, finish, refusal)
        except (OutputError, ProviderError, DeadlineExceededError) as exc:
            error = exc
        text = parser.text
        self.result = CallResult(
            output,
            error,
            text,
            call_id,
            usage.prompt_tokens if usage else estimate_prompt_tokens(self._request),
            usage.completion_tokens if usage else estimate_tokens(text or refusal),
            calls,
            first_token_s,
            isinstance(error, OutputError) and finish is None,
        )

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


def _add_fragment(requested: dict[int, list[str]], delta: ToolCallDelta) -> None:
    """Accumulate one fragment of a tool call the model is making."""
    call = requested.setdefault(delta.index, ["", "", ""])
    call[0] = call[0] or delta.id or ""
    call[1] = call[1] or delta.name or ""
    call[2] += delta.arguments


@contextmanager
def _ended(span: Span) -> Iterator[Span]:
    try:
        yield span
    finally:
        span.end()
