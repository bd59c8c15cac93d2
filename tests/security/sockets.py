"""A graphql-transport-ws client for the security tests: one socket, many operations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol


class Socket:
    """A graphql-transport-ws connection, after connection_ack."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self) -> dict[str, Any]:
        """The next message that is not a ping (pings are answered)."""
        while True:
            with anyio.fail_after(10):
                message: dict[str, Any] = json.loads(await self.ws.recv())
            if message["type"] != "ping":
                return message
            await self.send({"type": "pong"})

    async def subscribe(self, op_id: str, payload: dict[str, Any]) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})

    async def data(self, op_id: str) -> dict[str, Any] | None:
        """The data of the next ``next`` for ``op_id``, or None on its ``complete``."""
        message = await self.recv()
        assert message.get("id") == op_id, message
        if message["type"] == "complete":
            return None
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def results(self, op_id: str) -> list[dict[str, Any]]:
        """The data of each ``next`` for ``op_id`` until its ``complete``."""
        out = []
        while (data := await self.data(op_id)) is not None:
            out.append(data)
        return out


@asynccontextmanager
async def open_socket(url: str, key: str | None = None) -> AsyncIterator[Socket]:
    """A socket to the BFF at ``url`` (http://...), initialised with ``key`` if any."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        socket = Socket(ws)
        init = {"Authorization": f"Bearer {key}"} if key else {}
        await socket.send({"type": "connection_init", "payload": init})
        assert (await socket.recv())["type"] == "connection_ack"
        yield socket
