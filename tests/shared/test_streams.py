"""The chat stream stores: in memory, and on a real redis-server (written by one replica's
store, read by another's). Append, replay after an id, follow to the terminal event,
expiry, ownership, presence and cancel marks, and a Redis outage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest
import redis

from bff.shared.link import RedisLink, SharedStateUnavailable
from bff.shared.streams import RedisStreams
from bff.streams import (
    MemoryStreams,
    StreamEvent,
    StreamGone,
    StreamStore,
    is_stream_id,
    new_stream_id,
)
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio

OWNER = "key:0123456789abcdef"


def _event(number: int, name: str = "token") -> StreamEvent:
    return StreamEvent(number, name, f"id: {number}\r\ndata: {name}\r\n\r\n".encode())


def _tokens(first: int, last: int) -> list[StreamEvent]:
    return [_event(n) for n in range(first, last + 1)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pair:
    """The store the producer writes (``writer``) and the one a reader follows
    (``reader``): the same store in memory, two replicas' stores on Redis."""

    writer: StreamStore
    reader: StreamStore


def _redis_store(url: str, **options: float) -> RedisStreams:
    link = RedisLink(url, prefix="t", retry_s=0.05)
    return RedisStreams(link, retention_s=60, replica=new_stream_id(), **options)


async def _close(store: StreamStore) -> None:
    await store.aclose()
    if isinstance(store, RedisStreams):
        await store._link.aclose()


@pytest.fixture(params=["memory", "redis"])
async def pair(request: pytest.FixtureRequest, redis_server: RedisServer) -> AsyncIterator[Pair]:
    if request.param == "memory":
        store = MemoryStreams(retention_s=60)
        yield Pair(store, store)
        return
    fast = {"block_s": 0.2, "flush_s": 0.01, "refresh_s": 0.1}
    found = Pair(_redis_store(redis_server.url, **fast), _redis_store(redis_server.url, **fast))
    try:
        yield found
    finally:
        await _close(found.writer)
        await _close(found.reader)


async def _collect(store: StreamStore, stream_id: str, after: int) -> list[StreamEvent]:
    return [event async for batch in store.follow(stream_id, after) for event in batch]


def test_stream_ids_are_random_and_checked_by_shape() -> None:
    ids = {new_stream_id() for _ in range(100)}
    assert len(ids) == 100 and all(is_stream_id(i) and len(i) == 22 for i in ids)
    for bad in ("", "short", "a" * 23, "a" * 21 + "/", "a" * 21 + ".", "../" + "a" * 19):
        assert not is_stream_id(bad)


async def test_replays_after_an_id_then_follows_to_the_terminal_event(pair: Pair) -> None:
    stream_id = new_stream_id()
    pair.writer.create(stream_id, OWNER)
    for event in _tokens(1, 5):
        pair.writer.append(stream_id, event)
    got: list[StreamEvent] = []
    replayed = anyio.Event()

    async def follow() -> None:
        async for batch in pair.reader.follow(stream_id, 2):
            got.extend(batch)
            if got[-1].number >= 5:
                replayed.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(follow)
            await replayed.wait()  # the kept events first...
            for event in [*_tokens(6, 8), _event(9, "done")]:  # ...then the live ones
                pair.writer.append(stream_id, event)
    assert [e.number for e in got] == list(range(3, 10))  # each once, in order
    assert got == [*_tokens(3, 8), _event(9, "done")]
    with anyio.fail_after(10):
        assert await pair.writer.stored(stream_id)
        # An ended stream replays from anywhere, and from its end gives nothing more.
        assert await _collect(pair.reader, stream_id, 0) == [*_tokens(1, 8), _event(9, "done")]
        assert await _collect(pair.reader, stream_id, 8) == [_event(9, "done")]


async def test_only_the_owner_finds_a_stream(pair: Pair) -> None:
    stream_id = new_stream_id()
    pair.writer.create(stream_id, OWNER)
    pair.writer.append(stream_id, _event(1, "error"))
    with anyio.fail_after(10):
        assert await pair.writer.stored(stream_id)
    assert await pair.reader.owned(stream_id, OWNER)
    assert not await pair.reader.owned(stream_id, "key:fedcba9876543210")
    assert not await pair.reader.owned(new_stream_id(), OWNER)
    with pytest.raises(StreamGone), anyio.fail_after(10):
        await _collect(pair.reader, new_stream_id(), 0)


async def test_presence_and_the_cancel_mark(pair: Pair) -> None:
    stream_id = new_stream_id()
    pair.writer.create(stream_id, OWNER)
    pair.writer.append(stream_id, _event(1, "done"))
    with anyio.fail_after(10):
        assert await pair.writer.stored(stream_id)
        assert await pair.writer.presence(stream_id) == await pair.reader.presence(stream_id)
        assert not (await pair.writer.presence(stream_id)).attached
        async with pair.reader.attach(stream_id):
            assert (await pair.writer.presence(stream_id)).attached
        assert not (await pair.writer.presence(stream_id)).cancelled
        await pair.reader.cancel(stream_id)
        assert (await pair.writer.presence(stream_id)).cancelled
        assert not (await pair.writer.presence(new_stream_id())).cancelled


async def test_memory_streams_expire_after_their_end_and_not_while_live() -> None:
    clock = Clock()
    store = MemoryStreams(retention_s=300, clock=clock)
    live, ended = new_stream_id(), new_stream_id()
    for stream_id in (live, ended):
        store.create(stream_id, OWNER)
        store.append(stream_id, _event(1))
    store.append(ended, _event(2, "done"))
    clock.now += 299.0
    assert await store.owned(ended, OWNER)
    assert await _collect(store, ended, 1) == [_event(2, "done")]
    clock.now += 1.0
    assert not await store.owned(ended, OWNER) and store.get(ended) is None
    with pytest.raises(StreamGone):
        await _collect(store, ended, 0)
    clock.now += 10_000
    assert await store.owned(live, OWNER) and len(store) == 1


async def test_redis_streams_expire_with_the_retention(redis_server: RedisServer) -> None:
    store = _redis_store(redis_server.url, flush_s=0.0)
    reader = _redis_store(redis_server.url)
    stream_id = new_stream_id()
    try:
        store.create(stream_id, OWNER)
        store.append(stream_id, _event(1))
        store.append(stream_id, _event(2, "done"))
        with anyio.fail_after(10):
            assert await store.stored(stream_id)
        keys = {"events": f"t:stream:{stream_id}", "meta": f"t:stream:{stream_id}:meta"}
        with redis.Redis.from_url(redis_server.url) as client:
            for key in keys.values():
                assert 0 < client.pttl(key) <= 60_000
            assert client.hget(keys["meta"], "state") == b"ended"
            assert not client.exists(f"t:stream:{stream_id}:alive")  # ended: no heartbeat
            client.delete(*keys.values())  # what the expiry does, now
        assert not await reader.owned(stream_id, OWNER)
        with pytest.raises(StreamGone), anyio.fail_after(10):
            await _collect(reader, stream_id, 0)
    finally:
        await _close(store)
        await _close(reader)


async def test_a_follower_of_a_stream_whose_replica_stopped_ends(
    redis_server: RedisServer,
) -> None:
    """The writing replica goes away mid-stream (its heartbeat stops): a follower elsewhere
    is not left waiting, and the stream can no longer be found."""
    fast = {"block_s": 0.1, "flush_s": 0.0, "refresh_s": 0.05}
    writer, reader = _redis_store(redis_server.url, **fast), _redis_store(redis_server.url, **fast)
    stream_id = new_stream_id()
    got: list[StreamEvent] = []
    try:
        writer.create(stream_id, OWNER)
        writer.append(stream_id, _event(1))
        with anyio.fail_after(10):
            await _close(writer)  # the replica stops (storing what it has): no terminal
            # event, and no more heartbeats
            with pytest.raises(StreamGone):
                async for batch in reader.follow(stream_id, 0):
                    got.extend(batch)
        assert got == [_event(1)]
        assert not await reader.owned(stream_id, OWNER)
    finally:
        await _close(reader)


async def test_an_outage_never_blocks_the_producer_and_the_writer_catches_up(
    redis_server: RedisServer,
) -> None:
    writer = _redis_store(redis_server.url, flush_s=0.0, retry_s=0.05)
    reader = _redis_store(redis_server.url)
    stream_id = new_stream_id()
    try:
        redis_server.stop()
        # Appending is no Redis call (no await): the producer never waits on Redis.
        writer.create(stream_id, OWNER)
        for event in _tokens(1, 20):
            writer.append(stream_id, event)
        with pytest.raises(SharedStateUnavailable):
            await reader.owned(stream_id, OWNER)
        with pytest.raises(SharedStateUnavailable):
            await _collect(reader, stream_id, 0)
        redis_server.start()
        writer.append(stream_id, _event(21, "done"))
        with anyio.fail_after(10):
            assert await writer.stored(stream_id)  # kept its batch, retried, stored it
        later = _redis_store(redis_server.url)  # a reader whose link has seen no outage
        try:
            assert await later.owned(stream_id, OWNER)
            with anyio.fail_after(10):
                assert await _collect(later, stream_id, 0) == [*_tokens(1, 20), _event(21, "done")]
        finally:
            await _close(later)
    finally:
        await _close(writer)
        await _close(reader)


async def test_a_writer_gives_up_on_a_long_outage(redis_server: RedisServer) -> None:
    writer = _redis_store(redis_server.url, retry_s=0.05, give_up_s=0.2)
    stream_id = new_stream_id()
    try:
        redis_server.stop()
        writer.create(stream_id, OWNER)
        writer.append(stream_id, _event(1, "done"))
        with anyio.fail_after(10):
            assert not await writer.stored(stream_id)
    finally:
        await _close(writer)
