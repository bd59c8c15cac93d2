"""What a run reports: its events, its metadata and its outcome codes.

Plain values (and the one mapping from an error to its code), over the leaf
``bff.exceptions``; the API layer turns them into GraphQL types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeAlias

from pydantic import BaseModel

from bff.exceptions import (
    BFFError,
    BudgetExceededError,
    ContentFilteredError,
    DeadlineExceededError,
    InputRejectedError,
    OutputError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusalError,
    ToolDepthExceededError,
)


class Fallback(StrEnum):
    """How far down the fallback chain the answer came from."""

    NONE = "NONE"
    MODEL = "MODEL"
    SAFE_RESPONSE = "SAFE_RESPONSE"


class ErrorCode(StrEnum):
    """Why a run ended without a result."""

    INPUT_REJECTED = "INPUT_REJECTED"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    RATE_LIMITED = "RATE_LIMITED"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    REFUSED = "REFUSED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"
    TOOL_DEPTH_EXCEEDED = "TOOL_DEPTH_EXCEEDED"


SAFE_RESPONSE_ROUTE = "safe-response"


def error_code(error: BFFError) -> ErrorCode:
    """The code a client sees for a run that ended on ``error``."""
    if isinstance(error, InputRejectedError):
        return ErrorCode.INPUT_REJECTED
    if isinstance(error, RefusalError | ContentFilteredError):
        return ErrorCode.REFUSED
    if isinstance(error, BudgetExceededError):
        return ErrorCode.BUDGET_EXCEEDED
    if isinstance(error, ToolDepthExceededError):
        return ErrorCode.TOOL_DEPTH_EXCEEDED
    if isinstance(error, OutputError):
        return ErrorCode.VALIDATION_FAILED
    if isinstance(error, RateLimitedError):
        return ErrorCode.RATE_LIMITED
    if isinstance(error, ProviderTimeoutError | DeadlineExceededError):
        return ErrorCode.TIMEOUT
    return ErrorCode.PROVIDER_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One failed attempt: where, why, and the details the next attempt was given."""

    attempt: int
    route: str
    kind: str
    message: str


@dataclass(slots=True)
class CallRecord:
    """One provider call of a run, for metrics and the drift monitor."""

    route: str
    outcome: str
    """``ok``, ``tools`` (the model asked for tools), or the error's kind."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    first_token_s: float | None = None
    abandoned: bool = False
    """The stream was closed early because the output could no longer be valid."""
    tokens_saved: int = 0
    """When abandoned: ``max_tokens`` minus the tokens received (an upper bound)."""
    retried: bool = False
    validation_failure: bool = False


@dataclass(frozen=True, slots=True)
class SuppliedSnippet:
    """A retrieved snippet a run's prompt quoted: what a citation of its id names."""

    id: str
    source: str
    title: str
    tokens: int


@dataclass(slots=True)
class RunMeta:
    run_id: str
    task: str
    route: str = ""
    """The route that answered (or last tried), or ``safe-response``."""
    attempts: int = 0
    fallback: Fallback = Fallback.NONE
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    tool_calls: int = 0
    errors: list[AttemptRecord] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    budget_refused: str | None = None
    """Which budget refused a call: request_tokens, client_tokens, client_cost or
    budget_store (the shared ledger did not answer)."""
    context: list[SuppliedSnippet] = field(default_factory=list)
    """The snippets supplied to the run's calls, best first (tasks that use context)."""


@dataclass(frozen=True, slots=True)
class Started:
    run_id: str
    task: str
    route: str


@dataclass(frozen=True, slots=True)
class Progress:
    attempt: int
    route: str
    tokens: int
    items_validated: int


@dataclass(frozen=True, slots=True)
class Retrying:
    attempt: int
    route: str
    reason: str
    message: str
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CallingTools:
    """The model asked for tools; they run and their results go back to it."""

    attempt: int
    route: str
    tools: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FallingBack:
    from_route: str
    to_route: str
    reason: str


@dataclass(frozen=True, slots=True)
class Completed:
    output: BaseModel
    meta: RunMeta


@dataclass(frozen=True, slots=True)
class Failed:
    code: ErrorCode
    message: str
    meta: RunMeta


RunEvent: TypeAlias = (
    Started | Progress | Retrying | CallingTools | FallingBack | Completed | Failed
)
RunOutcome: TypeAlias = Completed | Failed


def outcome(event: RunOutcome) -> str:
    """The result kind of a run for metrics and logs: ok, safe_response, or the error code."""
    if isinstance(event, Failed):
        return event.code.value.lower()
    return "safe_response" if event.meta.fallback is Fallback.SAFE_RESPONSE else "ok"


class RunObserver(Protocol):
    """Told of every finished run (cancelled ones too, with outcome ``cancelled``)."""

    def run_finished(self, meta: RunMeta, outcome: str) -> None: ...


class _NoObserver:
    def run_finished(self, meta: RunMeta, outcome: str) -> None:
        return None


NO_OBSERVER: RunObserver = _NoObserver()
