"""Model output is untrusted input: hostile strings pass through as inert data."""

from __future__ import annotations

import json

import httpx

from bff.testing.server import SimulatorServer
from tests.api.helpers import mutate, sse_events
from tests.conftest import BffFactory

HOSTILE = [
    "<script>alert(1)</script>",
    "'; DROP TABLE users; --",
    "{{7*7}}",
    "$(rm -rf /)",
    "<img src=x onerror=alert(1)>",
    "${jndi:ldap://x}",
    "%s%s%n",
    "\\u0000 and \\n",
]


def test_hostile_strings_are_data_in_graphql(bff: BffFactory, sim: SimulatorServer) -> None:
    actions = [{"action_type": "call", "priority": 1, "summary": text} for text in HOSTILE]
    sim.simulator.add({"content": json.dumps({"actions": actions})})
    payload = mutate(bff().url, "ExtractActionPlan", text="anything")["extractActionPlan"]
    assert payload["__typename"] == "ActionPlanResult"
    assert [a["summary"] for a in payload["plan"]["actions"]] == HOSTILE


def test_hostile_strings_are_data_in_chat(bff: BffFactory, sim: SimulatorServer) -> None:
    text = " ".join(HOSTILE)
    sim.simulator.add({"content": text})
    response = httpx.post(
        f"{bff().url}/chat/stream",
        json={"messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    events = sse_events(response.text)
    assert "".join(data["text"] for name, _, data in events if name == "token") == text
    assert events[-1][0] == "done"
