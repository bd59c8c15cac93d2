"""The GraphQL schema, built from the task registry.

Per task: a mutation and a subscription named after it, taking the input
model's fields as arguments. The mutation returns ``<Output>Result`` (the
validated object and its ``meta``) or ``TaskError``; the subscription sends
progress events, then that same payload, last. Errors a user can act on are
data, never top-level ``errors``.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import ExitStack, aclosing, suppress
from dataclasses import dataclass
from typing import Annotated, Any, Union, cast

import strawberry
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from strawberry.extensions import DisableIntrospection, MaskErrors, SchemaExtension
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType as StrawberryOperationType

from bff import __version__, run
from bff.api import types as gql
from bff.api.cost import OperationCost, OperationLimits
from bff.api.drain import Drain
from bff.api.generate import TypeFactory, input_to_python
from bff.budget import ANONYMOUS
from bff.clients import ClientLimits, Principal
from bff.config import Settings
from bff.disclosure import client_message
from bff.exceptions import ClientLimitError
from bff.observe.hub import Observability
from bff.pipeline import Pipeline
from bff.ratelimit import ClientGate
from bff.streaming.parser import format_errors
from bff.tasks import Task, TaskRegistry
from graphql import GraphQLError


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:]


class _TaskTypes:
    """The generated types of one task, and how to turn an outcome into its payload."""

    def __init__(
        self, task: Task[Any, Any], factory: TypeFactory, results: dict[type, type]
    ) -> None:
        self.task = task
        model = task.output_model
        result = results.get(model)
        if result is None:
            field = task.result_field or _lower(model.__name__)
            data_type = factory.output(model)
            cls = type(f"{model.__name__}Result", (), {"__module__": __name__})
            cls.__annotations__ = {field: data_type, "meta": gql.RunMeta}
            setattr(cls, field, strawberry.field(description=f"The validated {model.__name__}."))
            result = results[model] = strawberry.type(
                cls,
                name=f"{model.__name__}Result",
                description=f"A validated {model.__name__} and how the run went.",
            )
        self.result = result
        self.field = next(iter(result.__annotations__))
        self.payload = Annotated[
            Union[result, gql.TaskError],  # noqa: UP007 - strawberry needs a typing Union here
            strawberry.union(f"{_pascal(task.name)}Payload"),
        ]
        self.event = Annotated[
            Union[  # noqa: UP007
                gql.RunStarted,
                gql.RunProgress,
                gql.RunRetrying,
                gql.RunToolCalls,
                gql.RunFallingBack,
                result,
                gql.TaskError,
            ],
            strawberry.union(f"{_pascal(task.name)}Event"),
        ]
        self.arguments = factory.arguments(task.input_model)

    def outcome(self, outcome: run.RunOutcome, *, detailed: bool) -> Any:
        meta = gql.RunMeta.of(outcome.meta, detailed=detailed)
        if isinstance(outcome, run.Completed):
            return self.result(**{self.field: outcome.output, "meta": meta})
        message = client_message(outcome.code, outcome.message, detailed=detailed)
        return gql.TaskError(code=outcome.code, message=message, meta=meta)

    def limited(self, error: ClientLimitError) -> gql.TaskError:
        """The payload of a run a client's own limit refused before it started."""
        meta = run.RunMeta(run_id=uuid.uuid4().hex, task=self.task.name)
        return gql.TaskError(
            code=run.ErrorCode.RATE_LIMITED,
            message=str(error),
            meta=gql.RunMeta.of(meta),
            retry_after_s=error.retry_after,
        )

    def parse_input(self, kwargs: dict[str, Any]) -> BaseModel | gql.TaskError:
        try:
            data: BaseModel = self.task.input_model.model_validate(input_to_python(kwargs))
            return data
        except ValidationError as exc:
            meta = run.RunMeta(run_id=uuid.uuid4().hex, task=self.task.name)
            return gql.TaskError(
                code=run.ErrorCode.INPUT_REJECTED,
                message="; ".join(format_errors(exc)),
                meta=gql.RunMeta.of(meta),
            )


def _with_signature(func: Callable[..., Any], params: list[inspect.Parameter], returns: Any) -> Any:
    func.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    func.__annotations__ = {p.name: p.annotation for p in params} | {"return": returns}
    return func


_INFO = inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=strawberry.Info)


_IN_PROCESS = Principal(ANONYMOUS, ANONYMOUS, ClientLimits(None, 1_000_000, 1_000_000), False)
"""The caller of a schema run in-process, without the HTTP edge."""


def _principal(info: strawberry.Info) -> Principal:
    """The caller, as the edge authenticated it (HTTP request or WebSocket)."""
    principal: Principal | None = (info.context or {}).get("principal")
    return principal or _IN_PROCESS


@dataclass(frozen=True, slots=True)
class _Edge:
    gate: ClientGate
    drain: Drain | None
    detailed: bool


def _mutation(types: _TaskTypes, pipeline: Pipeline, edge: _Edge) -> Any:
    async def resolve(info: strawberry.Info, **kwargs: Any) -> Any:
        data = types.parse_input(kwargs)
        if isinstance(data, gql.TaskError):
            return data
        principal = _principal(info)
        try:
            with edge.gate.run(principal):
                outcome = await pipeline.execute(types.task, data, client=principal.client)
        except ClientLimitError as exc:
            return types.limited(exc)
        return types.outcome(outcome, detailed=edge.detailed)

    resolver = _with_signature(resolve, [*types.arguments, _INFO], types.payload)
    return strawberry.mutation(resolver=resolver, description=types.task.description)


def _subscription(
    types: _TaskTypes, pipeline: Pipeline, observability: Observability, edge: _Edge
) -> Any:
    async def subscribe(info: strawberry.Info, **kwargs: Any) -> AsyncGenerator[Any, None]:
        data = types.parse_input(kwargs)
        if isinstance(data, gql.TaskError):
            yield data
            return
        principal = _principal(info)
        try:
            with ExitStack() as held:
                held.enter_context(edge.gate.subscription(principal))
                held.enter_context(edge.gate.run(principal))
                held.enter_context(observability.stream("subscription"))
                if edge.drain is not None:
                    held.enter_context(edge.drain.hold())
                async for payload in _payloads(types, pipeline, data, principal, edge):
                    yield payload
        except ClientLimitError as exc:
            yield types.limited(exc)

    returns = AsyncGenerator[types.event, None]  # type: ignore[name-defined]
    resolver = _with_signature(subscribe, [*types.arguments, _INFO], returns)
    return strawberry.subscription(
        resolver=resolver,
        description=f"{types.task.description} Sends progress, then the result, last.",
    )


async def _payloads(
    types: _TaskTypes, pipeline: Pipeline, data: BaseModel, principal: Principal, edge: _Edge
) -> AsyncGenerator[Any, None]:
    """A run's events as GraphQL payloads. Closing it closes the run and with it the
    upstream request; a run the drain window cuts short ends with a CANCELLED payload."""
    run_events = pipeline.run(types.task, data, client=principal.client)
    async with aclosing(run_events) as events:
        while True:
            try:
                if edge.drain is None:
                    event = await anext(events)
                else:
                    async with edge.drain.limit():
                        event = await anext(events)
            except TimeoutError:
                meta = run.RunMeta(run_id=uuid.uuid4().hex, task=types.task.name)
                cancelled = run.Failed(run.ErrorCode.CANCELLED, "the server is shutting down", meta)
                yield types.outcome(cancelled, detailed=edge.detailed)
                return
            if isinstance(event, run.Completed | run.Failed):
                yield types.outcome(event, detailed=edge.detailed)
                return
            yield gql.progress_event(event, detailed=edge.detailed)


class _SubscriptionsNeedWebSockets(SchemaExtension):
    """A subscription sent as a plain HTTP request is refused before it is validated: it
    streams over graphql-transport-ws, and over HTTP it could only fail."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        request = (context.context or {}).get("request")
        if isinstance(request, Request) and context.pre_execution_errors is None:
            with suppress(RuntimeError):  # no such operation: validation will say so
                if context.operation_type is StrawberryOperationType.SUBSCRIPTION:
                    message = "subscriptions need a WebSocket (graphql-transport-ws)"
                    context.pre_execution_errors = [
                        GraphQLError(message, extensions={"code": "BAD_REQUEST"})
                    ]
        yield


class _Schema(strawberry.Schema):
    """Logs only the errors that are the server's: a client's bad document or
    variables is answered, not logged as an application error."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        ours = [error for error in errors if error.original_error is not None]
        if ours:
            super().process_errors(ours, execution_context)


def build_schema(
    tasks: TaskRegistry,
    pipeline: Pipeline,
    settings: Settings,
    observability: Observability | None = None,
    *,
    gate: ClientGate | None = None,
    drain: Drain | None = None,
) -> strawberry.Schema:
    """The schema of ``tasks``. In production it answers no introspection, suggests no
    field names and masks unexpected errors; every operation is held to the cost limits."""
    observability = observability or Observability(pipeline.breakers)
    edge = _Edge(gate or ClientGate(), drain, detailed=not settings.production)
    factory = TypeFactory()
    results: dict[type, type] = {}
    per_task = [_TaskTypes(task, factory, results) for task in tasks]

    infos = [
        gql.TaskInfo(
            name=t.name,
            description=t.description,
            output_mode=t.output_mode,
            input_schema=cast(JSON, t.input_model.model_json_schema()),
            output_schema=cast(JSON, t.json_schema),
        )
        for t in tasks
    ]

    def tasks_info() -> list[gql.TaskInfo]:
        return infos

    def health() -> gql.Health:
        return gql.Health(
            status="ok",
            version=__version__,
            model=settings.model,
            fallback_models=list(settings.fallback_models),
            breakers=[
                gql.BreakerStatus(route=route, state=breaker.state, failures=breaker.failures)
                for route, breaker in pipeline.breakers
            ],
        )

    configured = list(dict.fromkeys([str(r) for r in settings.routes] + [
        route for task in tasks for route in pipeline.routes(task)
    ]))  # fmt: skip

    def models() -> list[gql.ModelRoute]:
        return [gql.ModelRoute.of(status) for status in observability.routes(configured)]

    query = strawberry.type(
        type(
            "Query",
            (),
            {
                "tasks": strawberry.field(resolver=tasks_info, description="The tasks served."),
                "health": strawberry.field(
                    resolver=health, description="Whether the BFF is up, and what it routes to."
                ),
                "models": strawberry.field(
                    resolver=models,
                    description="Each model route: breaker state, validation-failure rate, drift.",
                ),
            },
        )
    )
    mutation = strawberry.type(
        type("Mutation", (), {t.task.name: _mutation(t, pipeline, edge) for t in per_task})
    )
    subscription = strawberry.type(
        type(
            "Subscription",
            (),
            {t.task.name: _subscription(t, pipeline, observability, edge) for t in per_task},
        )
    )
    limits = OperationLimits(
        max_tasks=settings.max_tasks_per_operation,
        max_aliases=settings.max_aliases,
        max_depth=settings.max_depth,
        max_tokens=settings.max_document_tokens,
    )
    task_names = [t.name for t in tasks]
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: OperationCost(limits, task_names),
        _SubscriptionsNeedWebSockets,
    ]
    if settings.production:
        # Only unexpected exceptions are masked; a client's own errors keep their words.
        extensions += [
            DisableIntrospection,
            lambda: MaskErrors(should_mask_error=lambda e: e.original_error is not None),
        ]
    return _Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.production),
    )
