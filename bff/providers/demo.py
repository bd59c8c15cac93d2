"""The offline demo provider: deterministic, no network, no key.

It streams the answers it is given (the demo model's, ``bff.demo.model``, when
the registry builds it) a few characters at a time, honours the output mode and
``max_tokens``, and can inject faults from a seeded profile so a demo shows
retries and fallbacks without a real outage.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bff.exceptions import RateLimitedError, ServerError, StreamInterruptedError
from bff.faults import (
    REFUSAL_TEXT,
    chunk_text,
    helpful_suffix,
    malformed,
    schema_violation,
    truncated,
)
from bff.providers._types import (
    ChatRequest,
    Finish,
    OutputSpec,
    ProviderEvent,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from bff.tokens import CHARS_PER_TOKEN, estimate_tokens
from bff.vocabulary import DEMO_FAULTS, DemoFault


class Answers(Protocol):
    """What a scripted model answers: its tool calls, then its text (or JSON)."""

    def tool_calls(
        self, text: str, tools: Sequence[ToolSpec], tool_results: Sequence[str]
    ) -> list[tuple[str, str]]: ...

    def output(self, text: str, output: OutputSpec, tool_results: Sequence[str]) -> str: ...


@dataclass
class FaultProfile:
    """Inject one of ``kinds`` into a call with probability ``rate``, from a seeded generator."""

    rate: float = 0.0
    kinds: tuple[DemoFault, ...] = DEMO_FAULTS
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self) -> DemoFault | None:
        if self.rate <= 0 or not self.kinds or self._random.random() >= self.rate:
            return None
        return self._random.choice(self.kinds)


class DemoProvider:
    """Streams the demo model's answer; see the module docstring."""

    def __init__(
        self, answers: Answers, *, chunk_delay: float = 0.0, faults: FaultProfile | None = None
    ) -> None:
        self.answers = answers
        self.chunk_delay = chunk_delay
        self.faults = faults or FaultProfile()
        self.by_model: dict[str, FaultProfile] = {}
        """Profiles for single models (a demo's fault switch), over ``faults``."""

    def profile(self, model: str) -> FaultProfile:
        return self.by_model.get(model, self.faults)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ProviderEvent, None]:
        fault = self.profile(request.model).draw()
        if fault == "rate_limit":
            raise RateLimitedError("demo model: rate limited (fault profile)", retry_after=0.2)
        if fault == "server_error":
            raise ServerError("demo model: server error (fault profile)", status=503)
        prompt_tokens = sum(estimate_tokens(m.content or "") for m in request.messages)
        asked = request.last_user_text if request.output.mode == "text" else request.first_user_text
        results = [m.content or "" for m in request.messages if m.role == "tool"]
        calls = self.answers.tool_calls(asked, request.tools, results)
        if calls and fault is None:
            async for event in self._tool_calls(calls):
                yield event
            yield Usage(prompt_tokens, estimate_tokens("".join(a for _, a in calls)))
            return
        done = "tool_calls" if request.output.mode == "tools" else "stop"
        text, finish = _faulted(self.answers.output(asked, request.output, results), fault, done)
        if request.max_tokens is not None and estimate_tokens(text) > request.max_tokens:
            text, finish = text[: request.max_tokens * CHARS_PER_TOKEN], "length"
        pieces = chunk_text(text)
        if fault == "drop":
            pieces = pieces[: len(pieces) // 2]
        async for event in self._answer(request, pieces, refusal=fault == "refusal"):
            yield event
        if fault == "drop":
            raise StreamInterruptedError("demo model: stream dropped (fault profile)")
        yield Finish(finish)
        yield Usage(prompt_tokens, estimate_tokens("".join(pieces)))

    async def _tool_calls(
        self, calls: list[tuple[str, str]]
    ) -> AsyncGenerator[ProviderEvent, None]:
        """The demo model calling tools: each call's arguments, a few characters at a time."""
        for index, (tool, arguments) in enumerate(calls):
            for number, piece in enumerate(chunk_text(arguments)):
                await self._pause()
                first = number == 0
                call_id = f"call_demo_{index}" if first else None
                yield ToolCallDelta(index, call_id, tool if first else None, piece)
        yield Finish("tool_calls")

    async def _answer(
        self, request: ChatRequest, pieces: list[str], *, refusal: bool
    ) -> AsyncGenerator[ProviderEvent, None]:
        """The answer's pieces: a refusal, text, or the output function's arguments."""
        for index, piece in enumerate(pieces):
            await self._pause()
            if refusal:
                yield RefusalDelta(piece)
            elif request.output.mode == "tools":
                first = index == 0
                name = request.output.name if first else None
                yield ToolCallDelta(0, "call_demo_0" if first else None, name, piece)
            else:
                yield TextDelta(piece)

    async def _pause(self) -> None:
        if self.chunk_delay:
            await asyncio.sleep(self.chunk_delay)

    async def aclose(self) -> None:
        return None


def _faulted(text: str, fault: DemoFault | None, done: str) -> tuple[str, str]:
    """The answer after ``fault``, and the finish reason it ends with (``done`` when the
    fault leaves it as it was)."""
    transform = {
        "malformed": malformed,
        "schema_violation": schema_violation,
        "drift": helpful_suffix,
        "length": truncated,
    }.get(fault or "")
    if fault == "refusal":
        return REFUSAL_TEXT, "stop"
    if transform is None:
        return text, done
    return transform(text), "length" if fault == "length" else done
