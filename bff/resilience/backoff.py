"""How long to wait before the next attempt: exponential backoff with full jitter."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Full jitter (a random delay up to ``base_s * 2**(attempt-1)``, at most ``cap_s``).

    A ``retry-after`` from the failed attempt's own response is honoured, capped
    at ``retry_after_cap_s``; no delay ever runs past the request's deadline.
    """

    base_s: float = 0.25
    cap_s: float = 8.0
    retry_after_cap_s: float = 30.0

    def delay(
        self,
        attempt: int,
        retry_after: float | None,
        remaining_s: float,
        rng: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (1-based), or None when the
        wait would pass the deadline."""
        wait: float = rng() * min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_cap_s))
        if wait >= remaining_s:
            return None
        return wait
