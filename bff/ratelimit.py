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
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from limits.strategies import MovingWindowRateLimiter

from bff.clients import Principal
from bff.exceptions import ClientLimitError
from bff.rate_storage import LoopMemoryStorage

OPEN_RETRY_AFTER_S = 1.0
"""The retry-after of a refusal for too many open runs: runs end, so soon is sensible."""


class ClientGate:
    """Checks each client's rate, runs and subscriptions; see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._limiter = MovingWindowRateLimiter(LoopMemoryStorage(clock=clock))
        self._clock = clock
        self._open: dict[str, Counter[str]] = {"runs": Counter(), "subscriptions": Counter()}

    def hit(self, principal: Principal) -> None:
        """Count one request; raises ClientLimitError when the client is over its rate."""
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

    @contextmanager
    def run(self, principal: Principal) -> Iterator[None]:
        """Hold one of the client's concurrent runs for the block."""
        with self._hold("runs", principal, principal.limits.max_concurrent_runs):
            yield

    @contextmanager
    def subscription(self, principal: Principal) -> Iterator[None]:
        """Hold one of the client's open subscriptions for the block."""
        with self._hold("subscriptions", principal, principal.limits.max_subscriptions):
            yield

    def open(self, kind: str, principal: Principal) -> int:
        return self._open[kind][principal.limiter_key]

    @contextmanager
    def _hold(self, kind: str, principal: Principal, limit: int) -> Iterator[None]:
        counts, key = self._open[kind], principal.limiter_key
        if counts[key] >= limit:
            raise ClientLimitError(
                f"this client already has {_count(limit, kind)} open, its limit",
                limit=kind,
                retry_after=OPEN_RETRY_AFTER_S,
            )
        counts[key] += 1
        try:
            yield
        finally:
            counts[key] -= 1
            if not counts[key]:
                del counts[key]


def _count(number: int, plural: str) -> str:
    return f"{number} {plural if number != 1 else plural.removesuffix('s')}"
