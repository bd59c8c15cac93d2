"""Input hygiene and walking JSON-like data: control characters out, a change
applied to every string (PII redaction itself is ``bff.pii``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """``text`` without control characters (tab, newline and carriage return stay).

    Text that is not valid Unicode never gets this far: Pydantic refuses it when
    it validates the request."""
    return _CONTROL.sub("", text)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (JSON-like data) with ``change`` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value


def strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` (JSON-like data)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
