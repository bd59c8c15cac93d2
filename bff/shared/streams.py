"""Chat streams on Redis, so a client can resume a stream on any replica.

Per stream (``<prefix>:stream:<id>`` and its suffixes), each expiring
``retention_s`` after its last write:

* the events, a Redis Stream whose entry ids are ``0-<event number>`` (so
  ``XREAD`` from ``0-<Last-Event-ID>`` is exactly the events after it);
* ``:meta``, a hash: ``owner``, ``replica`` (who runs it), ``state`` (``live`` or
  ``ended``), ``last`` (the last event number stored), ``cancel`` (its client asked);
* ``:alive``, a key the running replica's writer refreshes every second while the
  stream is live: when it lapses, that replica has stopped, and the stream can no
  longer be followed;
* ``:lease``, a key readers on other replicas refresh every second while attached.

One writer task per stream stores the events behind the producer, in order, a batch
at a time: one Lua script per batch (one round trip) that skips what is already
stored, so a batch that is retried after an outage is never stored twice. The
producer only appends to a list, so the local client never waits on Redis.
Readers elsewhere follow with ``XREAD BLOCK`` (at most ``block_s`` at a time) on
their own connections, whose socket timeout outlasts the block.

Redis unavailable (``SharedStateUnavailable``): the writer keeps its batch and
retries every second, for up to ``give_up_s``; lookups and followers raise, and
the caller answers without Redis (the local stream is unaffected).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis.asyncio as redis

from bff.observe.logs import log_event
from bff.shared.link import RETRY_S, RedisLink, SharedStateUnavailable
from bff.streams import Presence, StreamEvent, StreamGone

logger = logging.getLogger(__name__)

_STORE = """
local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
for i = 6, #ARGV, 3 do
  local number = tonumber(ARGV[i])
  if number > last then
    redis.call('XADD', KEYS[1], '0-' .. number, 'n', ARGV[i + 1], 'f', ARGV[i + 2])
    last = number
  end
end
redis.call('HSET', KEYS[2], 'owner', ARGV[3], 'replica', ARGV[4], 'state', ARGV[5], 'last', last)
redis.call('PEXPIRE', KEYS[2], ARGV[1])
if last > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if ARGV[5] == 'live' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[3])
end
return last
"""
"""KEYS: events, meta, alive. ARGV: retention (ms), alive (ms), owner, replica, state,
then number, name, frame for each event. Returns the last event number stored."""

_LOOKUP = """
local meta = redis.call('HMGET', KEYS[1], 'owner', 'state')
return {meta[1], meta[2], redis.call('EXISTS', KEYS[2])}
"""
"""KEYS: meta, alive. Returns owner, state, whether the running replica is alive."""

_PRESENCE = """
return {redis.call('EXISTS', KEYS[1]), redis.call('HGET', KEYS[2], 'cancel')}
"""
"""KEYS: lease, meta. Returns whether a reader holds the lease, and the cancel mark."""

_CANCEL = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'cancel', '1') end
return 0
"""


@dataclass(eq=False)
class _Writer:
    """What one stream's writer has yet to store."""

    stream_id: str
    owner: str
    pending: list[StreamEvent] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stored: bool = False
    task: asyncio.Task[None] | None = None


class RedisStreams:
    """``StreamStore`` on Redis; see the module docstring."""

    def __init__(
        self,
        link: RedisLink,
        *,
        retention_s: float,
        replica: str,
        block_s: float = 1.0,
        refresh_s: float = 1.0,
        flush_s: float = 0.05,
        give_up_s: float = 30.0,
        retry_s: float = RETRY_S,
    ) -> None:
        self._link = link
        self._retention_ms = int(retention_s * 1000)
        self._replica = replica
        self._block_ms = int(block_s * 1000)
        self._refresh_s = refresh_s
        self._ttl_ms = int(refresh_s * 3000)
        """How long an alive key or a lease outlasts its last refresh."""
        self._flush_s = flush_s
        self._give_up_s = give_up_s
        self._retry_s = retry_s
        self._closing = False
        self._reads = _blocking_client(link, block_s)
        self._writers: dict[str, _Writer] = {}

    def _keys(self, stream_id: str) -> tuple[str, str, str, str]:
        base = self._link.key("stream", stream_id)
        return base, f"{base}:meta", f"{base}:alive", f"{base}:lease"

    def create(self, stream_id: str, owner: str) -> None:
        writer = _Writer(stream_id, owner)
        writer.wake.set()  # the first batch stores the stream's metadata
        writer.task = asyncio.create_task(self._write(writer))
        self._writers[stream_id] = writer

    def append(self, stream_id: str, event: StreamEvent) -> None:
        writer = self._writers.get(stream_id)
        if writer is not None:
            writer.pending.append(event)
            writer.wake.set()

    async def _write(self, writer: _Writer) -> None:
        """Store the writer's events in batches until the terminal one is stored, and
        keep the stream alive meanwhile; give up after ``give_up_s`` of outage."""
        failing_since: float | None = None
        try:
            while not writer.stored and not (self._closing and not writer.pending):
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._refresh_s):
                        await writer.wake.wait()
                writer.wake.clear()
                if writer.pending and not writer.pending[-1].terminal:
                    await asyncio.sleep(self._flush_s)  # let a batch gather
                try:
                    await self._store(writer)
                except SharedStateUnavailable:
                    failing_since = failing_since or time.monotonic()
                    if time.monotonic() - failing_since >= self._give_up_s:
                        log_event(logger, "chat stream not stored", event="stream_lost",
                                  level=logging.WARNING, stream=writer.stream_id)  # fmt: skip
                        return
                    await asyncio.sleep(self._retry_s)
                    writer.wake.set()
                else:
                    failing_since = None
        finally:
            writer.done.set()
            self._writers.pop(writer.stream_id, None)

    async def _store(self, writer: _Writer) -> None:
        """Store the writer's pending events (none: keep the stream alive)."""
        batch = list(writer.pending)
        events, meta, alive, _ = self._keys(writer.stream_id)
        ended = bool(batch) and batch[-1].terminal
        args: list[Any] = [self._retention_ms, self._ttl_ms, writer.owner, self._replica]
        args.append("ended" if ended else "live")
        for event in batch:
            args += [event.number, event.name, event.frame]
        await self._link.run(_STORE, [events, meta, alive], args)
        del writer.pending[: len(batch)]
        writer.stored = ended

    async def stored(self, stream_id: str) -> bool:
        writer = self._writers.get(stream_id)
        if writer is not None:
            await writer.done.wait()
            return writer.stored
        try:  # written already (or never here): Redis says whether its end is stored
            _, meta, _, _ = self._keys(stream_id)
            state = await self._link.call(lambda: self._link.client.hget(meta, "state"))
        except SharedStateUnavailable:
            return False
        return bool(state == b"ended")

    async def owned(self, stream_id: str, owner: str) -> bool:
        found, followable = await self._lookup(stream_id)
        return followable and found == owner

    async def _lookup(self, stream_id: str) -> tuple[str | None, bool]:
        """The stream's owner (None: not kept), and whether it can still be followed:
        it has ended, or the replica running it is alive."""
        _, meta, alive, _ = self._keys(stream_id)
        owner, state, running = await self._link.run(_LOOKUP, [meta, alive], [])
        if owner is None:
            return None, False
        return _text(owner), _text(state) == "ended" or bool(running)

    async def follow(self, stream_id: str, after: int) -> AsyncIterator[list[StreamEvent]]:
        """See ``StreamStore.follow``; a stream whose replica stopped before its end (no
        new events and its alive key lapsed) raises ``StreamGone``."""
        events_key = self._keys(stream_id)[0]
        cursor = max(0, after)
        while True:
            read = partial(self._reads.xread, {events_key: f"0-{cursor}"}, count=1000,
                           block=self._block_ms)  # fmt: skip
            batch = _decode(await self._link.call(read))
            if not batch:
                if not (await self._lookup(stream_id))[1]:
                    raise StreamGone(stream_id)
                continue
            cursor = batch[-1].number
            yield batch
            if batch[-1].terminal:
                return

    def attach(self, stream_id: str) -> AbstractAsyncContextManager[None]:
        return self._leased(self._keys(stream_id)[3])

    @asynccontextmanager
    async def _leased(self, lease: str) -> AsyncIterator[None]:
        async def take() -> None:
            with suppress(SharedStateUnavailable):
                await self._link.call(lambda: self._link.client.set(lease, 1, px=self._ttl_ms))

        async def refresh() -> None:
            while True:
                await asyncio.sleep(self._refresh_s)
                await take()

        await take()
        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def presence(self, stream_id: str) -> Presence:
        _, meta, _, lease = self._keys(stream_id)
        leased, cancel = await self._link.run(_PRESENCE, [lease, meta], [])
        return Presence(attached=bool(leased), cancelled=cancel is not None)

    async def cancel(self, stream_id: str) -> None:
        await self._link.run(_CANCEL, [self._keys(stream_id)[1]], [])

    async def aclose(self, flush_s: float = 1.0) -> None:
        """Give the writers ``flush_s`` to store what they hold, then stop them."""
        self._closing = True
        writers = [w.task for w in self._writers.values() if w.task is not None]
        for writer in self._writers.values():
            writer.wake.set()
        if writers:
            _, still = await asyncio.wait(writers, timeout=flush_s)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        await self._reads.aclose()


def _blocking_client(link: RedisLink, block_s: float) -> redis.Redis:
    """A client for ``XREAD BLOCK`` on its own connections: the link's, with a socket
    timeout that outlasts the block."""
    pool = link.client.connection_pool
    options = dict(pool.connection_kwargs)
    options["socket_timeout"] = (options.get("socket_timeout") or 1.0) + block_s
    reads = redis.ConnectionPool(connection_class=pool.connection_class, **options)
    return redis.Redis.from_pool(reads)  # owns the pool: closing the client closes it


def _decode(reply: Any) -> list[StreamEvent]:
    """The events of one ``XREAD`` reply: ``[[key, [(id, fields), ...]]]``."""
    if not reply:
        return []
    return [
        StreamEvent(int(_text(entry_id).partition("-")[2]), _text(fields[b"n"]), fields[b"f"])
        for entry_id, fields in reply[0][1]
    ]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
