"""Collect a provider's events into what a consumer would assemble from them."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, field

from bff.providers._types import (
    ChatRequest,
    Finish,
    Message,
    OutputSpec,
    RefusalDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
)
from bff.providers.base import Provider


@dataclass
class Assembled:
    text: str = ""
    refusal: str = ""
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish: list[str] = field(default_factory=list)
    usage: list[tuple[int, int]] = field(default_factory=list)
    events: int = 0


async def assemble(provider: Provider, request: ChatRequest) -> Assembled:
    out = Assembled()
    async with aclosing(provider.stream(request)) as events:
        async for event in events:
            out.events += 1
            match event:
                case TextDelta(text):
                    out.text += text
                case RefusalDelta(text):
                    out.refusal += text
                case ToolCallDelta(index, call_id, name, arguments):
                    call = out.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
                    call["id"] += call_id or ""
                    call["name"] += name or ""
                    call["arguments"] += arguments
                case Finish(reason):
                    out.finish.append(reason)
                case Usage(prompt, completion):
                    out.usage.append((prompt, completion))
    return out


def request(
    text: str = "Please call Bob today.",
    *,
    model: str = "gpt-4o-mini",
    output: OutputSpec | None = None,
    max_tokens: int | None = None,
) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(Message("system", "Extract actions as JSON."), Message("user", text)),
        output=output or OutputSpec(),
        max_tokens=max_tokens,
    )
