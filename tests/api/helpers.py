"""Real clients for the API edge: GraphQL over HTTP, graphql-transport-ws, SSE."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bff.api.operations import load_operations
from graphql import FragmentDefinitionNode, parse

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
_LOADED = load_operations(OPERATIONS)


def operation(name: str) -> str:
    """An operation from graphql/operations/, with the fragments it spreads."""
    return _LOADED[name].document


def mutate(
    url: str, name: str, *, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": operation(name), "variables": variables},
        headers={"accept": "application/graphql-response+json", **(headers or {})},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


class Subscription:
    """One graphql-transport-ws connection carrying one subscription."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def start(self, query: str, variables: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await self.ws.recv())
        assert ack["type"] == "connection_ack", ack
        payload = {"query": query, "variables": variables}
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

    async def next(self) -> dict[str, Any]:
        """The next message's data, or {} on complete."""
        while True:
            message = json.loads(await self.ws.recv())
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message["type"] == "complete":
                return {}
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            data: dict[str, Any] = message["payload"]["data"]
            return data

    async def all(self) -> list[dict[str, Any]]:
        events = []
        while event := await self.next():
            events.append(event)
        return events

    async def stop(self) -> None:
        await self.ws.send(json.dumps({"id": "1", "type": "complete"}))


@asynccontextmanager
async def subscription(url: str, name: str, **variables: Any) -> AsyncIterator[Subscription]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        sub = Subscription(ws)
        await sub.start(operation(name), variables)
        yield sub


def sse_events(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(event, id, data) for each event of an SSE body; comments (pings) skipped."""
    out = []
    for block in re.split(r"\r?\n\r?\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
        if "data" in fields:
            out.append(
                (fields.get("event", "message"), fields.get("id", ""), json.loads(fields["data"]))
            )
    return out


def fragment_names() -> list[str]:
    document = parse((OPERATIONS / "fragments.graphql").read_text())
    return sorted(
        d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    )


Event = tuple[str, int, dict[str, Any]]


def read_events(response: httpx.Response | Iterator[str], count: int | None = None) -> list[Event]:
    """(name, id, data) of the events of an SSE response (or of its line iterator, to
    read on later): ``count`` of them, or all of them up to the terminal one (or the end
    of the body)."""
    lines = response.iter_lines() if isinstance(response, httpx.Response) else response
    events: list[Event] = []
    fields: dict[str, str] = {}
    for line in lines:
        if line == "" and "data" in fields:
            events.append((fields["event"], int(fields["id"]), json.loads(fields["data"])))
            if len(events) == count or events[-1][0] in ("done", "error"):
                break
            fields = {}
        elif line and not line.startswith(":"):
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
    return events


def token_text(events: list[Event]) -> str:
    """The text of the ``token`` events."""
    return "".join(data["text"] for name, _, data in events if name == "token")
