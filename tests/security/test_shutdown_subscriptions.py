"""SIGTERM while GraphQL subscriptions are open, against a real ``bff serve``: a run
that can finish in the drain window completes; one that cannot ends with a typed
CANCELLED payload and ``complete`` before the socket closes; none just drops.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bff.testing.server import SimulatorServer, free_port
from tests.api.helpers import operation
from tests.processes import BFF, clean_env, running

SLOW = {"chunk_delay_s": 0.1}  # about six seconds of output: past the drain window
FAST = {"chunk_delay_s": 0.012}  # under a second: inside the 1.5 s drain window
SHUTDOWN_TIMEOUT_S = 3

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@contextmanager
def serving(sim: SimulatorServer, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    config = tmp_path / "bff.toml"
    config.write_text(
        f'model = "sim/gpt-4o"\nshutdown_timeout_s = {SHUTDOWN_TIMEOUT_S}\n'
        'max_concurrent_runs = 50\nmax_subscriptions = 50\nrate_limit = "none"\n'
        f'[endpoints.sim]\nbase_url = "{sim.base_url}"\n'
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [*BFF, "serve", "--port", str(port), "--config", str(config)]
    with running(argv, ready_url=f"{url}/healthz", env=clean_env()) as process:
        yield url, process


class Watcher:
    """One graphql-transport-ws connection running WatchActionPlan; keeps every message
    it receives, in order, and how the socket closed."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.running = anyio.Event()
        self.closed_code: int | None = None

    async def start(self) -> None:
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await self.ws.recv())["type"] == "connection_ack"
        payload = {"query": operation("WatchActionPlan"), "variables": {"text": "Call Bob."}}
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

    async def read_until_closed(self) -> None:
        try:
            while True:
                message = json.loads(await self.ws.recv())
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                self.messages.append(message)
                if self._typename(message) == "RunProgress":
                    self.running.set()  # the upstream is streaming
        except ConnectionClosed as exc:
            self.closed_code = exc.rcvd.code if exc.rcvd is not None else None

    @staticmethod
    def _typename(message: dict[str, Any]) -> str | None:
        if message.get("type") != "next":
            return None
        data = message["payload"].get("data") or {}
        event = data.get("extractActionPlan") or {}
        typename: str | None = event.get("__typename")
        return typename

    def ending(self) -> tuple[list[str], dict[str, Any]]:
        """The type of the last two messages, and the last payload's event."""
        types = [m["type"] for m in self.messages[-2:]]
        last_next = [m for m in self.messages if m["type"] == "next"][-1]
        assert "errors" not in last_next["payload"], last_next
        event: dict[str, Any] = last_next["payload"]["data"]["extractActionPlan"]
        return types, event


async def _sigterm_while_watching(
    url: str, process: subprocess.Popen[str], count: int
) -> tuple[list[Watcher], float, float]:
    """Open ``count`` subscriptions, SIGTERM the server once each is streaming, read
    every message until each socket closes; returns the watchers, when the signal was
    sent and the seconds from it to the process's exit."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    watchers: list[Watcher] = []
    async with anyio.create_task_group() as group:
        for _ in range(count):
            ws = await connect(
                ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], proxy=None
            )
            watcher = Watcher(ws)
            await watcher.start()
            watchers.append(watcher)
            group.start_soon(watcher.read_until_closed)
        for watcher in watchers:
            await watcher.running.wait()
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
    await anyio.to_thread.run_sync(process.wait, 15)
    exited = time.monotonic() - signalled
    for watcher in watchers:
        await watcher.ws.close()
    return watchers, signalled, exited


async def test_a_slow_subscription_ends_cancelled_then_complete(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    sim.simulator.add(SLOW)
    with anyio.fail_after(30), serving(sim, tmp_path) as (url, process):
        (watcher,), _, exited = await _sigterm_while_watching(url, process, 1)
    types, event = watcher.ending()
    assert types == ["next", "complete"], watcher.messages[-3:]
    assert event["__typename"] == "TaskError" and event["code"] == "CANCELLED", event
    assert watcher.closed_code is not None  # the server closed the socket, after `complete`
    assert exited < 6
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up and record.chunks_sent < record.chunks_total


async def test_a_fast_subscription_completes_normally(sim: SimulatorServer, tmp_path: Path) -> None:
    sim.simulator.add(FAST)
    with anyio.fail_after(30), serving(sim, tmp_path) as (url, process):
        (watcher,), signalled, exited = await _sigterm_while_watching(url, process, 1)
    types, event = watcher.ending()
    assert types == ["next", "complete"], watcher.messages[-3:]
    assert event["__typename"] == "ActionPlanResult", event
    assert event["plan"]["actions"] and event["meta"]["attempts"] == 1
    assert exited < 6
    (record,) = sim.simulator.wait_until_settled()
    assert record.outcome == "completed"
    assert record.ended_at is not None and record.ended_at > signalled  # open at SIGTERM
    assert watcher.closed_code is not None


async def test_every_open_subscription_gets_its_terminal_payload(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    sim.simulator.add({**SLOW, "repeat": 3}, {**FAST, "repeat": 2})
    with anyio.fail_after(30), serving(sim, tmp_path) as (url, process):
        watchers, signalled, exited = await _sigterm_while_watching(url, process, 5)
    endings: Counter[str] = Counter()
    for watcher in watchers:
        types, event = watcher.ending()
        assert types == ["next", "complete"], watcher.messages[-3:]
        endings[event.get("code") or event["__typename"]] += 1
    assert endings == {"CANCELLED": 3, "ActionPlanResult": 2}
    assert exited < 6
    records = sim.simulator.wait_until_settled()
    assert sorted(r.outcome or "" for r in records) == ["completed"] * 2 + ["hung_up"] * 3
    assert all(r.ended_at is not None and r.ended_at > signalled for r in records)
    assert all(watcher.closed_code is not None for watcher in watchers)
