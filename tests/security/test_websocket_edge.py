"""The WebSocket edge as an attacker tries it: pages on other origins, malformed
``connection_init`` and ``subscribe`` messages, oversized credentials."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from bff.testing.server import SimulatorServer
from tests.api.helpers import operation
from tests.conftest import BffFactory
from tests.security.sockets import open_socket

PROTOCOL = [Subprotocol("graphql-transport-ws")]
KEY = "ws-key-0123456789abcdef"
WATCH = {"query": operation("WatchActionPlan"), "variables": {"text": "Call Bob today."}}


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/graphql"


@pytest.mark.anyio
async def test_a_page_on_another_origin_cannot_open_a_socket(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """Cross-site WebSocket hijacking: a foreign page is refused at the handshake; an
    origin listed in BFF_CORS_ORIGINS is let in, as the same origin always is."""
    server = bff(cors_origins=["https://app.example"])
    with anyio.fail_after(10):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(_ws(server.url), subprotocols=PROTOCOL,
                               origin=Origin("https://evil.example")):  # fmt: skip
                pass  # pragma: no cover - the handshake is refused
        assert refused.value.response.status_code == 403
        for origin in ("https://app.example", server.url):
            async with connect(_ws(server.url), subprotocols=PROTOCOL, origin=Origin(origin)) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
    assert sim.simulator.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("payload", [[], "Bearer x", 5])
async def test_an_init_payload_that_is_not_an_object_closes_the_socket(
    bff: BffFactory, sim: SimulatorServer, payload: Any
) -> None:
    server = bff(api_keys=[KEY])
    with anyio.fail_after(10):
        async with connect(_ws(server.url), subprotocols=PROTOCOL) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": WATCH}))
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.recv()
            assert ws.close_code in (4400, 4401)
    assert sim.simulator.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "payload",
    [None, [], "query", {"query": 5}, {"variables": [1]}, {"query": "{ health { status } }",
     "variables": "x"}],
)  # fmt: skip
async def test_a_malformed_subscribe_is_refused_and_runs_nothing(
    bff: BffFactory, sim: SimulatorServer, payload: Any
) -> None:
    server = bff()
    with anyio.fail_after(10):
        async with open_socket(server.url) as socket:
            await socket.send({"id": "1", "type": "subscribe", "payload": payload})
            try:
                message = await socket.recv()
            except ConnectionClosed:
                assert socket.ws.close_code == 4400
            else:
                assert message["type"] == "error" and message["id"] == "1", message
                assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert sim.simulator.requests == []


def test_an_oversized_credential_is_refused_and_not_echoed(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff(api_keys=[KEY])
    huge = "k" * 10_000  # past the 8 KiB a credential may have, within a header's limit
    for headers in ({"authorization": f"Bearer {huge}"}, {"x-api-key": huge}):
        response = httpx.post(
            f"{server.url}/graphql", json={"query": "{ health { status } }"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "the credential is too long"
        assert huge[:100] not in response.text
    assert sim.simulator.requests == []
