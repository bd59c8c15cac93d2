"""The server's drain: set when shutdown begins, over when the drain window has passed.

Mutations and SSE streams watch ``over()``. Subscriptions wait for each event
inside ``limit()``, a timeout that is rescheduled to the end of the window when
shutdown begins, so the cancellation lands inside the run (which then closes its
upstream) and the subscriber still gets a typed last payload; the server waits
for ``settled()`` before it closes WebSockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager


class Drain:
    """Requests in flight at shutdown get ``window_s`` to finish, then a clean error."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._begun = asyncio.Event()
        self._deadline: float | None = None
        self._timeouts: set[asyncio.Timeout] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        """Start the drain; safe to call from a signal handler."""
        if self._loop is None:
            self._start()
        else:
            self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        if self._begun.is_set():
            return
        self._begun.set()
        if self._loop is not None:
            self._deadline = self._loop.time() + self.window_s
            for timeout in self._timeouts:
                timeout.reschedule(self._deadline)

    @property
    def begun(self) -> bool:
        return self._begun.is_set()

    async def over(self) -> None:
        """Return once shutdown has begun and the window has passed."""
        self._loop = self._loop or asyncio.get_running_loop()
        await self._begun.wait()
        await asyncio.sleep(self.window_s)

    @asynccontextmanager
    async def limit(self) -> AsyncIterator[None]:
        """Raise TimeoutError in the block if the drain window ends while it runs."""
        self._loop = self._loop or asyncio.get_running_loop()
        if self._begun.is_set() and self._deadline is None:
            self._deadline = self._loop.time() + self.window_s
        async with asyncio.timeout_at(self._deadline) as timeout:
            self._timeouts.add(timeout)
            try:
                yield
            finally:
                self._timeouts.discard(timeout)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Count the block as work the server should let finish before closing sockets."""
        self._held += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self._idle.set()

    async def settled(self) -> None:
        """Return once nothing is held."""
        await self._idle.wait()
