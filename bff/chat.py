"""Plain chat: tokens relayed as they arrive, with the same routes and retries as tasks.

A failure before the first token may be retried or fall back to the next
route; after the first token the stream ends with an error, never a silent
restart that would repeat text. Chat text never goes through the validator.
PII in the messages is redacted before they leave (placeholders are not
restored into the streamed reply).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bff.budget import ANONYMOUS, Spend
from bff.config import Settings
from bff.exceptions import BFFError, BudgetExceededError, DeadlineExceededError, ProviderError
from bff.pipeline import ProviderResolver, error_code, final_error
from bff.providers._types import ChatRequest, Finish, Message, RefusalDelta, TextDelta, Usage
from bff.resilience.plan import AttemptPlan
from bff.resilience.timeouts import within
from bff.routes import parse_route
from bff.run import ErrorCode, Fallback
from bff.sanitize import Redactor
from bff.tokens import estimate_prompt_tokens, estimate_tokens

MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 32_000


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatBody(BaseModel):
    """The body of ``POST /chat/stream``."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)


@dataclass(frozen=True, slots=True)
class Token:
    text: str


@dataclass(frozen=True, slots=True)
class ChatDone:
    run_id: str
    model: str
    attempts: int
    fallback: Fallback
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    cost_usd: float
    redactions: dict[str, int]


@dataclass(frozen=True, slots=True)
class ChatFailed:
    code: ErrorCode
    message: str


ChatEvent = Token | ChatDone | ChatFailed


class ChatRunner:
    """Streams one chat; see the module docstring. ``plans`` makes the attempt plan of a
    request (the pipeline's, so chat and tasks share circuit breakers)."""

    def __init__(
        self,
        providers: ProviderResolver,
        settings: Settings,
        *,
        plans: Callable[[list[str]], AttemptPlan],
        spends: Callable[[str], Spend],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._providers = providers
        self._settings = settings
        self._plans = plans
        self._spends = spends
        self._clock = clock
        self._sleep = sleep

    async def stream(
        self, messages: tuple[Message, ...], *, client: str = ANONYMOUS
    ) -> AsyncGenerator[ChatEvent, None]:
        started = self._clock()
        redactor = Redactor()
        messages = tuple(replace(m, content=redactor.redact(m.content or "")) for m in messages)
        plan = self._plans([str(route) for route in self._settings.routes])
        spend = self._spends(client)
        max_tokens = min(self._settings.chat_max_tokens, self._settings.max_tokens_cap)
        last_error: BFFError | None = None
        while (step := plan.next()) is not None:
            route = parse_route(step.route)
            request = ChatRequest(route.model, messages, max_tokens=max_tokens)
            prompt = estimate_prompt_tokens(request)
            try:
                reservation = spend.reserve(step.route, prompt, max_tokens)
            except BudgetExceededError as exc:
                plan.released(step)
                yield ChatFailed(ErrorCode.BUDGET_EXCEEDED, str(exc))
                return
            sent = ""
            finish = "stop"
            usage: Usage | None = None
            try:
                events = within(
                    self._providers(route).stream(request),
                    first_token_s=self._settings.first_token_timeout_s,
                    deadline_s=plan.remaining(),
                )
                async with aclosing(events) as stream:
                    async for event in stream:
                        if isinstance(event, TextDelta | RefusalDelta):
                            sent += event.text
                            yield Token(event.text)
                        elif isinstance(event, Finish):
                            finish = event.reason
                        elif isinstance(event, Usage):
                            usage = event
            except (ProviderError, DeadlineExceededError) as exc:
                reservation.settle(prompt, estimate_tokens(sent))
                delay = plan.failed(step, exc)
                if sent:
                    yield ChatFailed(
                        error_code(exc), f"the stream broke after {len(sent)} characters: {exc}"
                    )
                    return
                last_error = exc
                if delay is not None:
                    await self._sleep(delay)
                continue
            except BaseException:
                plan.released(step)
                reservation.settle(prompt, estimate_tokens(sent))
                raise
            plan.succeeded(step)
            prompt_tokens = usage.prompt_tokens if usage else prompt
            completion_tokens = usage.completion_tokens if usage else estimate_tokens(sent)
            reservation.settle(prompt_tokens, completion_tokens)
            yield ChatDone(
                run_id=uuid.uuid4().hex,
                model=step.route,
                attempts=plan.number,
                fallback=Fallback.MODEL if step.index else Fallback.NONE,
                finish_reason=finish,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                latency_ms=round((self._clock() - started) * 1000, 3),
                cost_usd=spend.cost_usd,
                redactions=dict(redactor.counts),
            )
            return
        error = final_error(plan, last_error)
        yield ChatFailed(error_code(error), str(error))
