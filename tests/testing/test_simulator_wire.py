"""The simulator's bytes have the shapes of real OpenAI traffic."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from bff.demo.action_plan import ActionPlan
from bff.testing.server import SimulatorServer
from tests.conftest import RECORDED

MESSAGES = [{"role": "user", "content": "Please email Ann by Friday. Fix the build today."}]


def _chunks(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.split("\n\n") if line.strip()]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)
    return [json.loads(line[6:]) for line in lines[:-1]]


def _recorded(name: str) -> list[dict[str, Any]]:
    return _chunks((RECORDED / "stream" / name).read_text())


def _post(sim: SimulatorServer, **body: Any) -> httpx.Response:
    payload = {"model": "gpt-4o-mini", "messages": MESSAGES, **body}
    headers = {"authorization": "Bearer sk-test"}
    return httpx.post(f"{sim.base_url}/chat/completions", json=payload, headers=headers)


def _shape(value: Any) -> Any:
    """Keys in order, recursively; values reduced to their JSON type."""
    if isinstance(value, dict):
        return [(k, _shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def test_text_stream_matches_the_2026_recording(sim: SimulatorServer) -> None:
    response = _post(sim, stream=True, stream_options={"include_usage": True})
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    ours = _chunks(response.text)
    theirs = _recorded("pydantic-ai__text_include_usage_obfuscation.sse")
    # first delta, a content delta, the finish chunk, the usage chunk
    for index in (0, 1, -2, -1):
        assert _shape(ours[index]) == _shape(theirs[index]), index
    assert ours[-1]["choices"] == [] and ours[-1]["usage"]["total_tokens"] > 0
    assert ours[-2]["choices"][0]["finish_reason"] == "stop"
    assert {c["id"] for c in ours} == {ours[0]["id"]}


def test_tool_call_stream_matches_the_recording(sim: SimulatorServer) -> None:
    tool = {
        "type": "function",
        "function": {"name": "ActionPlan", "parameters": ActionPlan.model_json_schema()},
    }
    response = _post(
        sim,
        stream=True,
        stream_options={"include_usage": True},
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "ActionPlan"}},
    )
    ours = _chunks(response.text)
    theirs = _recorded("pydantic-ai__tool_call_single_include_usage_obfuscation.sse")
    for index in (0, 1, -2, -1):
        assert _shape(ours[index]) == _shape(theirs[index]), index
    assert ours[-2]["choices"][0]["finish_reason"] == "tool_calls"
    arguments = "".join(
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in ours[:-2]
    )
    plan = ActionPlan.model_validate_json(arguments)
    assert [a.action_type for a in plan.actions] == ["fix", "email"]


def test_without_include_usage_there_is_no_usage(sim: SimulatorServer) -> None:
    ours = _chunks(_post(sim, stream=True).text)
    assert all("usage" not in chunk for chunk in ours)
    assert ours[-1]["choices"][0]["finish_reason"] == "stop"


def test_refusal_stream_matches_the_recording(sim: SimulatorServer) -> None:
    sim.simulator.add({"fault": "refusal"})
    ours = _chunks(_post(sim, stream=True).text)
    theirs = _recorded("openai-python__refusal.sse")
    assert ours[0]["choices"][0]["delta"] == theirs[0]["choices"][0]["delta"] | {"refusal": ""}
    assert list(ours[1]["choices"][0]["delta"]) == ["refusal"]


def test_non_streamed_completion_matches_the_recording(sim: SimulatorServer) -> None:
    ours = _post(sim).json()
    theirs = json.loads((RECORDED / "nonstream/simonw-llm__text_stop_with_usage.json").read_text())
    assert _shape(ours) == _shape(theirs)


def test_error_envelope_matches_the_recording(sim: SimulatorServer) -> None:
    sim.simulator.add({"status": 429, "retry_after": 20})
    response = _post(sim)
    theirs = json.loads(
        (RECORDED / "errors/dd-trace-py__429_rate_limit_requests_rpm.json").read_text()
    )
    assert response.status_code == 429
    assert _shape(response.json()) == _shape(theirs)
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.headers["retry-after"] == "20"
    assert response.headers["retry-after-ms"] == "20000"
    recorded = json.loads(
        (RECORDED / "errors/dd-trace-py__429_rate_limit_requests_rpm.headers.json").read_text()
    )
    ratelimit = {k for k in recorded["headers"] if k.startswith("x-ratelimit-")}
    assert ratelimit <= set(response.headers)


def test_models_list_through_the_sdk(sim: SimulatorServer) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=sim.base_url, max_retries=0)
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]
    client.close()


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"messages": MESSAGES}, 400, "model"),
        ({"model": "gpt-4o", "messages": []}, 400, "messages"),
    ],
)
def test_invalid_requests_get_openai_errors(
    sim: SimulatorServer, body: dict[str, Any], status: int, param: str
) -> None:
    response = httpx.post(
        f"{sim.base_url}/chat/completions", json=body, headers={"authorization": "Bearer k"}
    )
    assert response.status_code == status
    assert response.json()["error"]["param"] == param


def test_missing_key_is_401(sim: SimulatorServer) -> None:
    response = httpx.post(f"{sim.base_url}/chat/completions", json={})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_max_tokens_truncates_with_length(sim: SimulatorServer) -> None:
    ours = _chunks(_post(sim, stream=True, max_tokens=3).text)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in ours[:-1])
    assert len(text) == 12
    assert ours[-1]["choices"][0]["finish_reason"] == "length"


def test_sdk_reads_the_simulator_stream(sim: SimulatorServer) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=sim.base_url, max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("You asked about")
    client.close()


def test_control_routes_script_and_report(sim: SimulatorServer) -> None:
    script = {"model": "gpt-4o-mini", "steps": [{"status": 503}, {"status": 200}]}
    assert httpx.post(f"{sim.url}/_sim/script", json=script).json() == {"pending": 2}
    assert _post(sim).status_code == 503
    assert _post(sim).status_code == 200
    seen = httpx.get(f"{sim.url}/_sim/requests").json()["requests"]
    assert [(r["status"], r["outcome"]) for r in seen] == [(503, "error"), (200, "completed")]
    bad = httpx.post(f"{sim.url}/_sim/script", json={"steps": [{"fault": "nope"}]})
    assert bad.status_code == 422
    httpx.post(f"{sim.url}/_sim/reset")
    assert httpx.get(f"{sim.url}/_sim/requests").json() == {"requests": []}


def test_steps_for_one_model_do_not_touch_another(sim: SimulatorServer) -> None:
    sim.simulator.add({"status": 500}, model="gpt-4o")
    assert _post(sim).status_code == 200
    assert _post(sim, model="gpt-4o").status_code == 500
