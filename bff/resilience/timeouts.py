"""Time limits on a provider stream: the first token, and the request's deadline.

Only the waits for the next event count against the first-token limit, never
the time the consumer spends with an event, and the timeout wraps nothing but
that wait, so the cancellation always lands inside the provider's stream,
which then closes its upstream. After the first token the deadline is checked
as each chunk arrives; the idle gap between chunks is the provider's read
timeout, so a stalled stream ends at most one read timeout past the deadline.
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
    waited = 0.0  # time spent waiting for the provider before its first token
    async with aclosing(events):
        while True:  # until the first token: each wait is timed
            now = loop.time()
            try:
                async with asyncio.timeout_at(min(now + first_token_s - waited, deadline)):
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if loop.time() >= deadline:
                    raise DeadlineExceededError("the request deadline passed mid-stream") from None
                raise ProviderTimeoutError(f"no first token within {first_token_s:g}s") from None
            waited += loop.time() - now
            yield event
            if isinstance(event, TextDelta | ToolCallDelta | RefusalDelta):
                break
        # After it, a timer per chunk would cost more than the chunk: the deadline is
        # checked as each chunk arrives, and a stall is the read timeout's to end.
        async for event in events:
            if loop.time() >= deadline:
                raise DeadlineExceededError("the request deadline passed mid-stream")
            yield event
