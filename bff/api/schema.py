"""The GraphQL schema, built from the task registry alone.

Per task: a mutation and a subscription named after it (``bff.api.task_fields``).
Queries: the tasks served, health, the model routes, and the error codes with
the sentence clients read for each. Resolvers find what they call in the GraphQL
context (``bff.api.runtime``). Errors a user can act on are data, never
top-level ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import cast

import strawberry
from starlette.requests import Request
from strawberry.extensions import DisableIntrospection, MaskErrors, SchemaExtension
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from bff.api import types as gql
from bff.api.cost import OperationCost, OperationLimits
from bff.api.generate import TypeFactory
from bff.api.runtime import services
from bff.api.task_fields import TaskFields
from bff.api.verdicts import Verdicts
from bff.disclosure import CODE_MESSAGES
from bff.tasks import TaskRegistry
from graphql import GraphQLError


class _SubscriptionsNeedWebSockets(SchemaExtension):
    """A subscription sent as a plain HTTP request is refused before it runs: it streams
    over graphql-transport-ws, and over HTTP it could only fail. (Its document's
    verdict, kept by text, may already be in: a valid one is an empty list.)"""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        request = (context.context or {}).get("request")
        if isinstance(request, Request) and not context.pre_execution_errors:
            with suppress(RuntimeError):  # no such operation: validation will say so
                if context.operation_type is OperationType.SUBSCRIPTION:
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


async def _health(info: strawberry.Info) -> gql.Health:
    found = services(info)
    health = found.health
    return gql.Health(
        status="ok",
        version=health.version,
        model=health.model,
        fallback_models=list(health.fallback_models),
        breakers=[
            gql.BreakerStatus(route=c.route, task=c.task, state=c.state, failures=c.failures)
            for c in await found.pipeline.board.snapshot()
        ],
        fault_switch=found.fault_switch,
        shared_state="IN_PROCESS" if found.link is None else await found.link.state(),
    )


async def _models(info: strawberry.Info) -> list[gql.ModelRoute]:
    found = services(info)
    routes = await found.observability.routes(list(found.routes))
    return [gql.ModelRoute.of(status) for status in routes]


def _error_codes() -> list[gql.ErrorCodeInfo]:
    return [gql.ErrorCodeInfo(code=code, message=text) for code, text in CODE_MESSAGES.items()]


def _query(tasks: TaskRegistry) -> type:
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

    fields = {
        "tasks": strawberry.field(resolver=tasks_info, description="The tasks served."),
        "health": strawberry.field(
            resolver=_health, description="Whether the BFF is up, and what it routes to."
        ),
        "models": strawberry.field(
            resolver=_models,
            description="Each model route: breaker state, validation-failure rate, drift.",
        ),
        "error_codes": strawberry.field(
            resolver=_error_codes,
            description="Every TaskErrorCode, with the sentence a client reads for it.",
        ),
    }
    return strawberry.type(type("Query", (), fields))


def build_schema(
    tasks: TaskRegistry, *, limits: OperationLimits | None = None, production: bool = False
) -> strawberry.Schema:
    """The schema of ``tasks``. Every operation is held to ``limits``; in production it
    answers no introspection, suggests no field names and masks unexpected errors."""
    factory = TypeFactory()
    results: dict[type, type] = {}
    fields = [TaskFields(task, factory, results) for task in tasks]
    mutation = strawberry.type(type("Mutation", (), {f.task.name: f.mutation() for f in fields}))
    subscription = strawberry.type(
        type("Subscription", (), {f.task.name: f.subscription() for f in fields})
    )
    costs = limits or OperationLimits()
    names = [task.name for task in tasks]
    verdicts = Verdicts()
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: OperationCost(costs, names, verdicts),
        _SubscriptionsNeedWebSockets,
    ]
    if production:
        # Only unexpected exceptions are masked; a client's own errors keep their words.
        extensions += [
            DisableIntrospection,
            lambda: MaskErrors(should_mask_error=lambda e: e.original_error is not None),
        ]
    return _Schema(
        query=_query(tasks),
        mutation=mutation,
        subscription=subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )
