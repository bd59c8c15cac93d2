"""The chat streams one app runs, and their readers.

Each chat is a producer task the app owns: it runs the chat, holds the client's
run slot (and the open-stream gauge) for the run's life, and appends each event to
the stream in this process's memory (``bff.streams``) and, with Redis, to the
shared store behind it (``bff.shared.streams``), which writes behind the producer.
Every SSE response is a reader: the first one and each resume; on this replica it
follows the memory, on another it follows Redis.

The run goes on while no reader is attached, for up to ``grace_s`` (a client
reconnecting after a drop); then it is cancelled, which closes its upstream and
settles its tokens, and the stream ends with an ``error`` event (CANCELLED). So
does a stream whose first client left before it could learn the stream's id, one
its client cancels, and every stream still running when the drain window closes
at shutdown, or when the app closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    aclosing,
    asynccontextmanager,
    suppress,
)
from dataclasses import dataclass

from bff.api.drain import Drain
from bff.config import Settings
from bff.observe.logs import log_event
from bff.run import ErrorCode
from bff.shared.link import RedisLink, SharedStateUnavailable
from bff.shared.streams import RedisStreams
from bff.streams import (
    TERMINAL,
    LocalStream,
    MemoryStreams,
    Presence,
    StreamEvent,
    StreamStore,
    new_stream_id,
)

logger = logging.getLogger(__name__)

Payloads = AsyncGenerator[tuple[str, dict[str, object]], None]
"""A chat's events as (name, data), the terminal one last."""
SHUTTING_DOWN = "the server is shutting down"
CANCELLED_BY_CLIENT = "the client cancelled the stream"
LEFT_EARLY = "the client left before the stream started"
CLOSE_WAIT_S = 5.0
"""The longest the app waits for its producers to end when it closes."""


def sse_frame(name: str, number: int, data: dict[str, object]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"))
    return f"event: {name}\r\nid: {number}\r\ndata: {payload}\r\n\r\n".encode()


@dataclass(frozen=True, slots=True)
class Reading:
    """One reader of one stream: its batches of events, attached while it reads.
    ``unseen`` is awaited if its client left before the response began."""

    stream_id: str
    batches: AsyncIterator[list[StreamEvent]]
    attached: Callable[[], AbstractAsyncContextManager[None]]
    unseen: Callable[[], Awaitable[None]] | None = None


class _Producer:
    """The task that runs one chat into its stream, and why it was stopped."""

    def __init__(self, stream: LocalStream) -> None:
        self.stream = stream
        self.task: asyncio.Task[None] | None = None
        self.started = False
        self.reason: str | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.last: tuple[str, dict[str, object]] | None = None
        """The chat's terminal event, held back until the run has let go of its slot."""
        self.finished = asyncio.Event()
        """Set once the stream has its terminal event and the run slot is let go."""

    @property
    def live(self) -> bool:
        return self.reason is None and self.last is None and not self.stream.ended

    def stop(self, reason: str) -> None:
        """Cancel the run; its stream ends with an ``error`` event saying ``reason``."""
        if not self.live:
            return
        self.reason = reason
        if self.started and self.task is not None:
            self.task.cancel()  # a task not started yet sees the reason when it starts
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()


class ChatStreams:
    """See the module docstring. ``check_s``: how often, while no reader is attached
    here, the producer asks Redis whether one is attached elsewhere."""

    def __init__(
        self,
        *,
        retention_s: float,
        grace_s: float,
        shared: StreamStore | None = None,
        drain: Drain | None = None,
        check_s: float = 1.0,
    ) -> None:
        self.local = MemoryStreams(retention_s)
        self.shared = shared
        self.grace_s = grace_s
        self._drain = drain
        self._check_s = check_s
        self._live: dict[str, _Producer] = {}
        self._drain_watch: asyncio.Task[None] | None = None

    def start(self, owner: str, payloads: Payloads, held: AsyncExitStack) -> Reading:
        """Run a chat of ``owner``'s into a new stream; ``held`` (the run slot) is let go
        when the run ends. Returns the stream's first reader."""
        stream_id = new_stream_id()
        self.local.create(stream_id, owner)
        stream = self.local.get(stream_id)
        assert stream is not None
        if self.shared is not None:
            self.shared.create(stream_id, owner)
        producer = self._live[stream_id] = _Producer(stream)
        producer.task = asyncio.create_task(self._produce(producer, payloads, held))
        if self._drain is not None and self._drain_watch is None:
            self._drain_watch = asyncio.create_task(self._stop_at_drain(self._drain))
        elif self._drain_watch is not None and self._drain_watch.done():
            producer.stop(SHUTTING_DOWN)
        return self._local_reading(stream, 0, first=producer)

    async def open(self, stream_id: str, owner: str, after: int) -> Reading | None:
        """A reader of ``owner``'s stream from event ``after`` on; None when no such
        stream of theirs is kept. Raises ``SharedStateUnavailable`` when the stream
        is not here and Redis does not answer."""
        stream = self.local.get(stream_id)
        if stream is not None:
            return self._local_reading(stream, after) if stream.owner == owner else None
        shared = self.shared
        if shared is None or not await shared.owned(stream_id, owner):
            return None
        return Reading(stream_id, shared.follow(stream_id, after), lambda: shared.attach(stream_id))

    async def cancel(self, stream_id: str, owner: str) -> bool:
        """Cancel ``owner``'s stream (on another replica: within ``check_s`` once no
        reader is attached there); False when no such stream of theirs is kept."""
        stream = self.local.get(stream_id)
        if stream is not None:
            producer = self._live.get(stream_id)
            if stream.owner == owner and producer is not None:
                producer.stop(CANCELLED_BY_CLIENT)
            return stream.owner == owner
        if self.shared is None or not await self.shared.owned(stream_id, owner):
            return False
        await self.shared.cancel(stream_id)
        return True

    def _local_reading(
        self, stream: LocalStream, after: int, first: _Producer | None = None
    ) -> Reading:
        @asynccontextmanager
        async def attached() -> AsyncIterator[None]:
            stream.attach()
            try:
                yield
            finally:
                stream.detach()
                self._detached(stream)

        async def unseen() -> None:
            # Its client never learned the stream's id, so no one can resume it.
            if first is not None:
                first.stop(LEFT_EARLY)
                with suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_WAIT_S):
                        await first.finished.wait()

        return Reading(stream.id, stream.follow(after), attached, unseen)

    async def _produce(self, producer: _Producer, payloads: Payloads, held: AsyncExitStack) -> None:
        """Run the chat into the stream. Its terminal event is appended only once the
        run has been recorded and its slot let go: a client that has read ``done``
        may start its next chat at once."""
        producer.started = True
        stream = producer.stream
        try:
            async with held:
                if producer.reason is None:
                    await self._relay(producer, payloads)
        except asyncio.CancelledError:
            if producer.reason is None:
                raise  # not a stop: the loop itself is closing
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        except Exception as exc:
            log_event(logger, "chat stream failed", event="stream_failed", level=logging.ERROR,
                      error=type(exc).__name__)  # fmt: skip
        finally:
            name, data = producer.last or ("error", {
                "code": ErrorCode.CANCELLED.value,
                "message": producer.reason or "the chat stream ended unexpectedly",
            })  # fmt: skip
            self._emit(stream, name, data)
            self._live.pop(stream.id, None)
            producer.finished.set()
        if self.shared is not None and await self.shared.stored(stream.id):
            self.local.forget(stream.id)  # resumes read it from Redis from now on

    async def _relay(self, producer: _Producer, payloads: Payloads) -> None:
        async with aclosing(payloads) as events:
            async for name, data in events:
                if name in TERMINAL:
                    producer.last = (name, data)
                else:
                    self._emit(producer.stream, name, data)

    def _emit(self, stream: LocalStream, name: str, data: dict[str, object]) -> None:
        number = len(stream.events) + 1
        event = StreamEvent(number, name, sse_frame(name, number, data))
        self.local.append(stream.id, event)
        if self.shared is not None:
            self.shared.append(stream.id, event)

    def _detached(self, stream: LocalStream) -> None:
        producer = self._live.get(stream.id)
        if producer is not None and not stream.readers and producer.watcher is None:
            producer.watcher = asyncio.create_task(self._watch(producer))

    async def _watch(self, producer: _Producer) -> None:
        """While no reader is attached here: stop the run once none has been attached
        anywhere for ``grace_s``, or its client has cancelled it elsewhere."""
        stream = producer.stream
        idle_since = time.monotonic()
        try:
            while producer.live and not stream.readers:
                presence = await self._presence(stream.id)
                if presence.cancelled:
                    producer.stop(CANCELLED_BY_CLIENT)
                elif presence.attached:
                    idle_since = time.monotonic()
                left = self.grace_s - (time.monotonic() - idle_since)
                if left <= 0:
                    producer.stop(f"no client was attached for {self.grace_s:g} s")
                elif producer.live:
                    # Without Redis only a reader here can come back: wait for it, not poll.
                    wait = left if self.shared is None else min(left, self._check_s)
                    await stream.wait_attached(wait)
        finally:
            producer.watcher = None

    async def _presence(self, stream_id: str) -> Presence:
        """A reader attached on another replica (none known while Redis is down)."""
        if self.shared is None:
            return Presence(attached=False)
        try:
            return await self.shared.presence(stream_id)
        except SharedStateUnavailable:
            return Presence(attached=False)

    async def _stop_at_drain(self, drain: Drain) -> None:
        await drain.over()
        for producer in list(self._live.values()):
            producer.stop(SHUTTING_DOWN)

    async def aclose(self) -> None:
        """Stop every run, wait (briefly) for their streams' ends, store them, let go."""
        if self._drain_watch is not None:
            self._drain_watch.cancel()
        producers = list(self._live.values())
        for producer in producers:
            producer.stop(SHUTTING_DOWN)
        if producers:
            ends = [asyncio.ensure_future(p.finished.wait()) for p in producers]
            _, late = await asyncio.wait(ends, timeout=CLOSE_WAIT_S)
            for end in late:
                end.cancel()
        if self.shared is not None:
            await self.shared.aclose()
        await self.local.aclose()


def chat_streams(settings: Settings, link: RedisLink | None, drain: Drain) -> ChatStreams:
    """The app's chat streams: on Redis too when there is a link."""
    shared = None
    if link is not None:
        replica = new_stream_id()  # names this process in the streams' metadata
        shared = RedisStreams(link, retention_s=settings.stream_retention_s, replica=replica)
    return ChatStreams(
        retention_s=settings.stream_retention_s,
        grace_s=settings.stream_resume_grace_s,
        shared=shared,
        drain=drain,
    )
