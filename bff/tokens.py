"""Token estimates that need no tokenizer download."""

from __future__ import annotations

import json

from bff.providers._types import ChatRequest

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
"""Tokens a chat message costs beyond its text (role and separators), rounded up."""
REPLY_PRIMING = 3
"""Tokens every request costs for the start of the reply."""


def estimate_tokens(text: str) -> int:
    """About one token per four characters of English text, rounded up (OpenAI's rule of thumb)."""
    return tokens_for_chars(len(text))


def tokens_for_chars(chars: int) -> int:
    """``estimate_tokens`` of a text known only by its length (counted as it streamed)."""
    return -(-chars // CHARS_PER_TOKEN)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """The prompt tokens of a request: its messages, tool calls and the schemas it sends."""
    total = REPLY_PRIMING
    for message in request.messages:
        total += MESSAGE_OVERHEAD + estimate_tokens(message.content or "")
        total += sum(estimate_tokens(c.name + c.arguments) for c in message.tool_calls)
    schemas = [tool.schema for tool in request.tools]
    if request.output.schema is not None:
        schemas.append(request.output.schema)
    total += sum(estimate_tokens(json.dumps(s, separators=(",", ":"))) for s in schemas)
    return total
