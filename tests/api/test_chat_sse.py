"""POST /chat/stream over real HTTP: tokens, then exactly one done or error."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

import anyio
import httpx
import pytest

from bff.testing.server import SimulatorServer
from tests.api.helpers import sse_events
from tests.conftest import BffFactory

MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses and fog."}]}


def _chat(url: str, body: Any = MESSAGES) -> httpx.Response:
    return httpx.post(f"{url}/chat/stream", json=body, timeout=30)


def test_tokens_then_done(bff: BffFactory, sim: SimulatorServer) -> None:
    response = _chat(bff().url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["cache-control"] == "no-cache, no-transform"
    events = sse_events(response.text)
    names = [name for name, _, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"token"}
    assert [int(event_id) for _, event_id, _ in events] == list(range(1, len(events) + 1))
    text = "".join(data["text"] for name, _, data in events if name == "token")
    assert text.startswith("You asked about") and "lighthouses" in text
    done = events[-1][2]
    assert done["model"] == "sim/gpt-4o" and done["attempts"] == 1
    assert done["fallback"] == "NONE" and done["finishReason"] == "stop"
    assert done["completionTokens"] > 0 and done["promptTokens"] > 0
    (record,) = sim.simulator.requests
    assert "response_format" not in record.body and record.body["stream"] is True


def test_failures_before_the_first_token_are_retried(bff: BffFactory, sim: SimulatorServer) -> None:
    sim.simulator.add({"status": 429}, {"status": 503}, model="gpt-4o")
    events = sse_events(_chat(bff().url).text)
    assert events[-1][0] == "done" and events[-1][2]["attempts"] == 3


def test_fallback_route_before_the_first_token(bff: BffFactory, sim: SimulatorServer) -> None:
    sim.simulator.add({"status": 404, "error_message": "gone"}, model="gpt-4o")
    events = sse_events(_chat(bff(fallback_models=["sim/gpt-4o-mini"]).url).text)
    done = events[-1][2]
    assert (done["model"], done["fallback"], done["attempts"]) == ("sim/gpt-4o-mini", "MODEL", 2)


def test_a_break_after_the_first_token_ends_in_error(bff: BffFactory, sim: SimulatorServer) -> None:
    sim.simulator.add({"fault": "drop", "fault_after_chunks": 5})
    events = sse_events(_chat(bff().url).text)
    names = [name for name, _, _ in events]
    assert names[-1] == "error" and "done" not in names and names.count("error") == 1
    assert names[:-1] and set(names[:-1]) == {"token"}
    error = events[-1][2]
    assert error["code"] == "PROVIDER_UNAVAILABLE"
    assert error["message"].startswith("the stream broke after")
    assert len(sim.simulator.requests) == 1  # never restarted: no repeated text


def test_errors_when_every_attempt_fails(bff: BffFactory, sim: SimulatorServer) -> None:
    sim.simulator.add({"status": 429, "repeat": 3})
    events = sse_events(_chat(bff().url).text)
    assert [name for name, _, _ in events] == ["error"]
    assert events[0][2]["code"] == "RATE_LIMITED"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": []}, "at least 1 item"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content: Field required"),
        ({"prompt": "hi"}, "messages: Field required"),
        ("not an object", "Input should be an object"),
    ],
)
def test_bad_bodies_get_400(bff: BffFactory, body: Any, fragment: str) -> None:
    response = _chat(bff().url, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "INPUT_REJECTED" and fragment in error["message"]


def test_not_json_gets_400(bff: BffFactory) -> None:
    response = httpx.post(
        f"{bff().url}/chat/stream", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "Invalid JSON" in response.json()["error"]["message"]


def test_disconnect_closes_the_upstream(bff: BffFactory, sim: SimulatorServer) -> None:
    """The upstream stops after a few chunks and would wait there for as long as the test
    runs: only the BFF closing it, because its client left, ends it (at once: the
    ``bff`` fixture gives no grace for resuming; see test_chat_resume.py for one)."""
    sim.simulator.add({"hold_after_chunks": 4})
    server = bff()
    with httpx.stream("POST", f"{server.url}/chat/stream", json=MESSAGES, timeout=30) as response:
        for line in response.iter_lines():
            if line.startswith("event: token"):
                break
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up and record.chunks_sent == 4 < record.chunks_total


def test_keep_alive_pings(bff: BffFactory, sim: SimulatorServer) -> None:
    """While the upstream says nothing, pings keep the stream open; the answer still
    comes after them. The upstream waits until the test has seen two pings."""
    sim.simulator.add({"hold_after_chunks": 0})
    url = bff(sse_ping_s=0.05).url
    text = ""
    with httpx.stream("POST", f"{url}/chat/stream", json=MESSAGES, timeout=30) as response:
        for chunk in response.iter_text():
            text += chunk
            if text.count(": ping") >= 2 and "event:" not in text:
                sim.simulator.release()  # two pings before any event: let the answer come
    assert text.count(": ping") >= 2
    assert sse_events(text)[-1][0] == "done"


@pytest.mark.anyio
async def test_a_client_gone_before_its_stream_starts_gives_its_run_slot_back() -> None:
    """With one run allowed, a chat whose client leaves while its response headers are
    still being written (so the event stream never starts) must not keep the slot: the
    next chat is served, not refused."""
    from bff.app import create_app
    from bff.config import Settings

    app = create_app(Settings(max_concurrent_runs=1, demo_chunk_delay_s=0)).state.asgi
    body = json.dumps(MESSAGES).encode()

    async def chat(leave_at_once: bool) -> int:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            if not leave_at_once:
                await anyio.sleep_forever()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if leave_at_once:
                    await anyio.sleep(0.05)  # a slow write: the disconnect is heard first
            if message["type"] == "http.response.body" and not message.get("more_body"):
                raise _Sent

        scope = {
            "type": "http", "method": "POST", "path": "/chat/stream", "raw_path": b"/chat/stream",
            "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        with anyio.fail_after(10), suppress(_Sent):
            await app(scope, receive, send)
        return status

    await chat(leave_at_once=True)
    assert await chat(leave_at_once=False) == 200


class _Sent(Exception):
    pass


def test_no_cancel_scope_is_opened_per_token(
    bff: BffFactory, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay's cost per token: a 100-chunk reply opens no more timeout scopes than a
    2-chunk one (sse-starlette would open one around every send)."""
    server = bff()
    opened: list[float | None] = []
    real = anyio.move_on_after

    def counting(delay: float | None, shield: bool = False) -> anyio.CancelScope:
        opened.append(delay)
        return real(delay, shield=shield)

    monkeypatch.setattr(anyio, "move_on_after", counting)
    counts = []
    for words in (1, 50):
        sim.simulator.add({"content": " ".join(["fog"] * words)})
        opened.clear()
        events = sse_events(httpx.post(f"{server.url}/chat/stream", json=MESSAGES).text)
        assert events[-1][0] == "done" and len(events) > words
        counts.append(len(opened))
    assert counts[1] == counts[0], counts
