"""Per-client limits: a request rate, and how many runs and subscriptions a client may
have open at once, counted across every HTTP request, SSE stream and WebSocket.

The rate uses the ``limits`` library's moving window, over an in-process storage
that needs no thread (``bff.rate_storage``); the open counts are plain counters.
Both refuse at once with a ``ClientLimitError`` carrying a retry-after; nothing
queues.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Protocol

from limits.strategies import MovingWindowRateLimiter

from bff.clients import Principal
from bff.exceptions import ClientLimitError
from bff.rate_storage import LoopMemoryStorage

OPEN_RETRY_AFTER_S = 1.0
"""The retry-after of a refusal for too many open runs: runs end, so soon is sensible."""


class Gate(Protocol):
    """What the edge asks of the per-client limits: this in-process ``ClientGate``, or
    the one the replicas share on Redis (``bff.shared.ratelimit``)."""

    async def hit(self, principal: Principal) -> None:
        """Count one request; raises ClientLimitError when the client is over its rate."""
        ...

    def run(self, principal: Principal) -> AbstractAsyncContextManager[None]:
        """Hold one of the client's concurrent runs for the block."""
        ...

    def subscription(self, principal: Principal) -> AbstractAsyncContextManager[None]:
        """Hold one of the client's open subscriptions for the block."""
        ...


class ClientGate:
    """Checks each client's rate, runs and subscriptions in this process; see the
    module docstring."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._limiter = MovingWindowRateLimiter(LoopMemoryStorage(clock=clock))
        self._clock = clock
        self._open: dict[str, Counter[str]] = {"runs": Counter(), "subscriptions": Counter()}

    async def hit(self, principal: Principal) -> None:
        self.hit_now(principal)

    def hit_now(self, principal: Principal) -> None:
        """``hit``, without awaiting (the shared gate's fallback)."""
        rate = principal.limits.rate
        if rate is None or self._limiter.hit(rate, principal.limiter_key):
            return
        reset = self._limiter.get_window_stats(rate, principal.limiter_key).reset_time
        retry_after = max(1.0, math.ceil(reset - self._clock()))
        raise ClientLimitError(
            f"over the rate limit of {rate.amount} per {rate.get_expiry()}s",
            limit="rate",
            retry_after=retry_after,
        )

    @asynccontextmanager
    async def run(self, principal: Principal) -> AsyncIterator[None]:
        with self.hold("runs", principal):
            yield

    @asynccontextmanager
    async def subscription(self, principal: Principal) -> AsyncIterator[None]:
        with self.hold("subscriptions", principal):
            yield

    def open(self, kind: str, principal: Principal) -> int:
        return self._open[kind][principal.limiter_key]

    @contextmanager
    def hold(self, kind: str, principal: Principal) -> Iterator[None]:
        """Hold one of the client's ``kind`` (runs, subscriptions) for the block."""
        limit = limit_of(kind, principal)
        counts, key = self._open[kind], principal.limiter_key
        if counts[key] >= limit:
            raise refusal(kind, limit)
        counts[key] += 1
        try:
            yield
        finally:
            counts[key] -= 1
            if not counts[key]:
                del counts[key]


def limit_of(kind: str, principal: Principal) -> int:
    """How many ``kind`` (runs, subscriptions) the client may have open at once."""
    limits = principal.limits
    return limits.max_concurrent_runs if kind == "runs" else limits.max_subscriptions


def refusal(kind: str, limit: int) -> ClientLimitError:
    """The refusal of one more ``kind`` than ``limit``."""
    return ClientLimitError(
        f"this client already has {_count(limit, kind)} open, its limit",
        limit=kind,
        retry_after=OPEN_RETRY_AFTER_S,
    )


def _count(number: int, plural: str) -> str:
    return f"{number} {plural if number != 1 else plural.removesuffix('s')}"
