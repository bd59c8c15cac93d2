"""An in-process storage backend for the ``limits`` library's moving window.

``limits``' own memory storage expires entries on a timer thread that it starts
again after almost every hit; under load that thread costs the event loop about
a millisecond per request (measured by ``benchmarks/edge_limits.py``). This one
lives on the event loop's thread: a key's old entries are dropped when the key
is touched, and keys idle for longer than their window are swept at most once a
minute. It implements ``limits``' storage interface, so ``limits``' strategies
run on it, as they will on its Redis storage.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from limits.storage import MovingWindowSupport, Storage

SWEEP_EVERY_S = 60.0


class LoopMemoryStorage(Storage, MovingWindowSupport):
    """Moving-window entries per key, in the process, without threads."""

    STORAGE_SCHEME = ["bff-memory"]  # noqa: RUF012 - limits' registry reads this list

    def __init__(
        self, uri: str | None = None, *, clock: Callable[[], float] = time.time, **_: str
    ) -> None:
        super().__init__(uri, wrap_exceptions=False)
        self._clock = clock
        self._entries: dict[str, deque[float]] = {}
        self._expiry: dict[str, float] = {}
        self._counters: dict[str, tuple[int, float]] = {}
        self._swept = clock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        now = self._clock()
        entries = self._window(key, now, expiry)
        if len(entries) + amount > limit:
            return False
        entries.extend([now] * amount)
        self._sweep(now)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self._clock()
        entries = self._window(key, now, expiry)
        return (entries[0], len(entries)) if entries else (now, 0)

    def _window(self, key: str, now: float, expiry: float) -> deque[float]:
        entries = self._entries.setdefault(key, deque())
        self._expiry[key] = expiry
        while entries and entries[0] <= now - expiry:
            entries.popleft()
        return entries

    def _sweep(self, now: float) -> None:
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        for key, entries in list(self._entries.items()):
            if not entries or entries[-1] <= now - self._expiry[key]:
                del self._entries[key], self._expiry[key]
        self._counters = {k: v for k, v in self._counters.items() if v[1] > now}

    # The fixed-window half of the interface, for completeness: counters with an expiry.

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self._clock()
        count, until = self._counters.get(key, (0, 0.0))
        if until <= now:
            count, until = 0, now + expiry
        self._counters[key] = (count + amount, until)
        return count + amount

    def get(self, key: str) -> int:
        count, until = self._counters.get(key, (0, 0.0))
        return count if until > self._clock() else 0

    def get_expiry(self, key: str) -> float:
        return self._counters.get(key, (0, self._clock()))[1]

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        cleared = len(self._entries) + len(self._counters)
        self._entries.clear()
        self._expiry.clear()
        self._counters.clear()
        return cleared

    def clear(self, key: str) -> None:
        self._entries.pop(key, None)
        self._expiry.pop(key, None)
        self._counters.pop(key, None)
