"""Per-client limits over real sockets: the request rate, concurrent runs, open
subscriptions, and the flood that one client could once sustain.

Runs that must stay open while a test probes the limits are held by a stalled
simulator step (a few tokens, then silence) and ended by hanging up; the tests
wait on events (the first token, the first progress payload, the simulator's
records) or poll a condition with a deadline, never on a fixed sleep.
"""

from __future__ import annotations

import hashlib
import json
import math
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from bff.testing.script import RequestRecord
from bff.testing.server import ServerThread, SimulatorServer
from tests.api.helpers import sse_events
from tests.conftest import BffFactory
from tests.security.sockets import Socket as BaseSocket
from tests.security.sockets import open_socket

A = "key-a-0123456789abcdef"
B = "key-b-0123456789abcdef"
BIG = "key-big-0123456789abcdef"
TEXT = "Call Bob tomorrow about the invoice."
MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}
HELD = {"fault": "stall", "fault_after_chunks": 3, "stall_s": 30}
"""A run that streams a few tokens, then holds its upstream request open."""

EXTRACT = """
mutation Extract($text: String!) {
  extractActionPlan(text: $text) {
    __typename
    ... on TaskError { code message retryAfterS }
    ... on ActionPlanResult { meta { attempts } }
  }
}"""
WATCH = """
subscription Watch($text: String!) {
  extractActionPlan(text: $text) {
    __typename
    ... on TaskError { code message retryAfterS }
    ... on RunProgress { tokens }
    ... on ActionPlanResult { meta { attempts } }
  }
}"""


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _payload(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["extractActionPlan"]
    return payload


def _mutate(server: ServerThread, key: str) -> httpx.Response:
    """One mutation on a fresh client: a new socket each time."""
    with httpx.Client(timeout=10) as client:
        return client.post(
            f"{server.url}/graphql",
            json={"query": EXTRACT, "variables": {"text": TEXT}},
            headers=_auth(key),
        )


def _chat(server: ServerThread, key: str) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.post(f"{server.url}/chat/stream", json=MESSAGES, headers={"x-api-key": key})


def _served(route: str, response: httpx.Response) -> None:
    """The request ran to its end."""
    if route == "graphql":
        assert _payload(response)["__typename"] == "ActionPlanResult", response.text
    else:
        assert response.status_code == 200, response.text
        assert sse_events(response.text)[-1][0] == "done"


def _retry_after(response: httpx.Response) -> int:
    value = response.headers["retry-after"]
    assert value.isdigit(), value
    return int(value)


def _limited(route: str, response: httpx.Response) -> str:
    """Assert a 429 RATE_LIMITED in the route's own shape; its message."""
    assert response.status_code == 429, response.text
    assert _retry_after(response) >= 1
    body = response.json()
    if route == "graphql":
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED"}
        message: str = error["message"]
    else:
        assert body["error"]["code"] == "RATE_LIMITED"
        message = body["error"]["message"]
    return message


def _task_limited(payload: dict[str, Any]) -> None:
    """A TaskError for a run the client's own limit refused."""
    assert payload["__typename"] == "TaskError", payload
    assert payload["code"] == "RATE_LIMITED"
    assert payload["retryAfterS"] == 1.0


class Socket(BaseSocket):
    """A socket whose operations are WATCH runs of TEXT."""

    async def watch(self, op_id: str) -> None:
        await self.subscribe(op_id, {"query": WATCH, "variables": {"text": TEXT}})

    async def payload(self, op_id: str) -> dict[str, Any] | None:
        """The next payload for ``op_id``, or None on its ``complete``."""
        data = await self.data(op_id)
        return None if data is None else data["extractActionPlan"]

    async def payloads(self, op_id: str) -> list[dict[str, Any]]:
        out = []
        while (payload := await self.payload(op_id)) is not None:
            out.append(payload)
        return out

    async def progressing(self, op_id: str) -> None:
        """Wait until the run streams: its upstream request is open."""
        while True:
            payload = await self.payload(op_id)
            assert payload is not None and payload["__typename"] != "TaskError", payload
            if payload["__typename"] == "RunProgress":
                return


@asynccontextmanager
async def _socket(server: ServerThread, key: str | None = None) -> AsyncIterator[Socket]:
    async with open_socket(server.url, key) as socket:
        yield Socket(socket.ws)


@asynccontextmanager
async def _held_chat(
    http: httpx.AsyncClient, server: ServerThread, key: str
) -> AsyncIterator[None]:
    """A chat whose upstream request is open (its first token arrived) for the block;
    leaving the block hangs up."""
    headers = {"x-api-key": key}
    async with http.stream(
        "POST", f"{server.url}/chat/stream", json=MESSAGES, headers=headers
    ) as response:
        assert response.status_code == 200
        # Keep one line iterator: abandoning it would close the connection early.
        lines = response.aiter_lines()
        try:
            while await anext(lines) != "event: token":
                pass
            yield
        finally:
            await lines.aclose()


async def _settled(sim: SimulatorServer) -> list[RequestRecord]:
    return await anyio.to_thread.run_sync(sim.simulator.wait_until_settled)


async def _eventually(attempt: Callable[[], Any], ready: Callable[[Any], bool]) -> Any:
    """``attempt()`` until ``ready`` says yes (a held run is released just after its
    upstream request closes); at most five seconds."""
    with anyio.fail_after(5):
        while True:
            result = await attempt()
            if ready(result):
                return result
            await anyio.sleep(0.01)


def _max_overlap(records: list[RequestRecord]) -> int:
    edges: list[tuple[float, int]] = []
    for record in records:
        assert record.ended_at is not None, record
        edges += [(record.started_at, 1), (record.ended_at, -1)]
    in_flight = peak = 0
    for _, step in sorted(edges):  # at a tie, an end (-1) sorts before a start
        in_flight += step
        peak = max(peak, in_flight)
    return peak


# -- the request rate ------------------------------------------------------------------

ROUTES: dict[str, Callable[[ServerThread, str], httpx.Response]] = {
    "graphql": _mutate,
    "chat": _chat,
}


@pytest.mark.parametrize("route", ROUTES)
def test_the_rate_refuses_with_429_before_any_upstream_call(
    bff: BffFactory, sim: SimulatorServer, route: str
) -> None:
    server = bff(rate_limit="5/minute", api_keys=[A, B])
    send = ROUTES[route]
    for _ in range(5):
        _served(route, send(server, A))
    assert len(sim.simulator.requests) == 5
    for _ in range(2):  # a new socket each time changes nothing
        response = send(server, A)
        assert _limited(route, response) == "over the rate limit of 5 per 60s"
        assert _retry_after(response) <= 60
    assert len(sim.simulator.requests) == 5
    _served(route, send(server, B))
    assert len(sim.simulator.requests) == 6


def test_graphql_and_chat_share_the_clients_rate(bff: BffFactory, sim: SimulatorServer) -> None:
    server = bff(rate_limit="5/minute", api_keys=[A])
    for _ in range(3):
        _served("graphql", _mutate(server, A))
    for _ in range(2):
        _served("chat", _chat(server, A))
    _limited("graphql", _mutate(server, A))
    _limited("chat", _chat(server, A))
    assert len(sim.simulator.requests) == 5


@pytest.mark.anyio
async def test_each_subscribe_counts_against_the_rate(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff(rate_limit="5/minute", api_keys=[A, B])
    _served("graphql", await anyio.to_thread.run_sync(_mutate, server, A))
    _served("graphql", await anyio.to_thread.run_sync(_mutate, server, A))
    async with _socket(server, A) as socket:
        for op_id in ("1", "2", "3"):
            await socket.watch(op_id)
            assert (await socket.payloads(op_id))[-1]["__typename"] == "ActionPlanResult"
        assert len(sim.simulator.requests) == 5
        await socket.watch("4")
        message = await socket.recv()
        assert message["type"] == "error" and message["id"] == "4", message
        (error,) = message["payload"]
        assert error["message"] == "over the rate limit of 5 per 60s"
        assert error["extensions"]["code"] == "RATE_LIMITED"
        retry_after = error["extensions"]["retryAfter"]
        assert retry_after >= 1 and retry_after == math.ceil(retry_after)
    async with _socket(server, A) as socket:  # a new socket is the same client
        await socket.watch("5")
        message = await socket.recv()
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert len(sim.simulator.requests) == 5
    async with _socket(server, B) as socket:
        await socket.watch("1")
        assert (await socket.payloads("1"))[-1]["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 6


GET_SPELLINGS = {
    "query": lambda ids: "query=" + urllib.parse.quote("{ tasks { name } }"),
    "encoded-query": lambda ids: "%71uery=" + urllib.parse.quote("{ tasks { name } }"),
    "encoded-documentId": lambda ids: "document%49d=" + ids["Tasks"],
    "persisted-extensions": lambda ids: (
        "extensions="
        + urllib.parse.quote(json.dumps({"persistedQuery": {"sha256Hash": ids["Tasks"]}}))
    ),
}


def _get_url(server: ServerThread, spelling: str) -> str:
    operations = httpx.get(f"{server.url}/operations.json", timeout=10).json()
    ids = {name: entry["id"] for name, entry in operations.items()}
    return f"{server.url}/graphql?" + GET_SPELLINGS[spelling](ids)


ACCEPT_JSON = {"accept": "application/json"}


@pytest.mark.parametrize("spelling", GET_SPELLINGS)
def test_every_graphql_get_needs_credentials(bff: BffFactory, spelling: str) -> None:
    server = bff(api_keys=[A])
    url = _get_url(server, spelling)
    response = httpx.get(url, headers=ACCEPT_JSON, timeout=10)
    assert response.status_code == 401, response.text[:200]
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    response = httpx.get(url, headers={**ACCEPT_JSON, **_auth(A)}, timeout=10)
    assert response.status_code == 200, response.text[:200]
    assert response.json()["data"]["tasks"][0]["name"] == "extractActionPlan"


@pytest.mark.parametrize("spelling", GET_SPELLINGS)
def test_every_graphql_get_counts_against_the_rate(bff: BffFactory, spelling: str) -> None:
    server = bff(rate_limit="2/minute", api_keys=[A])
    url = _get_url(server, spelling)
    for _ in range(2):
        response = httpx.get(url, headers={**ACCEPT_JSON, **_auth(A)}, timeout=10)
        assert response.status_code == 200, response.text[:200]
    _limited("graphql", httpx.get(url, headers={**ACCEPT_JSON, **_auth(A)}, timeout=10))


# -- concurrent runs and open subscriptions ------------------------------------------------


@pytest.mark.anyio
async def test_concurrent_runs_are_counted_across_sockets(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff(max_concurrent_runs=2, rate_limit="none", api_keys=[A, B])
    sim.simulator.add(HELD, HELD)  # A's chat and A's subscription stay open

    async def mutate(key: str) -> dict[str, Any]:
        return _payload(await http.post(f"{server.url}/graphql", json=body, headers=_auth(key)))

    body = {"query": EXTRACT, "variables": {"text": TEXT}}
    with anyio.fail_after(20):
        async with httpx.AsyncClient(timeout=10) as http:
            async with _held_chat(http, server, A), _socket(server, A) as socket:
                await socket.watch("held")
                await socket.progressing("held")
                assert len(sim.simulator.requests) == 2
                _task_limited(await mutate(A))
                chat = await http.post(f"{server.url}/chat/stream", json=MESSAGES, headers=_auth(A))
                assert _limited("chat", chat) == "this client already has 2 runs open, its limit"
                assert _retry_after(chat) == 1
                async with _socket(server, A) as third:
                    await third.watch("third")
                    (refused,) = await third.payloads("third")
                    _task_limited(refused)
                assert len(sim.simulator.requests) == 2
                # Another client is served meanwhile.
                assert (await mutate(B))["__typename"] == "ActionPlanResult"
                async with _socket(server, B) as other:
                    await other.watch("b")
                    assert (await other.payloads("b"))[-1]["__typename"] == "ActionPlanResult"
                assert len(sim.simulator.requests) == 4
            # Hung up: A's runs end, and their upstream requests with them.
            held = (await _settled(sim))[:2]
            assert [record.hung_up for record in held] == [True, True]
            served = await _eventually(
                lambda: mutate(A), lambda payload: payload["__typename"] != "TaskError"
            )
            assert served["__typename"] == "ActionPlanResult"
            async with _socket(server, A) as socket:
                await socket.watch("again")
                assert (await socket.payloads("again"))[-1]["__typename"] == "ActionPlanResult"
            assert len(sim.simulator.requests) == 6


@pytest.mark.anyio
async def test_open_subscriptions_are_limited_per_client(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff(max_subscriptions=1, rate_limit="none", api_keys=[A])
    sim.simulator.add(HELD)
    with anyio.fail_after(20):
        async with _socket(server, A) as first:
            await first.watch("held")
            await first.progressing("held")
            async with _socket(server, A) as second:
                await second.watch("second")
                (refused,) = await second.payloads("second")
                _task_limited(refused)
                assert (
                    refused["message"] == "this client already has 1 subscription open, its limit"
                )
            assert len(sim.simulator.requests) == 1
        assert (await _settled(sim))[0].hung_up

        async def watch() -> list[dict[str, Any]]:
            async with _socket(server, A) as socket:
                await socket.watch("again")
                return await socket.payloads("again")

        events = await _eventually(watch, lambda events: events[-1]["__typename"] != "TaskError")
        assert events[-1]["__typename"] == "ActionPlanResult"


@pytest.mark.anyio
async def test_a_flood_never_has_more_runs_upstream_than_the_limit(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff(rate_limit="none", max_concurrent_runs=4)
    sim.simulator.chunk_delay = 0.005  # each answer streams about 70 chunks
    answers: list[httpx.Response] = []
    limits = httpx.Limits(max_connections=15, max_keepalive_connections=15)

    async def sender(http: httpx.AsyncClient) -> None:
        for _ in range(4):
            answers.append(await http.post(f"{server.url}/chat/stream", json=MESSAGES))

    with anyio.fail_after(30):
        async with (
            httpx.AsyncClient(limits=limits, timeout=20) as http,
            anyio.create_task_group() as group,
        ):
            for _ in range(15):
                group.start_soon(sender, http)
        records = await _settled(sim)
    assert len(answers) == 60
    served = [answer for answer in answers if answer.status_code == 200]
    refused = [answer for answer in answers if answer.status_code != 200]
    for answer in served:
        assert sse_events(answer.text)[-1][0] == "done"
    for answer in refused:
        assert _limited("chat", answer) == "this client already has 4 runs open, its limit"
    assert served and refused
    assert len(records) == len(served)
    assert all(record.outcome == "completed" for record in records)
    assert 2 <= _max_overlap(records) <= 4


# -- per-client overrides -------------------------------------------------------------


@pytest.mark.anyio
async def test_per_client_limits_override_the_lower_defaults(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    big = {
        "key_sha256": hashlib.sha256(BIG.encode()).hexdigest(),
        "max_concurrent_runs": 3,
        "rate_limit": "100/minute",
    }
    server = bff(rate_limit="2/minute", max_concurrent_runs=1, api_keys=[A], clients={"big": big})
    sim.simulator.add(HELD, HELD, HELD, HELD)
    url = f"{server.url}/chat/stream"
    with anyio.fail_after(20):
        async with httpx.AsyncClient(timeout=10) as http, AsyncExitStack() as held:
            for _ in range(3):
                await held.enter_async_context(_held_chat(http, server, BIG))
            response = await http.post(url, json=MESSAGES, headers=_auth(BIG))
            assert _limited("chat", response) == "this client already has 3 runs open, its limit"
            # The default client: one run at once, two requests a minute.
            await held.enter_async_context(_held_chat(http, server, A))
            response = await http.post(url, json=MESSAGES, headers=_auth(A))
            assert _limited("chat", response) == "this client already has 1 run open, its limit"
            response = await http.post(url, json=MESSAGES, headers=_auth(A))
            assert _limited("chat", response) == "over the rate limit of 2 per 60s"
            assert len(sim.simulator.requests) == 4
        await _settled(sim)
        # The big client has made 4 requests: 96 more fit in its minute, not 97.
        async with httpx.AsyncClient(timeout=10) as http:
            query = {"query": "{ __typename }"}
            for _ in range(96):
                response = await http.post(f"{server.url}/graphql", json=query, headers=_auth(BIG))
                assert response.status_code == 200, response.text
            response = await http.post(f"{server.url}/graphql", json=query, headers=_auth(BIG))
            assert _limited("graphql", response) == "over the rate limit of 100 per 60s"
