"""Token estimates that need no tokenizer download."""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About one token per four characters of English text, rounded up (OpenAI's rule of thumb)."""
    return -(-len(text) // CHARS_PER_TOKEN)
