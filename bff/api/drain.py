"""The server's drain: set when shutdown begins, over when the drain window has passed."""

from __future__ import annotations

import asyncio


class Drain:
    """Requests in flight at shutdown get ``window_s`` to finish, then a clean error."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._begun = asyncio.Event()

    def begin(self) -> None:
        self._begun.set()

    @property
    def begun(self) -> bool:
        return self._begun.is_set()

    async def over(self) -> None:
        """Return once shutdown has begun and the window has passed."""
        await self._begun.wait()
        await asyncio.sleep(self.window_s)
