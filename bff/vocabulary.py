"""Words several layers share: the names of the faults the demo model and the
simulator can inject, and how validation errors are written. A leaf module."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import ValidationError

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
"""Faults the offline demo model can inject."""
DEMO_FAULTS: tuple[DemoFault, ...] = get_args(DemoFault)

SimulatedFault = Literal[
    "malformed",  # invalid JSON (a trailing comma before the last brace)
    "schema_violation",  # valid JSON with a key the schema forbids, mid-document
    "drift",  # every string gains a chatty suffix that overflows its length limit
    "length",  # half the answer, then finish_reason "length"
    "refusal",  # a refusal instead of content
    "content_filter",  # part of the answer, then finish_reason "content_filter"
    "stall",  # stop sending for stall_s seconds after fault_after_chunks frames
    "cut",  # end the body cleanly mid-stream: no finish_reason, no [DONE]
    "drop",  # close the connection mid-stream, mid chunked body
]
"""Faults the simulator's script can inject (HTTP statuses are scripted apart)."""


def format_errors(error: ValidationError, prefix: str = "") -> list[str]:
    """One line per Pydantic error: ``path: message``."""
    lines = []
    for item in error.errors(include_url=False):
        path = join_path(prefix, item["loc"])
        lines.append(f"{path or '(root)'}: {item['msg']}")
    return lines


def join_path(prefix: str, parts: Any) -> str:
    """``prefix`` and the parts of a location: ``actions[0].summary``."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
