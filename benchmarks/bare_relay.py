"""The floor for the SSE relay benchmark: the same libraries as the BFF, none of its work.

uvicorn, Starlette, sse-starlette and one reused ``AsyncOpenAI`` client calling
``create(stream=True)``: every content chunk becomes a ``token`` event, then one
``done``. No validation, sanitizing, budgets, retries, breakers, metrics or
logs. ``python -m benchmarks.bare_relay --port N --upstream URL`` serves
``POST /chat/stream`` and ``GET /healthz``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator

import openai
import uvicorn
from openai.types.chat import ChatCompletionMessageParam
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


def create_app(upstream: str) -> Starlette:
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

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/chat/stream", chat_stream, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's /v1 base URL")
    args = parser.parse_args()
    # Keep idle connections as long as the BFF and the simulator do (75 s): the benchmark's
    # clients wait between rounds, past uvicorn's default of 5 s.
    uvicorn.run(
        create_app(args.upstream),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        timeout_keep_alive=75,
    )


if __name__ == "__main__":
    main()
