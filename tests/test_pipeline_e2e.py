"""The pipeline end to end: the openai provider, the real SDK, the simulator on loopback."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bff.config import Settings
from bff.demo.action_plan import ActionPlan
from bff.demo.tasks import EXTRACT_ACTION_PLAN, SUMMARIZE_TICKET, TextInput
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.run import (
    Completed,
    ErrorCode,
    Failed,
    Fallback,
    FallingBack,
    Progress,
    Retrying,
    RunEvent,
    Started,
)
from bff.tasks import Task
from bff.testing.script import RequestRecord
from bff.testing.server import SimulatorServer

pytestmark = pytest.mark.anyio
TEXT = TextInput(text="Please call Bob today. Review the Q3 budget next week. Buy milk.")
GOOD = ActionPlan.model_validate(
    {"actions": [{"action_type": "call", "priority": 1, "summary": "Call Bob today"}]}
)


async def _events(pipeline: Pipeline, task: Task[Any, Any] = EXTRACT_ACTION_PLAN) -> list[RunEvent]:
    return [event async for event in pipeline.run(task, TEXT)]


def _mode(mode: str) -> Task[Any, Any]:
    return replace(EXTRACT_ACTION_PLAN, output_mode=mode)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["json_schema", "json_object", "tools"])
async def test_success_in_each_mode(sim: SimulatorServer, pipeline: Pipeline, mode: str) -> None:
    events = await _events(pipeline, _mode(mode))
    assert isinstance(events[0], Started)
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.output == EXTRACT_ACTION_PLAN.safe_response(TEXT)  # type: ignore[misc]
    assert [a.action_type for a in final.output.actions] == ["call", "buy", "review"]  # type: ignore[attr-defined]
    assert final.meta.attempts == 1 and final.meta.fallback == Fallback.NONE
    assert final.meta.route == "sim/gpt-4o"
    assert final.meta.prompt_tokens > 0 and final.meta.completion_tokens > 0
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].items_validated == 3
    (record,) = sim.simulator.wait_until_settled()
    assert record.outcome == "completed"
    body = record.body
    assert body["max_tokens"] == EXTRACT_ACTION_PLAN.max_tokens
    if mode == "json_object":
        assert body["response_format"] == {"type": "json_object"}
        assert "JSON schema" in body["messages"][0]["content"]
    elif mode == "tools":
        assert body["tool_choice"]["function"]["name"] == "ActionPlan"


async def test_json_object_tolerates_fence_and_preamble(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    content = "Here you go:\n```json\n" + GOOD.model_dump_json() + "\n```"
    sim.simulator.add({"content": content})
    final = (await _events(pipeline, _mode("json_object")))[-1]
    assert isinstance(final, Completed) and final.output == GOOD


async def test_malformed_then_success_reasks_with_the_errors(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    sim.simulator.add({"fault": "malformed"})
    events = await _events(pipeline)
    retrying = [e for e in events if isinstance(e, Retrying)]
    assert [(r.attempt, r.reason) for r in retrying] == [(2, "malformed")]
    final = events[-1]
    assert isinstance(final, Completed) and final.meta.attempts == 2
    assert [e.kind for e in final.meta.errors] == ["malformed"]
    first, second = sim.simulator.requests
    assert len(second.body["messages"]) == len(first.body["messages"]) + 2
    previous, complaint = second.body["messages"][-2:]
    assert previous["role"] == "assistant" and previous["content"].endswith(",}")
    assert complaint["role"] == "user" and "invalid JSON" in complaint["content"]


async def test_violation_mid_stream_hangs_up_then_reasks(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    items = [
        {"action_type": "call", "priority": 1, "summary": "Call Bob"},
        {"action_type": "email", "priority": 9, "summary": "Email Ann"},
        {"action_type": "buy", "priority": 2, "summary": "Buy milk " * 20},
    ]
    # Held before its finish: only the pipeline hanging up can end the stream.
    sim.simulator.add({"content": json.dumps({"actions": items}), "hold_after_chunks": -3})
    events = await _events(pipeline)
    final = events[-1]
    assert isinstance(final, Completed) and final.meta.attempts == 2
    (error,) = final.meta.errors
    assert error.kind == "schema_violation"
    assert error.message == "actions[1].priority: 9 is more than the maximum 5"
    first, second = sim.simulator.wait_until_settled()
    assert first.hung_up and first.chunks_sent < first.chunks_total
    assert second.outcome == "completed"
    assert (
        "actions[1].priority: 9 is more than the maximum 5"
        in second.body["messages"][-1]["content"]
    )


async def test_tools_mode_reask_uses_a_tool_message(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    sim.simulator.add({"fault": "schema_violation"})
    final = (await _events(pipeline, _mode("tools")))[-1]
    assert isinstance(final, Completed) and final.meta.attempts == 2
    second = sim.simulator.requests[1].body["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["tool_calls"][0]["id"]
    assert second[-1]["role"] == "tool"
    assert second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]
    assert "unknown key 'unexpected_field'" in second[-1]["content"]


async def test_three_failures_then_the_next_model(sim: SimulatorServer, pipeline: Pipeline) -> None:
    sim.simulator.add({"status": 503, "repeat": 3}, model="gpt-4o")
    events = await _events(pipeline)
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.meta.fallback == Fallback.MODEL and final.meta.route == "sim/gpt-4o-mini"
    assert final.meta.attempts == 4
    hops = [e for e in events if isinstance(e, FallingBack)]
    assert [(h.from_route, h.to_route) for h in hops] == [("sim/gpt-4o", "sim/gpt-4o-mini")]
    assert [r.model for r in sim.simulator.requests] == ["gpt-4o"] * 3 + ["gpt-4o-mini"]


async def test_every_model_fails_then_the_safe_response(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    sim.simulator.add({"fault": "malformed", "repeat": 6})
    events = await _events(pipeline)
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.meta.fallback == Fallback.SAFE_RESPONSE
    assert final.meta.route == "safe-response" and final.meta.attempts == 6
    assert final.output == EXTRACT_ACTION_PLAN.safe_response(TEXT)  # type: ignore[misc]
    assert len(sim.simulator.requests) == 6


async def test_without_a_safe_response_the_run_fails(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    sim.simulator.add({"fault": "length", "repeat": 6})
    task = replace(EXTRACT_ACTION_PLAN, safe_response=None)
    final = (await _events(pipeline, task))[-1]
    assert isinstance(final, Failed)
    assert final.code == ErrorCode.VALIDATION_FAILED
    assert "max_tokens" in final.message
    assert final.meta.attempts == 6


async def test_client_errors_are_not_retried(sim: SimulatorServer, pipeline: Pipeline) -> None:
    sim.simulator.add({"status": 401}, model="gpt-4o")
    sim.simulator.add({"status": 404, "error_message": "no such model"}, model="gpt-4o-mini")
    task = replace(SUMMARIZE_TICKET, safe_response=None)
    final = (await _events(pipeline, task))[-1]
    assert isinstance(final, Failed)
    # The provider's text stays in the server log; the run says what happened.
    assert final.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert final.message == "the provider refused the request (HTTP 404)"
    assert final.meta.attempts == 2 and [e.kind for e in final.meta.errors] == ["client_error"] * 2


@pytest.mark.parametrize(
    ("step", "code"),
    [
        ({"fault": "refusal"}, ErrorCode.REFUSED),
        ({"fault": "content_filter"}, ErrorCode.REFUSED),
        ({"status": 429}, ErrorCode.RATE_LIMITED),
        ({"status": 500}, ErrorCode.PROVIDER_UNAVAILABLE),
    ],
)
async def test_failure_codes(
    sim: SimulatorServer, pipeline: Pipeline, step: dict[str, Any], code: ErrorCode
) -> None:
    sim.simulator.add({**step, "repeat": 6})
    final = (await _events(pipeline, replace(SUMMARIZE_TICKET, safe_response=None)))[-1]
    assert isinstance(final, Failed) and final.code == code


async def test_second_reference_task(sim: SimulatorServer, pipeline: Pipeline) -> None:
    ticket = TextInput(text="The app crashes on login. I am blocked and losing sales!")
    final = await pipeline.execute(SUMMARIZE_TICKET, ticket)
    assert isinstance(final, Completed)
    assert final.output.model_dump(mode="json") == {  # type: ignore[union-attr]
        "headline": "The app crashes on login",
        "sentiment": "negative",
        "category": "bug",
        "urgent": True,
        "key_points": ["I am blocked and losing sales"],
    }


async def test_three_failures_then_the_safe_response(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    sim.simulator.add({"status": 503}, {"fault": "drop"}, {"fault": "schema_violation"})
    task = replace(EXTRACT_ACTION_PLAN, fallbacks=())
    events = await _events(pipeline, task)
    final = events[-1]
    assert isinstance(final, Completed) and final.meta.fallback == Fallback.SAFE_RESPONSE
    assert [e.kind for e in final.meta.errors] == [
        "server_error",
        "interrupted",
        "schema_violation",
    ]
    assert [type(e).__name__ for e in events if not isinstance(e, Progress)] == [
        "Started",
        "Retrying",
        "Retrying",
        "FallingBack",
        "Completed",
    ]
    assert len(sim.simulator.wait_until_settled()) == 3


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(min_value=0, max_value=9), st.sampled_from(["priority", "key", "length"]))
def test_a_violation_anywhere_hangs_up_the_stream(
    _simulator_server: SimulatorServer, position: int, kind: str
) -> None:
    """Wherever the bad item is, the run stops reading there and the simulator sees it:
    the stream is held before its finish, so only the pipeline hanging up can end it."""
    sim = _simulator_server.simulator
    sim.reset()  # each example starts afresh
    items: list[dict[str, Any]] = [
        {"action_type": "call", "priority": 2, "summary": f"Call customer {i}"} for i in range(10)
    ]
    bad = items[position]
    if kind == "priority":
        bad["priority"] = 6
    elif kind == "key":
        bad["due"] = "tomorrow"
    else:
        bad["summary"] = "x" * 121
    sim.add({"content": json.dumps({"actions": items}), "hold_after_chunks": -3})
    settings_ = Settings(
        model="sim/gpt-4o",
        endpoints={"sim": {"base_url": _simulator_server.base_url}},  # type: ignore[dict-item]
        max_attempts=1,
    )

    async def run() -> tuple[RunEvent, list[RequestRecord]]:
        registry = ProviderRegistry(settings_)
        try:
            task = replace(EXTRACT_ACTION_PLAN, safe_response=None, fallbacks=())
            final = await Pipeline(registry.get, settings_).execute(task, TEXT)
            # settled while the client is still open: the run itself hung up
            return final, await anyio.to_thread.run_sync(sim.wait_until_settled)
        finally:
            await registry.aclose()

    final, (record,) = anyio.run(run)
    assert isinstance(final, Failed) and final.code == ErrorCode.VALIDATION_FAILED
    assert final.meta.errors[0].message.startswith(f"actions[{position}]")
    assert record.hung_up and record.chunks_sent < record.chunks_total
