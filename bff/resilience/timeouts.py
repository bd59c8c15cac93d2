"""Time limits on a provider stream: the first token, and the request's deadline.

Only the waits for the next event count against the first-token limit, never
the time the consumer spends with an event, and the timeout wraps nothing but
that wait, so the cancellation always lands inside the provider's stream,
which then closes its upstream.
The idle gap between chunks is the provider's read timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

from bff.exceptions import DeadlineExceededError, ProviderTimeoutError
from bff.providers._types import ProviderEvent, RefusalDelta, TextDelta, ToolCallDelta


async def within(
    events: AsyncGenerator[ProviderEvent, None], *, first_token_s: float, deadline_s: float
) -> AsyncGenerator[ProviderEvent, None]:
    """``events``, failing when no token comes within ``first_token_s`` or the stream
    runs past ``deadline_s`` (both in seconds from now)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    waiting_first = True
    waited = 0.0  # time spent waiting for the provider before its first token
    async with aclosing(events):
        while True:
            now = loop.time()
            limit = min(now + first_token_s - waited, deadline) if waiting_first else deadline
            try:
                async with asyncio.timeout_at(limit):
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if loop.time() >= deadline:
                    raise DeadlineExceededError("the request deadline passed mid-stream") from None
                raise ProviderTimeoutError(f"no first token within {first_token_s:g}s") from None
            if waiting_first:
                waited += loop.time() - now
                waiting_first = not isinstance(event, TextDelta | ToolCallDelta | RefusalDelta)
            yield event
