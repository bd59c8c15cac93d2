"""The benchmarks' clients: one HTTP connection each, kept from round to round.

httpx's pool reuses its idle connections unevenly when handed a burst of requests at
once: 100 streams started together on a pool of 100 warm connections to the simulator
ran on about 60 of them, the rest waiting a whole stream for theirs (a median time to
first token of 1.2 s instead of 0.1 s). A client of its own per request in flight, as
each user of a server has, keeps that queue out of the figures.
"""

from __future__ import annotations

import ssl
from contextlib import AsyncExitStack

import httpx

# One context for every client: each would otherwise build its own (about 20 ms).
_TLS = ssl.create_default_context()
# Idle connections are kept as long as the servers keep them (75 s), not httpx's 5 s,
# through the turns of the other servers.
_ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=75)


async def clients(stack: AsyncExitStack, count: int) -> list[httpx.AsyncClient]:
    """``count`` clients of one connection each, open for the block of ``stack``."""
    return [
        await stack.enter_async_context(httpx.AsyncClient(timeout=60, limits=_ONE, verify=_TLS))
        for _ in range(count)
    ]
