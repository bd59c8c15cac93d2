"""Reading a chat stream as a client: the time to its first token and to its end.

``direct`` reads an OpenAI-style stream (``/v1/chat/completions`` with ``stream``: the
simulator, or the LiteLLM proxy); ``relayed`` reads a ``/chat/stream`` of ``token`` events
ending with ``done`` (the BFF, or the bare relay). Both read to the end, and call
``on_first`` when the first token arrives.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import httpx

MESSAGES = [{"role": "user", "content": "Say something."}]

Reader = Callable[..., Awaitable[tuple[float, float]]]


def _nothing() -> None:
    pass


async def direct(
    client: httpx.AsyncClient, url: str, on_first: Callable[[], None] = _nothing
) -> tuple[float, float]:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    started = time.perf_counter()
    first = 0.0
    async with client.stream("POST", url, json=body, headers={"authorization": "Bearer k"}) as r:
        async for line in r.aiter_lines():
            if (
                not first
                and line.startswith("data:")
                and '"content":"' in line
                and '"content":""' not in line
            ):
                first = time.perf_counter() - started
                on_first()
    if not first:  # a refused or failed stream would read as a fast one
        raise RuntimeError(f"a direct stream had no content ({r.status_code})")
    return first, time.perf_counter() - started


async def relayed(
    client: httpx.AsyncClient, url: str, on_first: Callable[[], None] = _nothing
) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    last = ""
    # Read to the end, as the direct path does: a response left unread costs its
    # connection, and the next stream would pay for a new one.
    async with client.stream("POST", url, json={"messages": MESSAGES}) as r:
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                last = line
            if not first and line == "event: token":
                first = time.perf_counter() - started
                on_first()
    if last != "event: done":  # a refused or failed stream would read as a fast one
        raise RuntimeError(f"a relayed stream did not end with done ({r.status_code}, {last!r})")
    return first, time.perf_counter() - started
