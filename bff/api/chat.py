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
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, aclosing, nullcontext
from dataclasses import asdict

import anyio
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bff.api.identity import request_client
from bff.chat import ChatBody, ChatDone, ChatFailed, ChatRunner, Token
from bff.providers._types import Message
from bff.run import ErrorCode
from bff.sanitize import clean_text
from bff.streaming.parser import format_errors


def _event(name: str, number: int, data: dict[str, object]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"))
    return f"event: {name}\r\nid: {number}\r\ndata: {payload}\r\n\r\n".encode()


async def _events(
    runner: ChatRunner,
    messages: tuple[Message, ...],
    client: str,
    open_stream: AbstractContextManager[None],
    shutdown: anyio.Event | None = None,
    drain_s: float = 0.0,
) -> AsyncIterator[bytes]:
    number = 0
    cut_off: float | None = None
    with open_stream:
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
                    yield _event(
                        "error", number, {"code": event.code.value, "message": event.message}
                    )


def _camel(data: dict[str, object]) -> dict[str, object]:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(key): value for key, value in data.items()}


def chat_endpoint(
    runner: ChatRunner,
    *,
    ping_s: float,
    drain_s: float,
    streams: Callable[[str], AbstractContextManager[None]] = lambda _: nullcontext(),
) -> Callable[[Request], Awaitable[Response]]:
    """The route; on shutdown, open streams get ``drain_s`` to finish, then an ``error``
    event with code CANCELLED."""

    async def chat_stream(request: Request) -> Response:
        try:
            # Pydantic's JSON parser already refuses text that is not valid Unicode.
            body = ChatBody.model_validate_json(await request.body())
        except ValidationError as exc:
            message = "; ".join(format_errors(exc))
            error = {"code": ErrorCode.INPUT_REJECTED.value, "message": message}
            return JSONResponse({"error": error}, status_code=400)
        messages = tuple(Message(m.role, clean_text(m.content)) for m in body.messages)
        shutdown = anyio.Event()
        client = request_client(request.headers)
        return EventSourceResponse(
            _events(runner, messages, client, streams("sse"), shutdown, drain_s),
            ping=ping_s,
            headers={"Cache-Control": "no-cache, no-transform"},
            shutdown_event=shutdown,
            shutdown_grace_period=drain_s + 0.5,
        )

    return chat_stream
