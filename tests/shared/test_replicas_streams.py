"""Two ``bff serve`` processes on one redis-server: a chat stream started on one replica
and resumed on the other, from Redis, without a second upstream request.

The test starts two processes (about two seconds). The upstream is held by the
simulator's gate mid-answer, so the rest of the stream is produced while the client
reads it on the other replica.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bff.testing.server import SimulatorServer
from tests.redis_server import RedisServer
from tests.shared.replicas import replicas

KEY = "replica-key-0123456789"
OTHER = "other-key-0123456789ab"
AUTH = {"authorization": f"Bearer {KEY}"}
MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}
TEXT = " ".join(f"word{i}" for i in range(80))
GRACE_S = 1.0

Event = tuple[str, int, dict[str, Any]]


def _read(lines: Iterator[str], count: int | None = None) -> list[Event]:
    """(name, id, data) of the next ``count`` events (all: to the terminal one)."""
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


def _text(events: list[Event]) -> str:
    return "".join(data["text"] for name, _, data in events if name == "token")


def test_a_stream_started_on_one_replica_is_resumed_on_the_other(
    redis_server: RedisServer, sim: SimulatorServer, tmp_path: Path
) -> None:
    """Dropped after 10 tokens on A, resumed on B with Last-Event-ID: B replays from Redis
    what A relayed meanwhile, then follows A's run live. B's reader keeps A's run going
    past the grace (its lease in Redis), and the client ends with the upstream text,
    once, from one upstream request."""
    sim.simulator.add({"content": TEXT, "hold_after_chunks": 30})
    env = {"BFF_API_KEYS": f"{KEY},{OTHER}", "BFF_STREAM_RESUME_GRACE_S": str(GRACE_S)}
    with replicas(2, redis_server, sim, tmp_path, env=env) as (a, b):
        with httpx.stream(
            "POST", f"{a.url}/chat/stream", json=MESSAGES, headers=AUTH, timeout=30
        ) as response:
            assert response.status_code == 200
            stream_id = response.headers["bff-stream-id"]
            first = _read(response.iter_lines(), 10)
        sim.simulator.wait_until_held()  # A's run went on with no client attached
        resume = f"{b.url}/chat/stream/{stream_id}"
        headers = {**AUTH, "last-event-id": str(first[-1][1])}
        with httpx.stream("GET", resume, headers=headers, timeout=30) as response:
            assert response.status_code == 200, response.read()
            lines = response.iter_lines()
            replayed = _read(lines, 19)  # tokens 11 to 29: A relayed them before the hold
            # Attached on B only: A's run must outlive its grace (nothing is to happen
            # here, so only time can tell).
            time.sleep(2 * GRACE_S + 0.5)
            assert sim.simulator.requests[0].outcome is None
            sim.simulator.release()
            rest = replayed + _read(lines)
        others = {"authorization": f"Bearer {OTHER}", "last-event-id": "0"}
        other = httpx.get(resume, headers=others, timeout=30)
    assert [number for _, number, _ in first] == list(range(1, 11))
    assert [number for _, number, _ in rest] == list(range(11, 11 + len(rest)))
    assert [name for name, _, _ in rest].count("done") == 1 and rest[-1][0] == "done"
    assert _text(first) + _text(rest) == TEXT
    (record,) = sim.simulator.wait_until_settled()
    assert record.outcome == "completed"
    assert other.status_code == 404  # another client's stream is unknown to it, on B too
    assert other.json()["error"]["message"].startswith("no such chat stream")
