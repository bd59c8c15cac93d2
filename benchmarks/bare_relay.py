"""The floor for the SSE relay benchmark: the same libraries as the BFF, none of its work.

uvicorn, Starlette, sse-starlette and one reused ``AsyncOpenAI`` client calling
``create(stream=True)``: every content chunk becomes a ``token`` event, then one
``done``. No validation, sanitizing, budgets, retries, breakers, metrics or
logs. ``python -m benchmarks.bare_relay --port N --upstream URL`` serves
``POST /chat/stream`` and ``GET /healthz``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import openai
from openai.types.chat import ChatCompletionMessageParam
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchmarks.peers._serve import serve


def routes(upstream: str) -> list[Route]:
    client = openai.AsyncOpenAI(base_url=upstream, api_key="bench", max_retries=0)

    async def tokens(
        messages: list[ChatCompletionMessageParam],
    ) -> AsyncIterator[dict[str, str]]:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},  # the same frames the BFF asks for
        )
        async for chunk in stream:
            text = chunk.choices[0].delta.content if chunk.choices else None
            if text:
                yield {"event": "token", "data": json.dumps({"text": text})}
        yield {"event": "done", "data": "{}"}

    async def chat_stream(request: Request) -> Response:
        body = json.loads(await request.body())
        return EventSourceResponse(tokens(body["messages"]))

    return [Route("/chat/stream", chat_stream, methods=["POST"])]


if __name__ == "__main__":
    serve(routes, __doc__)
