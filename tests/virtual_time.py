"""An asyncio event loop on a virtual clock, for code that reads the loop's own time.

``asyncio.sleep``, ``asyncio.timeout`` and the loop's ``time()`` all run on
:class:`VirtualClockLoop`'s clock, which stands still while there is work to do
and, when every task is waiting for a timer, jumps straight to the next one. A
test of timeouts then takes no wall time, and its timings are exact however
busy the machine is. Only for code that waits on nothing but timers and its own
tasks: a socket's data or a thread's result does not arrive in virtual time, and the
clock would jump past the timeout meant to wait for it.

    @pytest.mark.parametrize("anyio_backend", [VIRTUAL_TIME])
    async def test_something() -> None: ...
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """Asked to wait for a timer, moves the clock to it and only polls."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is not None and timeout > 0:
            self._clock.now += timeout
            timeout = 0
        events: list[Any] = super().select(timeout)
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._clock = _Clock()
        super().__init__(_JumpingSelector(self._clock))

    def time(self) -> float:
        return self._clock.now


VIRTUAL_TIME = ("asyncio", {"loop_factory": VirtualClockLoop})
"""An ``anyio_backend`` value: the asyncio backend on a :class:`VirtualClockLoop`."""
