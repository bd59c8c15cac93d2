"""Structured runs against an upstream that answers streaming requests with one whole
``chat.completion`` (``application/json``): the openai provider, the real SDK and
the simulator's ``unstreamed`` answers on loopback."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bff.demo.tasks import BRIEF_COUNTRY, EXTRACT_ACTION_PLAN, TextInput
from bff.pipeline import Pipeline
from bff.run import CallingTools, Completed, ErrorCode, Failed, Fallback
from bff.testing.server import SimulatorServer

pytestmark = pytest.mark.anyio
TEXT = TextInput(text="Please call Bob today. Review the Q3 budget next week. Buy milk.")


@pytest.mark.parametrize("mode", ["json_schema", "json_object", "tools"])
async def test_a_task_answered_whole_completes_on_the_first_attempt(
    sim: SimulatorServer, pipeline: Pipeline, mode: str
) -> None:
    sim.simulator.add({"unstreamed": True})
    task: Any = replace(EXTRACT_ACTION_PLAN, output_mode=mode)
    outcome = await pipeline.execute(task, TEXT)
    assert isinstance(outcome, Completed), outcome
    assert outcome.output == EXTRACT_ACTION_PLAN.safe_response(TEXT)  # type: ignore[misc]
    meta = outcome.meta
    assert (meta.attempts, meta.fallback, meta.errors) == (1, Fallback.NONE, [])
    (record,) = sim.simulator.wait_until_settled()
    assert record.stream is True and record.outcome == "completed"
    assert meta.prompt_tokens > 0 and meta.completion_tokens > 0  # the completion's usage


async def test_tool_rounds_answered_whole(sim: SimulatorServer, pipeline: Pipeline) -> None:
    """The tool call and then the answer, each one whole completion."""
    sim.simulator.add({"unstreamed": True, "repeat": 2})
    events = [e async for e in pipeline.run(BRIEF_COUNTRY, TextInput(text="Capital of Norway?"))]
    assert [e.tools for e in events if isinstance(e, CallingTools)] == [("lookup_country",)]
    outcome = events[-1]
    assert isinstance(outcome, Completed), outcome
    assert outcome.output.model_dump()["capital"] == "Oslo"
    assert len(sim.simulator.wait_until_settled()) == 2


async def test_a_whole_answer_that_breaks_the_schema_is_retried_with_reask(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    sim.simulator.add({"unstreamed": True, "fault": "schema_violation"})
    outcome = await pipeline.execute(EXTRACT_ACTION_PLAN, TEXT)
    assert isinstance(outcome, Completed)
    assert [e.kind for e in outcome.meta.errors] == ["schema_violation"]
    first, second = sim.simulator.wait_until_settled()
    assert len(second.body["messages"]) > len(first.body["messages"])  # the reask


async def test_a_json_body_that_is_not_a_completion_moves_on_without_a_retry(
    sim: SimulatorServer, pipeline: Pipeline
) -> None:
    """Asking the same route again would get the same body: the next route is tried."""
    body = json.dumps({"object": "list", "data": []})
    sim.simulator.add({"body": body, "content_type": "application/json"}, model="gpt-4o")
    sim.simulator.add({"body": body, "content_type": "application/json"}, model="gpt-4o-mini")
    task = replace(EXTRACT_ACTION_PLAN, safe_response=None)
    outcome = await pipeline.execute(task, TEXT)
    assert isinstance(outcome, Failed)
    assert outcome.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert [(e.route, e.kind) for e in outcome.meta.errors] == [
        ("sim/gpt-4o", "bad_response"),
        ("sim/gpt-4o-mini", "bad_response"),
    ]
    assert outcome.message == "the provider's answer could not be read"
    assert [r.model for r in sim.simulator.wait_until_settled()] == ["gpt-4o", "gpt-4o-mini"]
