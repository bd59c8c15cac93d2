"""One task's GraphQL: its generated types, its mutation and its subscription.

The mutation returns ``<Output>Result`` (the validated object and its ``meta``)
or ``TaskError``; the subscription sends progress events, then that same payload,
last. Resolvers find the pipeline and the client's limits in the GraphQL context
(``bff.api.runtime``), so the schema depends on the tasks alone.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack, aclosing
from typing import Annotated, Any, Union

import strawberry
from pydantic import BaseModel, ValidationError

from bff import run
from bff.api import types as gql
from bff.api.generate import TypeFactory, input_to_python
from bff.api.runtime import Services, principal, services
from bff.disclosure import client_message
from bff.exceptions import ClientLimitError
from bff.tasks import ContextUse, Task
from bff.vocabulary import format_errors

_INFO = inspect.Parameter("info", inspect.Parameter.KEYWORD_ONLY, annotation=strawberry.Info)


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def _with_signature(func: Callable[..., Any], params: list[inspect.Parameter], returns: Any) -> Any:
    func.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    func.__annotations__ = {p.name: p.annotation for p in params} | {"return": returns}
    return func


def _error(task: Task[Any, Any], code: run.ErrorCode, message: str, **extra: Any) -> gql.TaskError:
    """A TaskError for a run refused before it started."""
    meta = gql.RunMeta.of(run.RunMeta(run_id=uuid.uuid4().hex, task=task.name))
    return gql.TaskError(code=code, message=message, meta=meta, **extra)


class TaskFields:
    """The generated types of one task, its two root fields, and how an outcome becomes
    its payload. ``results`` is shared by the tasks of a schema: tasks with the same
    output model share its result type."""

    def __init__(
        self, task: Task[Any, Any], factory: TypeFactory, results: dict[type, type]
    ) -> None:
        self.task = task
        self.result = results.get(task.output_model) or self._result_type(factory)
        results[task.output_model] = self.result
        self.field = next(iter(self.result.__annotations__))
        name = _pascal(task.name)
        self.payload = Annotated[
            Union[self.result, gql.TaskError],  # noqa: UP007 - strawberry needs a typing Union
            strawberry.union(f"{name}Payload"),
        ]
        progress = (gql.RunStarted, gql.RunProgress, gql.RunRetrying, gql.RunToolCalls)
        self.event = Annotated[
            Union[(*progress, gql.RunFallingBack, self.result, gql.TaskError)],
            strawberry.union(f"{name}Event"),
        ]
        self.arguments = factory.arguments(task.input_model)

    def _result_type(self, factory: TypeFactory) -> type:
        model = self.task.output_model
        field = self.task.result_field or _lower(model.__name__)
        cls = type(f"{model.__name__}Result", (), {"__module__": __name__})
        cls.__annotations__ = {field: factory.output(model), "meta": gql.RunMeta}
        setattr(cls, field, strawberry.field(description=f"The validated {model.__name__}."))
        if self.task.context is not None:
            cls.__annotations__["cited_snippets"] = list[gql.CitedSnippet]
            cls.cited_snippets = strawberry.field(  # type: ignore[attr-defined]
                description="The snippets the answer cites, in its order, to show as sources."
            )
        return strawberry.type(
            cls,
            name=f"{model.__name__}Result",
            description=f"A validated {model.__name__} and how the run went.",
        )

    def outcome(self, outcome: run.RunOutcome, *, detailed: bool) -> Any:
        meta = gql.RunMeta.of(outcome.meta, detailed=detailed)
        if isinstance(outcome, run.Completed):
            fields = {self.field: outcome.output, "meta": meta}
            if self.task.context is not None:
                fields["cited_snippets"] = _cited(self.task.context, outcome)
            return self.result(**fields)
        message = client_message(outcome.code, outcome.message, detailed=detailed)
        return gql.TaskError(code=outcome.code, message=message, meta=meta)

    def parse_input(self, kwargs: dict[str, Any]) -> BaseModel | gql.TaskError:
        try:
            data: BaseModel = self.task.input_model.model_validate(input_to_python(kwargs))
        except ValidationError as exc:
            return _error(self.task, run.ErrorCode.INPUT_REJECTED, "; ".join(format_errors(exc)))
        return data

    def mutation(self) -> Any:
        async def resolve(info: strawberry.Info, **kwargs: Any) -> Any:
            data = self.parse_input(kwargs)
            if isinstance(data, gql.TaskError):
                return data
            found, caller = services(info), principal(info)
            try:
                async with found.gate.run(caller):
                    outcome = await found.pipeline.execute(self.task, data, client=caller.client)
            except ClientLimitError as exc:
                return _limited(self.task, exc)
            return self.outcome(outcome, detailed=found.detailed)

        resolver = _with_signature(resolve, [*self.arguments, _INFO], self.payload)
        return strawberry.mutation(resolver=resolver, description=self.task.description)

    def subscription(self) -> Any:
        async def subscribe(info: strawberry.Info, **kwargs: Any) -> AsyncGenerator[Any, None]:
            data = self.parse_input(kwargs)
            if isinstance(data, gql.TaskError):
                yield data
                return
            found, caller = services(info), principal(info)
            try:
                async with AsyncExitStack() as held:
                    await held.enter_async_context(found.gate.subscription(caller))
                    await held.enter_async_context(found.gate.run(caller))
                    held.enter_context(found.observability.stream("subscription"))
                    if found.drain is not None:
                        held.enter_context(found.drain.hold())
                    async for payload in self._payloads(found, data, caller.client):
                        yield payload
            except ClientLimitError as exc:
                yield _limited(self.task, exc)

        returns = AsyncGenerator[self.event, None]  # type: ignore[name-defined]
        resolver = _with_signature(subscribe, [*self.arguments, _INFO], returns)
        return strawberry.subscription(
            resolver=resolver,
            description=f"{self.task.description} Sends progress, then the result, last.",
        )

    async def _payloads(
        self, found: Services, data: BaseModel, client: str
    ) -> AsyncGenerator[Any, None]:
        """A run's events as GraphQL payloads. Closing it closes the run and with it the
        upstream request; a run the drain window cuts short ends with a CANCELLED payload."""
        async with aclosing(found.pipeline.run(self.task, data, client=client)) as events:
            while True:
                try:
                    event = await _next_within_drain(events, found)
                except TimeoutError:
                    meta = run.RunMeta(run_id=uuid.uuid4().hex, task=self.task.name)
                    message = "the server is shutting down"
                    cancelled = run.Failed(run.ErrorCode.CANCELLED, message, meta)
                    yield self.outcome(cancelled, detailed=found.detailed)
                    return
                if isinstance(event, run.Completed | run.Failed):
                    yield self.outcome(event, detailed=found.detailed)
                    return
                yield gql.progress_event(event, detailed=found.detailed)


async def _next_within_drain(
    events: AsyncGenerator[run.RunEvent, None], found: Services
) -> run.RunEvent:
    """The run's next event; TimeoutError when the drain window ends first."""
    if found.drain is None:
        return await anext(events)
    async with found.drain.limit():
        return await anext(events)


def _cited(use: ContextUse[Any, Any], outcome: run.Completed) -> list[gql.CitedSnippet]:
    """The supplied snippets the output cites, in the order it cites them."""
    supplied = {snippet.id: snippet for snippet in outcome.meta.context}
    cited = (supplied[id_] for id_ in dict.fromkeys(use.citations(outcome.output)))
    return [gql.CitedSnippet(id=s.id, title=s.title, source=s.source) for s in cited]


def _limited(task: Task[Any, Any], error: ClientLimitError) -> gql.TaskError:
    """The payload of a run a client's own limit refused before it started."""
    return _error(task, run.ErrorCode.RATE_LIMITED, str(error), retry_after_s=error.retry_after)
