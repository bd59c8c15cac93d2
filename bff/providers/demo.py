"""The offline demo provider: deterministic, no network, no key.

It streams the demo model's answer (``bff.demo.model``) a few characters at a
time, honours the output mode and ``max_tokens``, and can inject faults from a
seeded profile so a demo shows retries and fallbacks without a real outage.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Literal, get_args

from bff.demo.faults import (
    REFUSAL_TEXT,
    helpful_suffix,
    malformed,
    schema_violation,
    truncated,
)
from bff.demo.model import chunk_text, demo_output, demo_tool_calls
from bff.exceptions import RateLimitedError, ServerError, StreamInterruptedError
from bff.providers._types import (
    ChatRequest,
    Finish,
    ProviderEvent,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from bff.tokens import CHARS_PER_TOKEN, estimate_tokens

DemoFault = Literal[
    "rate_limit",
    "server_error",
    "malformed",
    "schema_violation",
    "drift",
    "length",
    "refusal",
    "drop",
]
DEMO_FAULTS: tuple[DemoFault, ...] = get_args(DemoFault)


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

    def __init__(self, *, chunk_delay: float = 0.0, faults: FaultProfile | None = None) -> None:
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
        tools = request.output.mode == "tools"
        finish = "tool_calls" if tools else "stop"
        asked = request.last_user_text if request.output.mode == "text" else request.first_user_text
        results = [m.content or "" for m in request.messages if m.role == "tool"]
        calls = demo_tool_calls(asked, request.tools, results)
        if calls and fault is None:
            for index, (tool, arguments) in enumerate(calls):
                for number, piece in enumerate(chunk_text(arguments)):
                    if self.chunk_delay:
                        await asyncio.sleep(self.chunk_delay)
                    first = number == 0
                    call_id = f"call_demo_{index}" if first else None
                    yield ToolCallDelta(index, call_id, tool if first else None, piece)
            yield Finish("tool_calls")
            yield Usage(prompt_tokens, estimate_tokens("".join(a for _, a in calls)))
            return
        text = demo_output(asked, request.output, results)
        if fault == "malformed":
            text = malformed(text)
        elif fault == "schema_violation":
            text = schema_violation(text)
        elif fault == "drift":
            text = helpful_suffix(text)
        elif fault == "length":
            text, finish = truncated(text), "length"
        if request.max_tokens is not None and estimate_tokens(text) > request.max_tokens:
            text, finish = text[: request.max_tokens * CHARS_PER_TOKEN], "length"
        pieces = chunk_text(REFUSAL_TEXT if fault == "refusal" else text)
        if fault == "drop":
            pieces = pieces[: len(pieces) // 2]
        for index, piece in enumerate(pieces):
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            if fault == "refusal":
                yield RefusalDelta(piece)
            elif tools:
                first = index == 0
                name = request.output.name if first else None
                yield ToolCallDelta(0, "call_demo_0" if first else None, name, piece)
            else:
                yield TextDelta(piece)
        if fault == "drop":
            raise StreamInterruptedError("demo model: stream dropped (fault profile)")
        yield Finish("stop" if fault == "refusal" else finish)
        yield Usage(prompt_tokens, estimate_tokens("".join(pieces)))

    async def aclose(self) -> None:
        return None
