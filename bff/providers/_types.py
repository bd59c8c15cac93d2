"""Wire-neutral values that cross the provider interface.

A leaf module: no imports from the rest of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
OutputMode: TypeAlias = Literal["text", "json_schema", "json_object", "tools"]
OUTPUT_MODES: tuple[OutputMode, ...] = ("text", "json_schema", "json_object", "tools")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the assistant made, as sent back in later turns."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str | None
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """What shape the answer must take.

    ``text`` is free text (chat). The JSON modes carry the output model's JSON
    schema under ``name``; in ``tools`` mode the model is made to call one
    function of that name whose arguments are the object.
    """

    mode: OutputMode = "text"
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call besides answering: its name, purpose and
    arguments' JSON schema."""

    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One call to a model: the model's name within its provider, and what to send."""

    model: str
    messages: tuple[Message, ...]
    output: OutputSpec = field(default_factory=OutputSpec)
    max_tokens: int | None = None
    temperature: float | None = None
    tools: tuple[ToolSpec, ...] = ()

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.role == "user" and message.content:
                return message.content
        return ""

    @property
    def first_user_text(self) -> str:
        """The task's input; later user turns of a structured call are corrections."""
        for message in self.messages:
            if message.role == "user" and message.content:
                return message.content
        return ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call's arguments; ``id`` and ``name`` come with the first."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class RefusalDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Finish:
    """The model finished: ``stop``, ``length``, ``tool_calls`` or ``content_filter``."""

    reason: str


ProviderEvent: TypeAlias = TextDelta | ToolCallDelta | RefusalDelta | Usage | Finish
