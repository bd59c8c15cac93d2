"""POST /chat/stream over real HTTP, for replies that are not a plain token stream: tool
calls and no text, and one whole ``chat.completion`` answering the stream request."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bff.testing.server import SimulatorServer
from tests.api.helpers import sse_events
from tests.conftest import RECORDED, BffFactory

MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}
TOOL_CALLS = {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Oslo"}'}]}


def _chat(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    response = httpx.post(f"{url}/chat/stream", json=MESSAGES, timeout=30)
    assert response.status_code == 200
    return sse_events(response.text)


def _text(events: list[tuple[str, str, dict[str, Any]]]) -> str:
    return "".join(data["text"] for name, _, data in events if name == "token")


def test_a_reply_of_only_tool_calls_ends_in_an_error(bff: BffFactory, sim: SimulatorServer) -> None:
    sim.simulator.add({**TOOL_CALLS, "repeat": 3})
    events = _chat(bff(max_attempts=3).url)
    assert [name for name, _, _ in events] == ["error"]  # no token, no empty done
    error = events[0][2]
    assert error["code"] == "VALIDATION_FAILED"
    assert (
        error["message"]
        == "the model answered with 1 tool call and no text; chat does not run tools"
    )
    records = sim.simulator.wait_until_settled()
    assert len(records) == 3  # retried like any failure before the first token
    assert all(r.outcome == "completed" for r in records)


def test_parallel_tool_calls_are_counted_in_the_message(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    calls = [{"name": "a", "arguments": "{}"}, {"name": "b", "arguments": "{}"}]
    sim.simulator.add({"tool_calls": calls})
    events = _chat(bff(max_attempts=1).url)
    assert [name for name, _, _ in events] == ["error"]
    assert events[0][2]["message"].startswith("the model answered with 2 tool calls and no text")


def test_after_a_reply_of_tool_calls_the_next_attempt_may_answer(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add(TOOL_CALLS)  # then the demo model's text
    events = _chat(bff().url)
    assert events[-1][0] == "done" and events[-1][2]["attempts"] == 2
    assert _text(events).startswith("You asked about")


def test_a_chat_answered_whole_streams_its_text_then_done(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"unstreamed": True})
    events = _chat(bff().url)
    names = [name for name, _, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"token"}
    assert _text(events).startswith("You asked about") and "lighthouses" in _text(events)
    done = events[-1][2]
    assert (done["attempts"], done["finishReason"]) == (1, "stop")
    assert done["completionTokens"] > 0  # the completion's own usage
    (record,) = sim.simulator.wait_until_settled()
    assert record.stream is True


def test_a_recorded_completion_answering_the_chat(bff: BffFactory, sim: SimulatorServer) -> None:
    path = RECORDED / "nonstream/simonw-llm__text_stop_with_usage.json"
    sim.simulator.add({"body": path.read_text(), "content_type": "application/json"})
    events = _chat(bff().url)
    assert [(name, data) for name, _, data in events[:-1]] == [("token", {"text": "YES"})]
    done = events[-1][2]
    assert (done["promptTokens"], done["completionTokens"]) == (146, 3)


def test_a_json_body_that_is_not_a_completion_ends_the_chat_without_a_retry(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    secret = "sk-upstream-SECRET-do-not-echo"
    body = json.dumps({"object": "list", "data": [secret]})
    sim.simulator.add({"body": body, "content_type": "application/json"})
    events = _chat(bff(max_attempts=3).url)
    assert [name for name, _, _ in events] == ["error"]
    assert events[0][2] == {
        "code": "PROVIDER_UNAVAILABLE",
        "message": "the provider's answer could not be read",
    }
    assert len(sim.simulator.wait_until_settled()) == 1
