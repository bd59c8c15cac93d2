"""The GraphQL types every schema has, whatever tasks it serves."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from bff import run
from bff.disclosure import attempt_message
from bff.observe.hub import RouteStatus
from bff.resilience.breaker import BreakerState

TaskErrorCode = strawberry.enum(
    run.ErrorCode, name="TaskErrorCode", description="Why a run gave no result."
)
FallbackKind = strawberry.enum(
    run.Fallback,
    name="FallbackKind",
    description="How far down the fallback chain the answer came from.",
)


@strawberry.type(description="A failed attempt within a run.")
class AttemptError:
    attempt: int
    model: str
    kind: str = strawberry.field(
        description="malformed, schema_violation, rate_limited, circuit_open (the route was "
        "skipped: its circuit, or the task's on it, is open), ..."
    )
    message: str


@strawberry.type(description="How many distinct values of one kind of PII were redacted.")
class RedactionCount:
    kind: str = strawberry.field(description="EMAIL, PHONE, CARD, IBAN, SSN, IP, SECRET or JWT.")
    count: int


@strawberry.type(description="A snippet of the corpus an answer cites.")
class CitedSnippet:
    id: str = strawberry.field(description="The snippet's id, as the answer cites it.")
    title: str = strawberry.field(description="The chain of headings above it in its file.")
    source: str = strawberry.field(description="Its file, relative to the corpus folder.")


@strawberry.type(description="How a run went.")
class RunMeta:
    run_id: strawberry.ID
    task: str
    model: str = strawberry.field(description="The route that answered, or safe-response.")
    attempts: int
    fallback: FallbackKind  # type: ignore[valid-type]
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    cost_usd: float = strawberry.field(
        description="What the run's calls cost, from the configured price table (USD)."
    )
    tool_calls: int = strawberry.field(description="Calls of the task's tools the run made.")
    errors: list[AttemptError]
    redactions: list[RedactionCount] = strawberry.field(
        description="PII redacted from the input before it left for a provider."
    )
    context_snippets: list[str] = strawberry.field(
        description="The ids of the corpus snippets supplied to the model, best first."
    )
    context_tokens: int = strawberry.field(
        description="The tokens those snippets cost in the prompt (an estimate)."
    )

    @classmethod
    def of(cls, meta: run.RunMeta, *, detailed: bool = True) -> RunMeta:
        return cls(
            run_id=strawberry.ID(meta.run_id),
            task=meta.task,
            model=meta.route,
            attempts=meta.attempts,
            fallback=meta.fallback,
            prompt_tokens=meta.prompt_tokens,
            completion_tokens=meta.completion_tokens,
            latency_ms=round(meta.latency_ms, 3),
            cost_usd=round(meta.cost_usd, 8),
            tool_calls=meta.tool_calls,
            context_snippets=[snippet.id for snippet in meta.context],
            context_tokens=sum(snippet.tokens for snippet in meta.context),
            redactions=[
                RedactionCount(kind=k, count=n) for k, n in sorted(meta.redactions.items())
            ],
            errors=[
                AttemptError(
                    attempt=e.attempt,
                    model=e.route,
                    kind=e.kind,
                    message=attempt_message(e.kind, e.message, detailed=detailed),
                )
                for e in meta.errors
            ],
        )


@strawberry.type(description="A run that ended without a result; the code says why.")
class TaskError:
    code: TaskErrorCode  # type: ignore[valid-type]
    message: str
    meta: RunMeta
    retry_after_s: float | None = strawberry.field(
        default=None, description="With RATE_LIMITED: seconds to wait before trying again."
    )


@strawberry.type(description="A run began.")
class RunStarted:
    run_id: strawberry.ID
    task: str
    model: str


@strawberry.type(
    description="Output is arriving: deltas received, array elements validated so far."
)
class RunProgress:
    attempt: int
    model: str
    tokens: int
    items_validated: int


@strawberry.type(description="An attempt failed; another follows.")
class RunRetrying:
    attempt: int
    model: str
    reason: str
    message: str


@strawberry.type(
    description="A model route gave up; the next one (or the safe response) takes over."
)
class RunFallingBack:
    from_model: str
    to_model: str
    reason: str


@strawberry.type(description="The model called tools; their results go back to it.")
class RunToolCalls:
    attempt: int
    model: str
    tools: list[str] = strawberry.field(description="The tools called, in order.")


def progress_event(event: run.RunEvent, *, detailed: bool = True) -> Any:
    """The GraphQL object for a progress event (not for the final outcome)."""
    if isinstance(event, run.Started):
        return RunStarted(run_id=strawberry.ID(event.run_id), task=event.task, model=event.route)
    if isinstance(event, run.Progress):
        return RunProgress(
            attempt=event.attempt,
            model=event.route,
            tokens=event.tokens,
            items_validated=event.items_validated,
        )
    if isinstance(event, run.Retrying):
        return RunRetrying(
            attempt=event.attempt,
            model=event.route,
            reason=event.reason,
            message=attempt_message(event.reason, event.message, detailed=detailed),
        )
    if isinstance(event, run.CallingTools):
        return RunToolCalls(attempt=event.attempt, model=event.route, tools=list(event.tools))
    if isinstance(event, run.FallingBack):
        return RunFallingBack(
            from_model=event.from_route, to_model=event.to_route, reason=event.reason
        )
    raise TypeError(f"not a progress event: {event!r}")


@strawberry.type(description="A task this BFF serves.")
class TaskInfo:
    name: str
    description: str
    output_mode: str
    input_schema: JSON
    output_schema: JSON


BreakerStateEnum = strawberry.enum(
    BreakerState, name="BreakerState", description="A route's circuit, or a task's on it."
)


@strawberry.type(description="The circuit breaker of one model route, or of a task on it.")
class BreakerStatus:
    route: str
    task: str | None = strawberry.field(
        description="The task whose own circuit this is; null for the route's."
    )
    state: BreakerStateEnum  # type: ignore[valid-type]
    failures: int = strawberry.field(description="Consecutive failures so far.")


@strawberry.type(description="Whether the BFF is up, and what it routes to.")
class Health:
    status: str
    version: str
    model: str
    fallback_models: list[str]
    breakers: list[BreakerStatus] = strawberry.field(
        description="Every route called so far, with its circuit breaker."
    )
    fault_switch: bool = strawberry.field(
        description="Whether the demo model's fault switch (/demo/faults) is served."
    )
    shared_state: str = strawberry.field(
        description="Where breakers, budgets, limits, drift windows and chat streams are "
        "kept: IN_PROCESS (no Redis configured), UP (on the fleet's Redis), or DOWN (Redis "
        "does not answer: budgets refuse, limits and breakers use this replica's own)."
    )


@strawberry.type(description="An error code, and the sentence a client reads for it.")
class ErrorCodeInfo:
    code: TaskErrorCode  # type: ignore[valid-type]
    message: str


@strawberry.type(description="Recent output quality of one task on one route.")
class TaskDrift:
    task: str
    recent_requests: int = strawberry.field(description="Calls in the drift window.")
    validation_failure_rate: float = strawberry.field(
        description="Share of those calls whose output failed validation."
    )
    baseline_failure_rate: float | None = strawberry.field(
        description="The expected or long-run rate; null until there is one."
    )
    drifting: bool = strawberry.field(description="A drift alert is raised.")
    breaker_state: BreakerStateEnum = strawberry.field(  # type: ignore[valid-type]
        description="The task's own circuit on this route: it opens after outputs that "
        "do not fit the task, and leaves chat and other tasks on the route alone."
    )
    breaker_failures: int = strawberry.field(
        description="Consecutive outputs of this task on this route that did not fit."
    )


@strawberry.type(description="A model route: its circuit breaker and recent output quality.")
class ModelRoute:
    route: str
    breaker_state: BreakerStateEnum  # type: ignore[valid-type]
    recent_requests: int = strawberry.field(description="Calls in the drift windows.")
    validation_failure_rate: float
    baseline_failure_rate: float | None
    drifting: bool = strawberry.field(description="A drift alert is raised for some task.")
    tasks: list[TaskDrift]

    @classmethod
    def of(cls, status: RouteStatus) -> ModelRoute:
        return cls(
            route=status.route,
            breaker_state=BreakerState(status.breaker),
            recent_requests=status.recent,
            validation_failure_rate=round(status.failure_rate, 6),
            baseline_failure_rate=status.baseline,
            drifting=status.drifting,
            tasks=[
                TaskDrift(
                    task=t.drift.task,
                    recent_requests=t.drift.recent,
                    validation_failure_rate=round(t.drift.failure_rate, 6),
                    baseline_failure_rate=t.drift.baseline,
                    drifting=t.drift.drifting,
                    breaker_state=BreakerState(t.breaker),
                    breaker_failures=t.breaker_failures,
                )
                for t in status.tasks
            ],
        )
