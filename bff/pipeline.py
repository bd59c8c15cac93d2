"""Run one task: attempts on each model route in turn, then the safe response.

``Pipeline.run`` is an async iterator of run events — started, progress,
retrying, falling back — ending in exactly one ``Completed`` or ``Failed``.
Closing it early cancels the run and closes the upstream request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

from pydantic import BaseModel

from bff.config import Settings
from bff.exceptions import (
    BFFError,
    ContentFilteredError,
    OutputError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusalError,
)
from bff.providers._types import ChatRequest
from bff.providers.base import Provider
from bff.reask import reask
from bff.routes import Route, parse_route
from bff.run import (
    SAFE_RESPONSE_ROUTE,
    AttemptRecord,
    Completed,
    ErrorCode,
    Failed,
    Fallback,
    FallingBack,
    Retrying,
    RunEvent,
    RunMeta,
    RunOutcome,
    Started,
)
from bff.structured import StructuredCall
from bff.tasks import Task

ProviderResolver = Callable[[Route], Provider]


def error_code(error: BFFError) -> ErrorCode:
    """The code a client sees for a run that ended on ``error``."""
    if isinstance(error, RefusalError | ContentFilteredError):
        return ErrorCode.REFUSED
    if isinstance(error, OutputError):
        return ErrorCode.VALIDATION_FAILED
    if isinstance(error, RateLimitedError):
        return ErrorCode.RATE_LIMITED
    if isinstance(error, ProviderTimeoutError):
        return ErrorCode.TIMEOUT
    return ErrorCode.PROVIDER_UNAVAILABLE


def _retry_here(error: BFFError) -> bool:
    """Whether another attempt on the same route may succeed."""
    if isinstance(error, RefusalError):
        return False
    if isinstance(error, ProviderError):
        return error.retryable
    return True


class Pipeline:
    """Runs tasks against the configured routes; see the module docstring."""

    def __init__(
        self,
        providers: ProviderResolver,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        progress_every: float = 0.1,
    ) -> None:
        self._providers = providers
        self._settings = settings
        self._clock = clock
        self._progress_every = progress_every

    def routes(self, task: Task[Any, Any]) -> list[str]:
        primary = task.route or self._settings.model
        fallbacks = task.fallbacks if task.fallbacks is not None else self._settings.fallback_models
        return [primary, *fallbacks]

    async def execute(self, task: Task[Any, Any], data: BaseModel) -> RunOutcome:
        """Run to the end and return the outcome, dropping the progress events."""
        async with aclosing(self.run(task, data)) as events:
            async for event in events:
                if isinstance(event, Completed | Failed):
                    return event
        raise AssertionError("a run always ends in Completed or Failed")

    async def run(self, task: Task[Any, Any], data: BaseModel) -> AsyncGenerator[RunEvent, None]:
        started = self._clock()
        routes = self.routes(task)
        meta = RunMeta(run_id=uuid.uuid4().hex, task=task.name, model=routes[0])
        yield Started(meta.run_id, task.name, routes[0])
        base = task.messages(data)
        last_error: BFFError | None = None
        for index, route in enumerate(routes):
            if index:
                reason = last_error.kind if last_error else "unavailable"
                yield FallingBack(routes[index - 1], route, reason)
            meta.model = route
            provider = self._providers(parse_route(route))
            messages = base
            for attempt in range(1, self._settings.max_attempts + 1):
                meta.attempts += 1
                call = StructuredCall(
                    provider,
                    ChatRequest(
                        parse_route(route).model,
                        messages,
                        task.output,
                        task.max_tokens,
                        task.temperature,
                    ),
                    task,
                    attempt=meta.attempts,
                    route=route,
                    clock=self._clock,
                    progress_every=self._progress_every,
                )
                async with aclosing(call.events()) as progress:
                    async for event in progress:
                        yield event
                result = call.result
                assert result is not None
                meta.prompt_tokens += result.prompt_tokens
                meta.completion_tokens += result.completion_tokens
                if result.output is not None:
                    meta.fallback = Fallback.MODEL if index else Fallback.NONE
                    meta.latency_ms = (self._clock() - started) * 1000
                    yield Completed(result.output, meta)
                    return
                error = result.error
                assert error is not None
                last_error = error
                meta.errors.append(AttemptRecord(meta.attempts, route, error.kind, str(error)))
                if attempt == self._settings.max_attempts or not _retry_here(error):
                    break
                yield Retrying(meta.attempts + 1, route, error.kind, str(error))
                if isinstance(error, OutputError):
                    messages = reask(base, task, result.text, error, result.tool_call_id)
        assert last_error is not None
        meta.latency_ms = (self._clock() - started) * 1000
        if task.safe_response is not None:
            yield FallingBack(meta.model, SAFE_RESPONSE_ROUTE, last_error.kind)
            meta.model, meta.fallback = SAFE_RESPONSE_ROUTE, Fallback.SAFE_RESPONSE
            yield Completed(task.safe_response(data), meta)
            return
        yield Failed(error_code(last_error), str(last_error), meta)
