from __future__ import annotations

import json

import pytest

from bff.demo.action_plan import ActionPlan
from bff.demo.model import DEMO_ANSWERS
from bff.exceptions import RateLimitedError, ServerError, StreamInterruptedError
from bff.faults import HELPFUL_SUFFIX, REFUSAL_TEXT, UNEXPECTED_KEY
from bff.providers._types import OutputSpec
from bff.providers.demo import DemoProvider, FaultProfile
from bff.vocabulary import DEMO_FAULTS
from tests.providers.helpers import assemble, request

pytestmark = pytest.mark.anyio
TEXT = "Call the bank today. Review the lease next week."
PLAN = OutputSpec("json_schema", "ActionPlan", ActionPlan.model_json_schema())


async def test_json_schema_mode_streams_a_valid_plan() -> None:
    got = await assemble(DemoProvider(DEMO_ANSWERS), request(TEXT, output=PLAN))
    plan = ActionPlan.model_validate_json(got.text)
    assert [a.action_type for a in plan.actions] == ["call", "review"]
    assert got.finish == ["stop"] and got.events > 10
    assert got.usage[0][1] == -(-len(got.text) // 4)


async def test_tools_mode_streams_tool_call_deltas() -> None:
    out = OutputSpec("tools", "ActionPlan", ActionPlan.model_json_schema())
    got = await assemble(DemoProvider(DEMO_ANSWERS), request(TEXT, output=out))
    assert got.text == "" and got.finish == ["tool_calls"]
    assert got.calls[0]["name"] == "ActionPlan" and got.calls[0]["id"] == "call_demo_0"
    ActionPlan.model_validate_json(got.calls[0]["arguments"])


async def test_chat_mode_streams_prose() -> None:
    got = await assemble(DemoProvider(DEMO_ANSWERS), request("Tell me about lighthouses"))
    assert "lighthouses" in got.text and got.finish == ["stop"]


async def test_is_deterministic() -> None:
    first = await assemble(DemoProvider(DEMO_ANSWERS), request(TEXT, output=PLAN))
    second = await assemble(DemoProvider(DEMO_ANSWERS), request(TEXT, output=PLAN))
    assert first == second


async def test_honours_max_tokens() -> None:
    got = await assemble(DemoProvider(DEMO_ANSWERS), request(TEXT, output=PLAN, max_tokens=5))
    assert len(got.text) == 20 and got.finish == ["length"]


def _always(kind: str) -> DemoProvider:
    return DemoProvider(DEMO_ANSWERS, faults=FaultProfile(rate=1.0, kinds=(kind,)))  # type: ignore[arg-type]


async def test_fault_rate_limit() -> None:
    with pytest.raises(RateLimitedError) as caught:
        await assemble(_always("rate_limit"), request(TEXT, output=PLAN))
    assert caught.value.retry_after == 0.2


async def test_fault_server_error() -> None:
    with pytest.raises(ServerError):
        await assemble(_always("server_error"), request(TEXT, output=PLAN))


async def test_fault_drop() -> None:
    with pytest.raises(StreamInterruptedError):
        await assemble(_always("drop"), request(TEXT, output=PLAN))


async def test_content_faults() -> None:
    bad = await assemble(_always("malformed"), request(TEXT, output=PLAN))
    with pytest.raises(ValueError):
        json.loads(bad.text)
    drift = await assemble(_always("schema_violation"), request(TEXT, output=PLAN))
    assert UNEXPECTED_KEY in drift.text
    chatty = json.loads((await assemble(_always("drift"), request(TEXT, output=PLAN))).text)
    assert all(a["summary"].endswith(HELPFUL_SUFFIX) for a in chatty["actions"])
    cut = await assemble(_always("length"), request(TEXT, output=PLAN))
    assert cut.finish == ["length"]
    refused = await assemble(_always("refusal"), request(TEXT, output=PLAN))
    assert (refused.text, refused.refusal) == ("", REFUSAL_TEXT)


async def test_fault_profile_rate_is_seeded() -> None:
    draws = [FaultProfile(rate=0.3, seed=7).draw() for _ in range(1)]
    profile = FaultProfile(rate=0.3, seed=7)
    sequence = [profile.draw() for _ in range(200)]
    again = FaultProfile(rate=0.3, seed=7)
    assert sequence == [again.draw() for _ in range(200)]
    hits = [kind for kind in sequence if kind is not None]
    assert 40 <= len(hits) <= 80 and set(hits) <= set(DEMO_FAULTS)
    assert draws[0] == sequence[0]
    assert FaultProfile().draw() is None
