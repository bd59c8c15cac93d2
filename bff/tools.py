"""Tools a task lets the model call: registered Python functions with Pydantic arguments.

The model's arguments are validated against the tool's argument model and only
the registered function runs: nothing the model writes is evaluated, executed,
handed to a shell or pasted into a query. The result goes back to the model as a
tool message. A call to an unknown tool, invalid arguments, a tool that raises or
overruns its time limit all become a ``ToolCallError`` whose message also goes
back to the model, so it can correct itself on the next attempt.

Synchronous functions run in a worker thread, so a slow one cannot stall the
server; each call has a time limit.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from bff.exceptions import ToolCallError
from bff.providers._types import Message, ToolCall, ToolSpec
from bff.vocabulary import format_errors

ArgsT = TypeVar("ArgsT", bound=BaseModel)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_RESULT_CHARS = 20_000


@dataclass(frozen=True, eq=False)
class Tool(Generic[ArgsT]):
    """A function the model may call; see the module docstring."""

    name: str
    description: str
    args_model: type[ArgsT]
    function: Callable[[ArgsT], Any]
    """Takes the validated arguments; returns a model, a JSON-able value or text
    (or an awaitable of one)."""
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, _ or -")

    @cached_property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.args_model.model_json_schema())

    async def call(self, arguments: str) -> str:
        """Run the tool on the model's arguments (JSON text); the result as text."""
        try:
            args = self.args_model.model_validate_json(arguments or "{}")
        except ValidationError as exc:
            problems = "; ".join(format_errors(exc))
            raise ToolCallError(f"invalid arguments for {self.name}: {problems}") from None
        import asyncio  # here, not at the top: ``import bff`` stays light

        try:
            if inspect.iscoroutinefunction(self.function):
                result = await asyncio.wait_for(self.function(args), self.timeout_s)
            else:
                result = await asyncio.wait_for(
                    asyncio.to_thread(self.function, args), self.timeout_s
                )
        except TimeoutError:
            raise ToolCallError(f"{self.name} took longer than {self.timeout_s} s") from None
        except Exception as exc:  # a tool's failure is reported to the model, not raised
            raise ToolCallError(f"{self.name} failed: {type(exc).__name__}: {exc}") from None
        return _as_text(result)[:MAX_RESULT_CHARS]


def _as_text(result: object) -> str:
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class ToolRound:
    """The messages one round of tool calls adds to the conversation, and what failed."""

    messages: tuple[Message, ...]
    error: ToolCallError | None


async def run_tools(
    tools: Mapping[str, Tool[Any]], calls: Sequence[ToolCall], redact: Callable[[str], str]
) -> ToolRound:
    """Run each call in order; every call gets a tool message, an error's too.

    ``redact`` is applied to what goes back, since it leaves for the provider.
    """
    replies: list[Message] = []
    problems: list[str] = []
    for call in calls:
        tool = tools.get(call.name)
        try:
            if tool is None:
                known = ", ".join(sorted(tools)) or "none"
                raise ToolCallError(f"there is no tool named {call.name!r} (tools: {known})")
            text = await tool.call(call.arguments)
        except ToolCallError as exc:
            problems.append(exc.message)
            text = f"Error: {exc.message}"
        replies.append(Message("tool", redact(text), tool_call_id=call.id))
    error = ToolCallError("; ".join(problems)) if problems else None
    return ToolRound((Message("assistant", None, tool_calls=tuple(calls)), *replies), error)
