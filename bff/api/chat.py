"""``POST /chat/stream``: chat tokens over server-sent events (sse-starlette).

Events: ``token`` (``{"text"}``) as text arrives, then exactly one ``done``
(usage and run metadata) or ``error`` (``{"code", "message"}``). Each event
has an id; comment pings keep idle connections open; headers ask proxies not
to buffer or cache. When the client goes away the run is cancelled and the
upstream request closed. When the server shuts down, a stream that cannot
finish within the drain window ends with an ``error`` event (CANCELLED).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, AsyncExitStack, aclosing, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bff.api.errors import json_error
from bff.api.limits import is_json
from bff.chat import ChatBody, ChatDone, ChatFailed, ChatRunner, Token
from bff.clients import Principal
from bff.disclosure import client_message
from bff.exceptions import ClientLimitError
from bff.providers._types import Message
from bff.ratelimit import ClientGate, Gate
from bff.run import ErrorCode
from bff.sanitize import clean_text
from bff.vocabulary import format_errors


def _event(name: str, number: int, data: dict[str, object]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"))
    return f"event: {name}\r\nid: {number}\r\ndata: {payload}\r\n\r\n".encode()


async def _events(
    runner: ChatRunner,
    messages: tuple[Message, ...],
    client: str,
    shutdown: anyio.Event | None = None,
    drain_s: float = 0.0,
    detailed: bool = True,
) -> AsyncIterator[bytes]:
    number = 0
    cut_off: float | None = None
    async with aclosing(runner.stream(messages, client=client)) as stream:
        async for event in stream:
            number += 1
            if shutdown is not None and shutdown.is_set():
                # The server is draining: finish if the stream can, else say so before
                # the drain window closes, rather than end without a terminal event.
                cut_off = cut_off or time.monotonic() + drain_s
                if time.monotonic() >= cut_off:
                    message = "the server is shutting down"
                    yield _event(
                        "error", number, {"code": ErrorCode.CANCELLED.value, "message": message}
                    )
                    return
            if isinstance(event, Token):
                yield _event("token", number, {"text": event.text})
            elif isinstance(event, ChatDone):
                done = asdict(event)
                done["fallback"] = event.fallback.value
                yield _event("done", number, _camel(done))
            elif isinstance(event, ChatFailed):
                message = client_message(event.code, event.message, detailed=detailed)
                yield _event("error", number, {"code": event.code.value, "message": message})


def _camel(data: dict[str, object]) -> dict[str, object]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(key): value for key, value in data.items()}


@dataclass(frozen=True, slots=True)
class ChatPolicy:
    """What the chat route allows and how it answers."""

    ping_s: float
    drain_s: float
    gate: Gate = field(default_factory=ClientGate)
    allow_client_system: bool = False
    """Whether a client's own ``system`` messages are passed on (the server's system
    prompt comes first either way)."""
    detailed: bool = True


def chat_endpoint(
    runner: ChatRunner,
    policy: ChatPolicy,
    streams: Callable[[str], AbstractContextManager[None]] = lambda _: nullcontext(),
) -> Callable[[Request], Awaitable[Response]]:
    """The route; on shutdown, open streams get ``drain_s`` to finish, then an ``error``
    event with code CANCELLED."""

    async def chat_stream(request: Request) -> Response:
        if not is_json(request):
            return json_error(415, ErrorCode.INPUT_REJECTED, "send the body as application/json")
        try:
            # Pydantic's JSON parser already refuses text that is not valid Unicode.
            body = ChatBody.model_validate_json(await request.body())
        except ValidationError as exc:
            return json_error(400, ErrorCode.INPUT_REJECTED, "; ".join(format_errors(exc)))
        if not policy.allow_client_system and any(m.role == "system" for m in body.messages):
            message = "system messages are the server's: send user and assistant turns only"
            return json_error(400, ErrorCode.INPUT_REJECTED, message)
        messages = tuple(Message(m.role, clean_text(m.content)) for m in body.messages)
        principal: Principal = request.state.principal
        held = AsyncExitStack()
        try:
            await held.enter_async_context(policy.gate.run(principal))
        except ClientLimitError as exc:
            response = json_error(429, ErrorCode.RATE_LIMITED, str(exc))
            response.headers["retry-after"] = str(math.ceil(exc.retry_after))
            return response
        held.enter_context(streams("sse"))
        shutdown = anyio.Event()
        drain_s = policy.drain_s
        return _HeldStream(
            held,
            _events(runner, messages, principal.client, shutdown, drain_s, policy.detailed),
            ping=policy.ping_s,
            headers={"Cache-Control": "no-cache, no-transform"},
            shutdown_event=shutdown,
            shutdown_grace_period=drain_s + 0.5,
        )

    return chat_stream


class _HeldStream(EventSourceResponse):
    """The SSE response, holding the client's run slot (and the open-stream gauge) until
    it has been sent, or abandoned: a client that leaves before the stream starts
    never runs the event generator, so the generator cannot be what lets go."""

    def __init__(self, held: AsyncExitStack, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held = held

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._held.aclose()
