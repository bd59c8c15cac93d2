"""Two ``bff serve`` processes on one redis-server: a chat stream started on one replica
and resumed on the other, from Redis, without a second upstream request.

The test starts two processes (about two seconds). The upstream is held by the
simulator's gate mid-answer, so the rest of the stream is produced while the client
reads it on the other replica.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bff.testing.server import SimulatorServer
from tests.api.helpers import read_events, token_text
from tests.redis_server import RedisServer
from tests.shared.replicas import replicas

KEY = "replica-key-0123456789"
OTHER = "other-key-0123456789ab"
AUTH = {"authorization": f"Bearer {KEY}"}
MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}
TEXT = " ".join(f"word{i}" for i in range(80))
GRACE_S = 1.0


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
            first = read_events(response.iter_lines(), 10)
        sim.simulator.wait_until_held()  # A's run went on with no client attached
        resume = f"{b.url}/chat/stream/{stream_id}"
        headers = {**AUTH, "last-event-id": str(first[-1][1])}
        with httpx.stream("GET", resume, headers=headers, timeout=30) as response:
            assert response.status_code == 200, response.read()
            lines = response.iter_lines()
            replayed = read_events(lines, 19)  # tokens 11 to 29: A relayed them before the hold
            # Attached on B only: A's run must outlive its grace (nothing is to happen
            # here, so only time can tell).
            time.sleep(2 * GRACE_S + 0.5)
            assert sim.simulator.requests[0].outcome is None
            sim.simulator.release()
            rest = replayed + read_events(lines)
        others = {"authorization": f"Bearer {OTHER}", "last-event-id": "0"}
        other = httpx.get(resume, headers=others, timeout=30)
    assert [number for _, number, _ in first] == list(range(1, 11))
    assert [number for _, number, _ in rest] == list(range(11, 11 + len(rest)))
    assert [name for name, _, _ in rest].count("done") == 1 and rest[-1][0] == "done"
    assert token_text(first) + token_text(rest) == TEXT
    (record,) = sim.simulator.wait_until_settled()
    assert record.outcome == "completed"
    assert other.status_code == 404  # another client's stream is unknown to it, on B too
    assert other.json()["error"]["message"].startswith("no such chat stream")
