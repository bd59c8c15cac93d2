"""CPU to consume one streamed completion: the openai provider versus SDK chunk objects.

Both paths use the same ``AsyncOpenAI`` client over an in-memory transport that
serves the simulator's frames, so only the client-side work differs:
(a) the provider — raw SSE lines decoded into typed events;
(b) the SDK's ``create(stream=True)`` — a ``ChatCompletionChunk`` per frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx2
import openai

from bff.providers._types import ChatRequest, Message
from bff.providers.openai import OpenAIProvider
from bff.testing._wire import DONE, ChunkWriter

SIZES = (100, 1000)
ROUNDS = 30


def frames(pieces: list[str]) -> bytes:
    """A whole streamed completion whose content arrives as ``pieces``."""
    writer = ChunkWriter("gpt-4o-mini", include_usage=True)
    out = [writer.delta({"role": "assistant", "content": "", "refusal": None})]
    out += [writer.delta({"content": piece}) for piece in pieces]
    out += [writer.delta({}, "stop"), writer.usage(10, len(pieces)), DONE]
    return b"".join(out)


def _client(body: bytes) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


async def provider_decode(body: bytes, rounds: int = ROUNDS) -> float:
    """CPU seconds the provider spends per streamed completion."""
    provider = OpenAIProvider(api_key="k", base_url="http://sim/v1", http_client=_client(body))
    request = ChatRequest("gpt-4o-mini", (Message("user", "hi"),))
    started = time.process_time()
    for _ in range(rounds):
        async for _event in provider.stream(request):
            pass
    elapsed = time.process_time() - started
    await provider.aclose()
    return elapsed / rounds


async def sdk_decode(body: bytes, rounds: int = ROUNDS) -> float:
    """CPU seconds the SDK spends per streamed completion, building a chunk object per frame."""
    client = openai.AsyncOpenAI(
        api_key="k", base_url="http://sim/v1", max_retries=0, http_client=_client(body)
    )
    started = time.process_time()
    for _ in range(rounds):
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for _chunk in stream:
            pass
    elapsed = time.process_time() - started
    await client.close()
    return elapsed / rounds


def _best(run: Callable[[bytes], Coroutine[Any, Any, float]], body: bytes) -> float:
    return min(asyncio.run(run(body)) for _ in range(3))


def main() -> None:
    print("\nprovider_decode: CPU per streamed completion (ms), best of 3 x 30 rounds")
    print(f"{'chunks':>8} {'provider':>10} {'SDK chunks':>11} {'SDK / provider':>15}")
    for size in SIZES:
        body = frames([" tok"] * size)
        ours, sdk = _best(provider_decode, body), _best(sdk_decode, body)
        print(f"{size:>8} {ours * 1e3:>10.2f} {sdk * 1e3:>11.2f} {sdk / ours:>14.1f}x")


if __name__ == "__main__":
    main()
