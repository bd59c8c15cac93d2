"""A large, hostile input is redacted off the event loop: other requests go on."""

from __future__ import annotations

import threading
import time

import httpx

from bff.testing.server import SimulatorServer
from tests.conftest import BffFactory

# About 1 MB of text shaped to cost the recognizers the most per character (every
# number looks like a house number after a German street), in 30 messages of 32,000.
HOSTILE = "Weg 1 " * (32_000 // 6)
BODY = {"messages": [{"role": "user", "content": HOSTILE}] * 30}


def test_a_large_hostile_chat_does_not_hold_the_event_loop(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff()
    outcome: dict[str, float | int] = {}

    def send() -> None:
        started = time.perf_counter()
        response = httpx.post(f"{server.url}/chat/stream", json=BODY, timeout=120)
        outcome["status"], outcome["seconds"] = response.status_code, time.perf_counter() - started

    sender = threading.Thread(target=send)
    sender.start()
    waits = []
    with httpx.Client(base_url=server.url, timeout=120) as client:
        while sender.is_alive():
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            waits.append(time.perf_counter() - started)
    sender.join()
    assert outcome["status"] == 200
    assert outcome["seconds"] > 1.0  # long enough that holding the loop would show
    assert max(waits) < outcome["seconds"] / 4, (max(waits), outcome["seconds"])
