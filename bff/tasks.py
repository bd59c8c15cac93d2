"""Tasks: what the BFF can be asked to produce, and the registry an app serves.

A task names its input and output models, the prompt, the model route, the
output mode and limits, and an optional deterministic safe response for when
every model has failed. ``bff serve --tasks module:attr`` serves a user's own.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from bff.context.snippets import Snippet
from bff.exceptions import ConfigError
from bff.grounding import GROUNDING_RULES, neutralised, quoted_context
from bff.providers._types import OUTPUT_MODES, Message, OutputMode, OutputSpec
from bff.routes import parse_route
from bff.streaming.schema import Node, compile_model
from bff.tools import Tool

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)
_NAME = re.compile(r"^[a-z][A-Za-z0-9]*$")


def _default_prompt(data: BaseModel) -> str:
    fields = data.model_dump(mode="json")
    if len(fields) == 1:
        (value,) = fields.values()
        if isinstance(value, str):
            return value
    return json.dumps(fields, ensure_ascii=False)


def _always(output: Any) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class ContextUse(Generic[InputT, OutputT]):
    """How a task uses retrieved context (docs/context.md): the query its (redacted)
    input makes, the snippet ids its output cites, and whether an output must cite one.
    Every cited id is checked against the snippets supplied to that call."""

    query: Callable[[InputT], str]
    citations: Callable[[OutputT], Sequence[str]]
    needs_citations: Callable[[OutputT], bool] = _always


@dataclass(frozen=True, eq=False)
class Task(Generic[InputT, OutputT]):
    """One structured task; see the module docstring."""

    name: str
    description: str
    input_model: type[InputT]
    output_model: type[OutputT]
    system_prompt: str
    prompt: Callable[[InputT], str] = field(default=_default_prompt)
    route: str | None = None
    fallbacks: tuple[str, ...] | None = None
    output_mode: OutputMode = "json_schema"
    max_tokens: int = 1024
    temperature: float | None = 0.0
    safe_response: Callable[[InputT], OutputT] | None = None
    max_input_chars: int = 20_000
    """Longest input, all its strings together; longer is INPUT_REJECTED."""
    max_input_tokens: int = 8_000
    """Most estimated tokens in the rendered prompt (system prompt included)."""
    restore_pii: bool = False
    """Put redacted PII back into the validated output (off: the output keeps placeholders)."""
    result_field: str | None = None
    """The field of the GraphQL result type holding the object (default: the model's name)."""
    token_budget: int | None = None
    """Most tokens (prompt and completion) one request may use across all its calls
    (default: the ``request_token_budget`` setting)."""
    tools: tuple[Tool[Any], ...] = ()
    """Functions the model may call before it answers (json_schema and json_object modes)."""
    max_tool_depth: int = 3
    """Most rounds of tool calls in one run; asking for one more ends it."""
    context: ContextUse[InputT, OutputT] | None = None
    """Retrieve snippets for each call and check the output's citations of them."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"task name {self.name!r} must be lowerCamelCase letters and digits")
        if self.output_mode not in OUTPUT_MODES or self.output_mode == "text":
            raise ValueError(
                f"task {self.name}: output mode must be json_schema, json_object or tools"
            )
        if self.max_tokens < 1:
            raise ValueError(f"task {self.name}: max_tokens must be at least 1")
        if self.token_budget is not None and self.token_budget < 1:
            raise ValueError(f"task {self.name}: token_budget must be at least 1")
        if self.tools and self.output_mode == "tools":
            raise ValueError(
                f"task {self.name}: tools need output mode json_schema or json_object "
                "(in tools mode the answer itself is the one forced function call)"
            )
        names = [tool.name for tool in self.tools]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.name}: two tools share a name")
        if self.max_tool_depth < 0:
            raise ValueError(f"task {self.name}: max_tool_depth must be 0 or more")
        for route in (self.route, *(self.fallbacks or ())):
            if route is not None:
                parse_route(route)

    @cached_property
    def json_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema()

    @cached_property
    def schema_node(self) -> Node:
        """The compiled schema the stream is checked against."""
        return compile_model(self.output_model)

    @cached_property
    def output(self) -> OutputSpec:
        return OutputSpec(
            self.output_mode,
            self.output_model.__name__,
            self.json_schema,
            (self.output_model.__doc__ or "").strip() or None,
        )

    @cached_property
    def tool_map(self) -> dict[str, Tool[Any]]:
        return {tool.name: tool for tool in self.tools}

    def messages(self, data: InputT, snippets: Sequence[Snippet] = ()) -> tuple[Message, ...]:
        """The conversation for one input: the system prompt, then the rendered input
        (after the quoted snippets, for a task that uses context)."""
        system, prompt = self.system_prompt, self.prompt(data)
        if self.context is not None:
            system += f"\n\n{GROUNDING_RULES}"
            prompt = f"{quoted_context(snippets)}\n\nQuestion:\n{neutralised(prompt)}"
        if self.output_mode == "json_object":
            schema = json.dumps(self.json_schema, separators=(",", ":"))
            system += f"\n\nAnswer with one JSON object that matches this JSON schema:\n{schema}"
        return (Message("system", system), Message("user", prompt))


class TaskRegistry:
    """The tasks an app serves, by name."""

    def __init__(self, tasks: Iterable[Task[Any, Any]] = ()) -> None:
        self._tasks: dict[str, Task[Any, Any]] = {}
        for task in tasks:
            self.add(task)

    def add(self, task: Task[Any, Any]) -> None:
        if task.name in self._tasks:
            raise ValueError(f"two tasks are named {task.name!r}")
        self._tasks[task.name] = task

    def get(self, name: str) -> Task[Any, Any] | None:
        return self._tasks.get(name)

    def __iter__(self) -> Iterator[Task[Any, Any]]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks


def load_tasks(spec: str) -> TaskRegistry:
    """Import ``module:attr``: a TaskRegistry, a Task, an iterable of tasks, or a function
    returning one of those."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError("--tasks", f"{spec!r} is not of the form module:attribute")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError("--tasks", f"cannot import {module_name!r}: {exc}") from None
    try:
        value: Any = getattr(module, attr)
    except AttributeError:
        raise ConfigError("--tasks", f"{module_name!r} has no attribute {attr!r}") from None
    if callable(value) and not isinstance(value, Task | TaskRegistry):
        value = value()
    if isinstance(value, TaskRegistry):
        return value
    if isinstance(value, Task):
        return TaskRegistry([value])
    try:
        items = list(value)
    except TypeError:
        items = []
    if not items or not all(isinstance(item, Task) for item in items):
        raise ConfigError("--tasks", f"{spec} is not a Task, a TaskRegistry or a list of tasks")
    try:
        return TaskRegistry(items)
    except ValueError as exc:
        raise ConfigError("--tasks", str(exc)) from None
