"""What the simulator should do next, and what it saw.

A test scripts a sequence of :class:`Step` per model (``"*"`` for any model);
each request takes the next step for its model, and a request with no step
left gets a normal, successful answer from the demo model.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bff.vocabulary import SimulatedFault

Outcome = Literal["completed", "hung_up", "cut", "dropped", "error"]


class ScriptedCall(BaseModel):
    """A tool call the answer makes instead of answering."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: str = "{}"


class Step(BaseModel):
    """One scripted response."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(default=200, ge=200, le=599)
    retry_after: float | None = Field(default=None, ge=0, description="Seconds; sets both headers.")
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    headers: dict[str, str] = {}
    body: str | None = Field(
        default=None, description="Send this body verbatim (a recorded error or SSE stream)."
    )
    content_type: str | None = None
    content: str | None = Field(
        default=None, description="The answer text (content, or tool-call arguments)."
    )
    tool_calls: list[ScriptedCall] | None = Field(
        default=None, description="Answer with these tool calls (finish_reason tool_calls)."
    )
    fault: SimulatedFault | None = None
    fault_after_chunks: int | None = Field(default=None, ge=0)
    stall_s: float = Field(default=30.0, ge=0)
    hold_after_chunks: int | None = Field(
        default=None,
        description=(
            "Stop after this many frames (counted from the end when negative) until the"
            " test opens ``gate``: a stream that cannot end unless its client ends it."
        ),
    )
    gate: str = Field(default="hold", description="The gate a held stream waits at.")
    first_token_delay_s: float = Field(default=0.0, ge=0)
    chunk_delay_s: float | None = Field(default=None, ge=0)
    ignore_max_tokens: bool = Field(
        default=False, description="Stream the whole answer whatever max_tokens says."
    )
    unstreamed: bool = Field(
        default=False,
        description=(
            "Answer a streaming request with the whole chat.completion as application/json,"
            " as some OpenAI-compatible servers do."
        ),
    )
    repeat: int = Field(default=1, ge=1)


@dataclass
class RequestRecord:
    """One request the simulator received, and how its response ended."""

    id: int
    model: str
    body: dict[str, Any]
    stream: bool
    status: int = 200
    chunks_sent: int = 0
    chunks_total: int = 0
    outcome: Outcome | None = None
    started_at: float = 0.0
    ended_at: float | None = None

    @property
    def hung_up(self) -> bool:
        """The client closed the connection before the response was complete."""
        return self.outcome == "hung_up"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "body": self.body,
            "stream": self.stream,
            "status": self.status,
            "chunks_sent": self.chunks_sent,
            "chunks_total": self.chunks_total,
            "outcome": self.outcome,
            "hung_up": self.hung_up,
        }


@dataclass
class Script:
    """Per-model queues of steps, safe to change from a test thread."""

    _queues: dict[str, deque[Step]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, steps: list[Step], model: str = "*") -> None:
        with self._lock:
            queue = self._queues.setdefault(model, deque())
            for step in steps:
                queue.extend([step.model_copy(update={"repeat": 1})] * step.repeat)

    def next(self, model: str) -> Step:
        with self._lock:
            for key in (model, "*"):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
        return Step()

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
