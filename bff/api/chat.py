"""Chat over server-sent events (sse-starlette), resumable.

``POST /chat/stream`` starts a chat and streams it: ``token`` (``{"text"}``) as
text arrives, then exactly one ``done`` (usage and run metadata) or ``error``
(``{"code", "message"}``). Every event has an id (1, 2, ...); the response's
``bff-stream-id`` header names the stream. ``GET /chat/stream/{id}`` with
``Last-Event-ID`` (or ``?lastEventId=``) replays the events after that id and
follows the stream to its terminal event, on any replica, without a second
upstream call; ``DELETE /chat/stream/{id}`` cancels the run. Only the client
that started a stream may read or cancel it; an unknown, expired or malformed
id, or another client's, is the same 404.

The run belongs to the app (``bff.api.chat_streams``), not to the response: a
client that drops has ``stream_resume_grace_s`` to come back before the run is
cancelled and its upstream closed. Comment pings keep idle connections open;
headers ask proxies not to buffer or cache. When the server shuts down, a stream
that cannot finish within the drain window ends with an ``error`` event
(CANCELLED).
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, AsyncExitStack, aclosing, nullcontext
from dataclasses import asdict, dataclass, field

from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Scope, Send

from bff.api.chat_streams import ChatStreams, Reading
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
from bff.shared.link import SharedStateUnavailable
from bff.streams import StreamEvent, StreamGone, is_stream_id
from bff.vocabulary import format_errors

STREAM_ID_HEADER = "bff-stream-id"
NO_STREAM = "no such chat stream: the id is unknown or has expired"
_MAX_EVENT_ID_DIGITS = 18


async def _payloads(
    runner: ChatRunner, messages: tuple[Message, ...], client: str, detailed: bool
) -> AsyncGenerator[tuple[str, dict[str, object]], None]:
    """The chat's events as (name, data)."""
    async with aclosing(runner.stream(messages, client=client)) as stream:
        async for event in stream:
            if isinstance(event, Token):
                yield "token", {"text": event.text}
            elif isinstance(event, ChatDone):
                done = asdict(event)
                done["fallback"] = event.fallback.value
                yield "done", _camel(done)
            elif isinstance(event, ChatFailed):
                message = client_message(event.code, event.message, detailed=detailed)
                yield "error", {"code": event.code.value, "message": message}


def _camel(data: dict[str, object]) -> dict[str, object]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(key): value for key, value in data.items()}


async def _frames(batches: AsyncIterator[list[StreamEvent]]) -> AsyncIterator[bytes]:
    """A reader's SSE body: each batch of events as one write. A stream that stops
    being kept ends the body without a terminal event (the client may resume)."""
    try:
        async for batch in batches:
            yield batch[0].frame if len(batch) == 1 else b"".join(e.frame for e in batch)
    except (StreamGone, SharedStateUnavailable):
        return
    finally:
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            await aclose()


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
    hub: ChatStreams,
    streams: Callable[[str], AbstractContextManager[None]] = lambda _: nullcontext(),
) -> Callable[[Request], Awaitable[Response]]:
    """``POST /chat/stream``: start a chat in ``hub`` (its run slot held until the run
    ends) and read its stream. ``streams`` counts open streams."""

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
        payloads = _payloads(runner, messages, principal.client, policy.detailed)
        return _StreamResponse(hub.start(principal.client, payloads, held), policy)

    return chat_stream


def resume_endpoint(
    hub: ChatStreams, policy: ChatPolicy
) -> Callable[[Request], Awaitable[Response]]:
    """``GET /chat/stream/{stream_id}``: the events after ``Last-Event-ID``, then the
    live stream to its terminal event."""

    async def resume(request: Request) -> Response:
        stream_id: str = request.path_params["stream_id"]
        if not is_stream_id(stream_id):  # by its shape, before any lookup
            return json_error(404, ErrorCode.INPUT_REJECTED, NO_STREAM)
        given = request.headers.get("last-event-id", request.query_params.get("lastEventId", ""))
        after = _event_id(given)
        if after is None:
            message = "Last-Event-ID must be the id of an event of this stream"
            return json_error(400, ErrorCode.INPUT_REJECTED, message)
        principal: Principal = request.state.principal
        try:
            reading = await hub.open(stream_id, principal.client, after)
        except SharedStateUnavailable:
            return _unavailable()
        if reading is None:
            return json_error(404, ErrorCode.INPUT_REJECTED, NO_STREAM)
        return _StreamResponse(reading, policy)

    return resume


def cancel_endpoint(hub: ChatStreams) -> Callable[[Request], Awaitable[Response]]:
    """``DELETE /chat/stream/{stream_id}``: cancel the run (the stream ends with an
    ``error`` event, CANCELLED); 204."""

    async def cancel(request: Request) -> Response:
        stream_id: str = request.path_params["stream_id"]
        principal: Principal = request.state.principal
        try:
            found = is_stream_id(stream_id) and await hub.cancel(stream_id, principal.client)
        except SharedStateUnavailable:
            return _unavailable()
        if not found:
            return json_error(404, ErrorCode.INPUT_REJECTED, NO_STREAM)
        return Response(status_code=204)

    return cancel


def _event_id(given: str) -> int | None:
    """The event number a ``Last-Event-ID`` names (none given: 0); None if malformed."""
    text = given.strip()
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_EVENT_ID_DIGITS:
        return None
    return int(text)


def _unavailable() -> Response:
    message = "the stream store is unavailable; try again"
    return json_error(503, ErrorCode.PROVIDER_UNAVAILABLE, message, {"retry-after": "1"})


class _StreamResponse(EventSourceResponse):
    """One reader's SSE response, attached to its stream while it runs. If its client
    leaves before the response begins, the reading hears of it (the first reader's
    client never learned the stream's id, so its run is stopped at once)."""

    def __init__(self, reading: Reading, policy: ChatPolicy) -> None:
        headers = {"Cache-Control": "no-cache, no-transform", STREAM_ID_HEADER: reading.stream_id}
        super().__init__(
            _frames(reading.batches),
            ping=policy.ping_s,
            headers=headers,
            shutdown_grace_period=policy.drain_s + 0.5,
        )
        self._reading = reading

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        began = False

        async def sending(message: AsgiMessage) -> None:
            nonlocal began
            await send(message)
            began = True

        try:
            async with self._reading.attached():
                await super().__call__(scope, receive, sending)
        finally:
            if not began and self._reading.unseen is not None:
                await self._reading.unseen()

    async def _send_with_timeout(self, send: Send, message: AsgiMessage) -> None:
        # sse-starlette wraps every send in a cancel scope for its per-send timeout,
        # even when there is none, as here: a scope per token, for nothing. A client
        # too slow to read is the connection's (uvicorn's flow control and the drain).
        await send(message)
