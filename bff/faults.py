"""The ways model output goes wrong, as text transformations, and how a model's text
is cut into stream chunks.

The demo provider's fault profile and the simulator's scripted faults both use
these, so a malformed or drifting answer looks the same from either.
"""

from __future__ import annotations

import json
from typing import Any

REFUSAL_TEXT = "I'm sorry, but I can't help with that request."
UNEXPECTED_KEY = "unexpected_field"


def malformed(text: str) -> str:
    """A trailing comma before the last closing brace: a classic model slip, never valid JSON."""
    stripped = text.rstrip()
    if stripped.endswith("}"):
        return stripped[:-1] + ",}"
    return stripped + ",}"


def schema_violation(text: str) -> str:
    """Add a key no strict schema allows to the object in the middle of the document."""
    try:
        document = json.loads(text)
    except ValueError:
        return text
    objects: list[dict[str, Any]] = []
    _collect_objects(document, objects)
    if not objects:
        return json.dumps({UNEXPECTED_KEY: document}, separators=(",", ":"))
    objects[len(objects) // 2][UNEXPECTED_KEY] = "this key is not in the schema"
    return json.dumps(document, separators=(",", ":"))


HELPFUL_SUFFIX = (
    " I hope this helps! As an AI language model I am always happy to assist with anything"
    " else you might need."
)


def helpful_suffix(text: str) -> str:
    """Model drift: every string of the answer gains a chatty suffix that overflows the
    length limits a schema sets (valid JSON, invalid output)."""
    try:
        document = json.loads(text)
    except ValueError:
        return text + HELPFUL_SUFFIX
    return json.dumps(_suffixed(document), separators=(",", ":"), ensure_ascii=False)


def _suffixed(value: Any) -> Any:
    if isinstance(value, str):
        return value + HELPFUL_SUFFIX
    if isinstance(value, dict):
        return {key: _suffixed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_suffixed(item) for item in value]
    return value


def truncated(text: str) -> str:
    """The first half: what a model emits before it runs out of ``max_tokens``."""
    return text[: max(1, len(text) // 2)]


def _collect_objects(value: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(value, dict):
        out.append(value)
        for item in value.values():
            _collect_objects(item, out)
    elif isinstance(value, list):
        for item in value:
            _collect_objects(item, out)


_CHUNK_SIZES = (3, 5, 2, 4, 6, 4, 3, 5)


def chunk_text(text: str) -> list[str]:
    """Cut text into token-sized pieces of two to six characters, deterministically."""
    pieces: list[str] = []
    start = 0
    turn = 0
    while start < len(text):
        size = _CHUNK_SIZES[turn % len(_CHUNK_SIZES)]
        pieces.append(text[start : start + size])
        start += size
        turn += 1
    return pieces
