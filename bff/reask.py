"""Carry a failed attempt's output and its errors back to the model, as Instructor does."""

from __future__ import annotations

from typing import Any

from bff.exceptions import OutputError, OutputValidationError, TruncatedOutputError
from bff.providers._types import Message, ToolCall
from bff.tasks import Task

MAX_PREVIOUS = 4000


def describe(error: OutputError) -> str:
    """The errors as a short list the model can act on."""
    lines = error.errors if isinstance(error, OutputValidationError) else [error.message]
    text = "\n".join(f"- {line}" for line in lines[:20])
    if isinstance(error, TruncatedOutputError):
        text += "\n- Keep the answer shorter so that it fits."
    return text


def reask(
    messages: tuple[Message, ...],
    task: Task[Any, Any],
    previous: str,
    error: OutputError,
    tool_call_id: str | None = None,
) -> tuple[Message, ...]:
    """``messages`` plus the failed output and what was wrong with it."""
    if len(previous) > MAX_PREVIOUS:
        previous = previous[:MAX_PREVIOUS] + "\u2026"
    problems = describe(error)
    if task.output_mode == "tools" and tool_call_id:
        name = task.output.name or task.name
        return (
            *messages,
            Message("assistant", None, tool_calls=(ToolCall(tool_call_id, name, previous),)),
            Message(
                "tool",
                f"Validation failed:\n{problems}\nCall {name} again with corrected arguments.",
                tool_call_id=tool_call_id,
            ),
        )
    return (
        *messages,
        Message("assistant", previous or "(no output)"),
        Message(
            "user",
            f"Your previous answer was not valid:\n{problems}\n"
            "Answer again with only the corrected JSON object.",
        ),
    )
