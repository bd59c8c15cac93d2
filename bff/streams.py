"""Chat streams kept for resuming: numbered events, the store protocol, and the store in
this process's memory.

A stream has an unguessable id and an owner (the client that started it). Its
producer appends events numbered from 1; the last one is ``done`` or ``error``.
A reader follows the stream from any event number to that terminal event: the
events kept so far at once, then each batch as it is appended. Readers attach
while they read, so the producer can tell whether anyone still listens.

``MemoryStreams`` keeps streams in this process (its readers wake on an
``asyncio.Event``, never by polling); ``bff.shared.streams`` keeps them on Redis
for the other replicas. Both follow ``StreamStore``. Pure: no network, no web
framework.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

TERMINAL = frozenset({"done", "error"})
"""The names of the events that end a stream."""
_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def new_stream_id() -> str:
    """A fresh stream id: 128 random bits, URL-safe base64 (22 characters)."""
    return secrets.token_urlsafe(16)


def is_stream_id(text: str) -> bool:
    """Whether ``text`` has the shape of a stream id (checked before any lookup)."""
    return _STREAM_ID.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a stream: its number (from 1), name and encoded SSE frame."""

    number: int
    name: str
    frame: bytes

    @property
    def terminal(self) -> bool:
        return self.name in TERMINAL


@dataclass(frozen=True, slots=True)
class Presence:
    """Whether a reader is attached to a stream, and whether a client cancelled it."""

    attached: bool
    cancelled: bool = False


class StreamGone(Exception):
    """The stream is not kept (unknown, expired, or its producer stopped for good)."""


class StreamStore(Protocol):
    """Where streams are kept for readers. ``create`` and ``append`` never block (a
    store on the network writes behind); the rest may raise the store's own
    unavailability error."""

    def create(self, stream_id: str, owner: str) -> None:
        """Keep a new, empty stream of ``owner``'s."""

    def append(self, stream_id: str, event: StreamEvent) -> None:
        """Add the stream's next event (numbers go up by one)."""

    async def owned(self, stream_id: str, owner: str) -> bool:
        """Whether the stream is kept, can still be followed, and is ``owner``'s."""

    def follow(self, stream_id: str, after: int) -> AsyncIterator[list[StreamEvent]]:
        """The events numbered above ``after``, in batches, up to the terminal event;
        raises ``StreamGone`` if the stream is not kept (or stops being kept)."""

    def attach(self, stream_id: str) -> AbstractAsyncContextManager[None]:
        """Count a reader as attached to the stream while the block runs."""

    async def presence(self, stream_id: str) -> Presence:
        """Whether a reader is attached, and whether a client cancelled the stream."""

    async def cancel(self, stream_id: str) -> None:
        """Mark the stream cancelled by its client (its producer stops)."""

    async def stored(self, stream_id: str) -> bool:
        """Wait until the stream's events are all stored; False if they never will be."""

    async def aclose(self) -> None:
        """Store what is pending (briefly), then let go."""


class LocalStream:
    """One stream in memory: its events, its attached readers, and the signals that
    wake whoever waits on either."""

    def __init__(self, stream_id: str, owner: str) -> None:
        self.id = stream_id
        self.owner = owner
        self.events: list[StreamEvent] = []
        self.readers = 0
        self.cancelled = False
        self._appended = asyncio.Event()
        self._presence = asyncio.Event()

    @property
    def ended(self) -> bool:
        return bool(self.events) and self.events[-1].terminal

    def append(self, event: StreamEvent) -> None:
        self.events.append(event)
        self._appended.set()

    async def follow(self, after: int) -> AsyncIterator[list[StreamEvent]]:
        """See ``StreamStore.follow``. All readers share one event: each checks for new
        events before it clears it, with no await in between, so none misses a wake."""
        cursor, events = max(0, after), self.events
        while True:
            if len(events) > cursor:
                batch = events[cursor:]
                cursor = len(events)
                yield batch
                if batch[-1].terminal:
                    return
            elif self.ended:
                return
            else:
                self._appended.clear()
                await self._appended.wait()

    def attach(self) -> None:
        self.readers += 1
        self._presence.set()

    def detach(self) -> None:
        self.readers -= 1
        self._presence.set()

    def cancel(self) -> None:
        self.cancelled = True
        self._presence.set()

    async def wait_attached(self, within_s: float) -> bool:
        """Wait up to ``within_s`` seconds for a reader to attach (or a cancel); True when
        a reader is attached by then."""
        if not self.readers and not self.cancelled and within_s > 0:
            self._presence.clear()
            try:
                async with asyncio.timeout(within_s):
                    while not self.readers and not self.cancelled:
                        await self._presence.wait()
                        self._presence.clear()
            except TimeoutError:
                pass
        return self.readers > 0


class MemoryStreams:
    """Streams in this process. A stream is kept while it runs and for ``retention_s``
    after its terminal event (``forget`` lets go of it sooner)."""

    def __init__(self, retention_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retention_s = retention_s
        self.clock = clock
        self._streams: dict[str, LocalStream] = {}
        self._ended: deque[tuple[float, LocalStream]] = deque()

    def __len__(self) -> int:
        return len(self._streams)

    def create(self, stream_id: str, owner: str) -> None:
        self._sweep()
        self._streams[stream_id] = LocalStream(stream_id, owner)

    def get(self, stream_id: str) -> LocalStream | None:
        """The stream, if it is kept."""
        self._sweep()
        return self._streams.get(stream_id)

    def forget(self, stream_id: str) -> None:
        self._streams.pop(stream_id, None)

    def append(self, stream_id: str, event: StreamEvent) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.append(event)
            if event.terminal:
                self._ended.append((self.clock(), stream))

    def _sweep(self) -> None:
        """Let go of the streams that ended more than ``retention_s`` ago."""
        horizon = self.clock() - self.retention_s
        while self._ended and self._ended[0][0] <= horizon:
            _, stream = self._ended.popleft()
            if self._streams.get(stream.id) is stream:
                del self._streams[stream.id]

    async def owned(self, stream_id: str, owner: str) -> bool:
        stream = self.get(stream_id)
        return stream is not None and stream.owner == owner

    async def follow(self, stream_id: str, after: int) -> AsyncIterator[list[StreamEvent]]:
        stream = self.get(stream_id)
        if stream is None:
            raise StreamGone(stream_id)
        async for batch in stream.follow(after):
            yield batch

    def attach(self, stream_id: str) -> AbstractAsyncContextManager[None]:
        return _attached(self.get(stream_id))

    async def presence(self, stream_id: str) -> Presence:
        stream = self.get(stream_id)
        if stream is None:
            return Presence(attached=False)
        return Presence(attached=stream.readers > 0, cancelled=stream.cancelled)

    async def cancel(self, stream_id: str) -> None:
        stream = self.get(stream_id)
        if stream is not None:
            stream.cancel()

    async def stored(self, stream_id: str) -> bool:
        return stream_id in self._streams

    async def aclose(self) -> None:
        self._streams.clear()
        self._ended.clear()


@asynccontextmanager
async def _attached(stream: LocalStream | None) -> AsyncIterator[None]:
    if stream is None:
        yield
        return
    stream.attach()
    try:
        yield
    finally:
        stream.detach()
