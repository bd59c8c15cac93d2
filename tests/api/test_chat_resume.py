"""Resumable chat streams over real HTTP: a stream id and event ids, a dropped client
resuming with Last-Event-ID (the rest, once, from the one upstream request), owners,
404s, the grace before an unattended run is cancelled, and cancelling a stream."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import redis

from bff.api.chat_streams import ChatStreams
from bff.app import create_app
from bff.config import Settings
from bff.streams import is_stream_id, new_stream_id
from bff.testing.server import ServerThread, SimulatorServer
from tests.api.helpers import Event, read_events, token_text
from tests.conftest import BffFactory
from tests.observe.helpers import Scrape, eventually
from tests.redis_server import RedisServer

MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}
TEXT = " ".join(f"word{i}" for i in range(80))  # about 130 token-sized chunks
A = "key-a-0123456789abcdef"
B = "key-b-0123456789abcdef"
NOT_FOUND = {
    "error": {
        "code": "INPUT_REJECTED",
        "message": "no such chat stream: the id is unknown or has expired",
    }
}


def _resume(url: str, stream_id: str, after: int | None = None, **headers: str) -> httpx.Response:
    if after is not None:
        headers["last-event-id"] = str(after)
    return httpx.get(f"{url}/chat/stream/{stream_id}", headers=headers, timeout=30)


def _dropped_after(url: str, tokens: int, **headers: str) -> tuple[str, list[Event]]:
    """Start a chat, read ``tokens`` events, hang up: the stream id and the events."""
    with httpx.stream(
        "POST", f"{url}/chat/stream", json=MESSAGES, headers=headers, timeout=30
    ) as response:
        assert response.status_code == 200, response.read()
        return response.headers["bff-stream-id"], read_events(response, tokens)


def test_a_stream_has_an_id_and_its_events_increasing_ids(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    response = httpx.post(f"{bff().url}/chat/stream", json=MESSAGES, timeout=30)
    assert is_stream_id(response.headers["bff-stream-id"])
    events = read_events(response)
    assert [number for _, number, _ in events] == list(range(1, len(events) + 1))
    assert events[-1][0] == "done"
    other = httpx.post(f"{bff().url}/chat/stream", json=MESSAGES, timeout=30)
    assert other.headers["bff-stream-id"] != response.headers["bff-stream-id"]


def test_a_dropped_client_resumes_and_gets_the_rest_once(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """The upstream holds after 30 chunks: the client drops after 10 tokens, the run goes
    on to the hold without it, and the resumed client gets tokens 11 to the end, with
    no repeat and no second upstream request."""
    sim.simulator.add({"content": TEXT, "hold_after_chunks": 30})
    url = bff(stream_resume_grace_s=10).url
    stream_id, first = _dropped_after(url, 10)
    assert [number for _, number, _ in first] == list(range(1, 11))
    sim.simulator.wait_until_held()  # the run went on while no client was attached
    with httpx.stream(
        "GET", f"{url}/chat/stream/{stream_id}", headers={"last-event-id": "10"}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["bff-stream-id"] == stream_id
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        lines = response.iter_lines()
        replayed = read_events(lines, 19)  # what the run relayed up to the hold...
        sim.simulator.release()
        rest = replayed + read_events(lines)  # ...then the live stream to its end
    assert [number for _, number, _ in rest] == list(range(11, 11 + len(rest)))
    assert [name for name, _, _ in rest].count("done") == 1 and rest[-1][0] == "done"
    assert token_text(first) + token_text(rest) == TEXT
    (record,) = sim.simulator.wait_until_settled()
    assert record.outcome == "completed"
    # An ended stream replays whole, or from an id given as a query parameter.
    again = httpx.get(f"{url}/chat/stream/{stream_id}?lastEventId=25", timeout=30)
    assert read_events(again) == [event for event in rest if event[1] > 25]
    assert token_text(read_events(_resume(url, stream_id))) == TEXT
    assert len(sim.simulator.requests) == 1


def test_only_the_client_that_started_a_stream_may_resume_or_cancel_it(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(api_keys=[A, B]).url
    response = httpx.post(f"{url}/chat/stream", json=MESSAGES, headers={"x-api-key": A})
    stream_id = response.headers["bff-stream-id"]
    for answer in (
        _resume(url, stream_id, 2, **{"x-api-key": B}),
        httpx.delete(f"{url}/chat/stream/{stream_id}", headers={"x-api-key": B}),
    ):
        assert answer.status_code == 404
        assert answer.json() == NOT_FOUND  # word for word an unknown id's answer
    assert _resume(url, stream_id).status_code == 401  # no credentials
    own = read_events(_resume(url, stream_id, 2, **{"x-api-key": A}))
    assert own == read_events(response)[2:]


@pytest.mark.parametrize(
    "stream_id",
    ["unknown", "x" * 22, "a" * 23, "a" * 21 + "!", "..%2F..%2Fmetrics", "%00" * 22],
)
def test_unknown_and_malformed_ids_are_404(
    bff: BffFactory, sim: SimulatorServer, stream_id: str
) -> None:
    url = bff().url
    if stream_id == "unknown":
        stream_id = new_stream_id()
    for answer in (
        _resume(url, stream_id, 1),
        httpx.delete(f"{url}/chat/stream/{stream_id}", timeout=30),
    ):
        assert answer.status_code == 404, answer.text
        if "%2F" not in stream_id:  # a path with a slash in it is no stream route's
            assert answer.json() == NOT_FOUND


def test_a_malformed_last_event_id_is_400(bff: BffFactory, sim: SimulatorServer) -> None:
    url = bff().url
    stream_id = httpx.post(f"{url}/chat/stream", json=MESSAGES).headers["bff-stream-id"]
    for given in ("-1", "1.5", "ten", "1" * 19, "\uff11"):  # the last: a full-width 1
        answer = httpx.get(f"{url}/chat/stream/{stream_id}", params={"lastEventId": given})
        assert answer.status_code == 400, given
        assert answer.json()["error"]["code"] == "INPUT_REJECTED"


ServeFactory = Callable[..., tuple[str, ChatStreams]]


@pytest.fixture
def served(sim: SimulatorServer) -> Iterator[ServeFactory]:
    """Start the app on loopback with extra settings: its URL, and its chat streams."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> tuple[str, ChatStreams]:
            settings = Settings(
                model="sim/gpt-4o",
                endpoints={"sim": {"base_url": sim.base_url}},
                demo_chunk_delay_s=0,
                **overrides,
            )
            app = create_app(settings)
            server = stack.enter_context(ServerThread(app.state.asgi, settings=settings))
            return server.url, app.state.chat_streams

        yield start


def test_an_expired_stream_is_404(served: ServeFactory) -> None:
    url, streams = served()
    stream_id = httpx.post(f"{url}/chat/stream", json=MESSAGES).headers["bff-stream-id"]
    assert _resume(url, stream_id, 0).status_code == 200
    now = streams.local.clock
    streams.local.clock = lambda: now() + 299  # just inside the retention
    assert _resume(url, stream_id, 0).status_code == 200
    streams.local.clock = lambda: now() + 301
    answer = _resume(url, stream_id, 0)
    assert answer.status_code == 404 and answer.json() == NOT_FOUND


def test_a_run_with_no_client_for_the_grace_is_cancelled(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """The upstream would hold for as long as the test runs: the grace running out with
    no client attached is what closes it. The run settles as a cancelled one."""
    sim.simulator.add({"content": TEXT, "hold_after_chunks": 8})
    url = bff(stream_resume_grace_s=0.5).url
    stream_id, _ = _dropped_after(url, 3)
    dropped = time.monotonic()
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up and record.chunks_sent == 8
    assert record.ended_at is not None and record.ended_at - dropped >= 0.4  # not at once
    eventually(lambda: Scrape(url).value("bff_runs_total", task="chat", outcome="cancelled") == 1)
    assert Scrape(url).value("bff_open_streams", kind="sse") == 0
    rest = read_events(_resume(url, stream_id, 3))
    assert rest[-1] == (
        "error",
        rest[-1][1],
        {"code": "CANCELLED", "message": "no client was attached for 0.5 s"},
    )
    assert [name for name, _, _ in rest[:-1]] == ["token"] * (len(rest) - 1)


def test_a_resumed_client_keeps_the_run_going_past_the_grace(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """Attached again within the grace, the run is not cancelled however long it then
    takes (here: until the test releases the upstream, well past the grace)."""
    sim.simulator.add({"content": TEXT, "hold_after_chunks": 20})
    url = bff(stream_resume_grace_s=0.3).url
    stream_id, first = _dropped_after(url, 2)
    with httpx.stream(
        "GET", f"{url}/chat/stream/{stream_id}", headers={"last-event-id": "2"}, timeout=30
    ) as response:
        lines = response.iter_lines()
        got = read_events(lines, 2)
        sim.simulator.wait_until_held()
        # Nothing is to happen here, so only time can tell: twice the grace, attached.
        time.sleep(0.6)
        assert sim.simulator.requests[0].outcome is None
        sim.simulator.release()
        got += read_events(lines)
    assert token_text(first) + token_text(got) == TEXT and got[-1][0] == "done"


def test_cancelling_a_stream_closes_its_upstream_at_once(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"content": TEXT, "hold_after_chunks": 8})
    url = bff(stream_resume_grace_s=60).url
    stream_id, _ = _dropped_after(url, 2)
    answer = httpx.delete(f"{url}/chat/stream/{stream_id}", timeout=30)
    assert answer.status_code == 204
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up
    rest = read_events(_resume(url, stream_id, 2))
    assert rest[-1][0] == "error" and rest[-1][2] == {
        "code": "CANCELLED",
        "message": "the client cancelled the stream",
    }
    # Cancelling an ended stream changes nothing.
    assert httpx.delete(f"{url}/chat/stream/{stream_id}").status_code == 204
    assert read_events(_resume(url, stream_id, 2)) == rest


def test_with_redis_an_ended_stream_is_read_back_from_redis(
    served: ServeFactory, redis_server: RedisServer
) -> None:
    url, streams = served(redis_url=redis_server.url)
    response = httpx.post(f"{url}/chat/stream", json=MESSAGES, timeout=30)
    stream_id = response.headers["bff-stream-id"]
    events = read_events(response)
    with httpx.stream("GET", f"{url}/chat/stream/{stream_id}", timeout=30) as again:
        assert read_events(again) == events  # from memory, or from Redis once it is stored there
    eventually(lambda: streams.local.get(stream_id) is None)  # its end is stored in Redis
    assert read_events(_resume(url, stream_id, 4)) == events[4:]
    with redis.Redis.from_url(redis_server.url) as client:
        assert client.xlen(f"bff:stream:{stream_id}") == len(events)


def test_with_redis_down_the_local_stream_works_and_nothing_hangs(
    bff: BffFactory, sim: SimulatorServer, redis_server: RedisServer
) -> None:
    """Only resuming on another replica needs Redis: the client gets every token, and
    resumes on this replica; an id this replica does not know is a 503 to retry."""
    url = bff(redis_url=redis_server.url, redis_timeout_s=0.1).url
    redis_server.stop()
    response = httpx.post(f"{url}/chat/stream", json=MESSAGES, timeout=30)
    events = read_events(response)
    assert events[-1][0] == "done" and token_text(events).startswith("You asked about")
    stream_id = response.headers["bff-stream-id"]
    assert read_events(_resume(url, stream_id, 3)) == events[3:]
    answer = _resume(url, new_stream_id(), 3)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
