"""What the openai provider sends, as the simulator received it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bff.demo.action_plan import ActionPlan
from bff.providers._strict_schema import _memo, strict_schema_of, to_strict_schema
from bff.providers._types import ChatRequest, Message, OutputSpec, ToolCall
from bff.providers.openai import OpenAIProvider
from bff.testing.server import SimulatorServer
from tests.providers.helpers import assemble, request

pytestmark = pytest.mark.anyio
SCHEMA = ActionPlan.model_json_schema()


async def _sent(sim: SimulatorServer, req: ChatRequest, **kwargs: Any) -> dict[str, Any]:
    provider = OpenAIProvider(api_key="sk-test", base_url=sim.base_url, **kwargs)
    await assemble(provider, req)
    await provider.aclose()
    (record,) = sim.simulator.requests
    return record.body


async def test_every_call_streams_with_usage(sim: SimulatorServer) -> None:
    body = await _sent(sim, request(max_tokens=50))
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 50
    assert body["messages"] == [
        {"role": "system", "content": "Extract actions as JSON."},
        {"role": "user", "content": "Please call Bob today."},
    ]
    assert "response_format" not in body and "tools" not in body


async def test_max_completion_tokens_field(sim: SimulatorServer) -> None:
    body = await _sent(sim, request(max_tokens=9), max_tokens_field="max_completion_tokens")
    assert body["max_completion_tokens"] == 9 and "max_tokens" not in body


async def test_json_schema_mode_is_strict(sim: SimulatorServer) -> None:
    out = OutputSpec("json_schema", "ActionPlan", SCHEMA, "The plan.")
    body = await _sent(sim, request(output=out))
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "ActionPlan",
            "description": "The plan.",
            "schema": to_strict_schema(SCHEMA),
            "strict": True,
        },
    }


async def test_json_object_mode(sim: SimulatorServer) -> None:
    body = await _sent(sim, request(output=OutputSpec("json_object")))
    assert body["response_format"] == {"type": "json_object"}


async def test_tools_mode_forces_the_function(sim: SimulatorServer) -> None:
    body = await _sent(sim, request(output=OutputSpec("tools", "ActionPlan", SCHEMA)))
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "ActionPlan",
                "parameters": to_strict_schema(SCHEMA),
                "strict": True,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "ActionPlan"}}


async def test_tool_turns_are_sent_back(sim: SimulatorServer) -> None:
    messages = (
        Message("user", "weather?"),
        Message("assistant", None, tool_calls=(ToolCall("call_1", "lookup", '{"q":1}'),)),
        Message("tool", '{"temp":3}', tool_call_id="call_1"),
    )
    body = await _sent(sim, ChatRequest("gpt-4o", messages, temperature=0.2))
    assert body["temperature"] == 0.2
    assert body["messages"][1]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q":1}'}}
    ]
    assert body["messages"][2] == {
        "role": "tool",
        "content": '{"temp":3}',
        "tool_call_id": "call_1",
    }


def test_json_modes_need_a_schema() -> None:
    provider = OpenAIProvider(api_key="k")
    with pytest.raises(ValueError, match="needs a name and a schema"):
        provider.request_params(request(output=OutputSpec("json_schema")))


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(max_length=10, description="A label.")


class Outer(BaseModel):
    inner: Inner = Field(description="The inner part.")
    note: str | None = None
    tags: list[Inner] = []
    count: int = Field(default=1, ge=0, le=9)


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


def test_strict_schema_closes_every_object_and_requires_every_key() -> None:
    strict = to_strict_schema(Outer.model_json_schema())
    objects = _objects(strict)
    assert len(objects) >= 2
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert "default" not in str(strict)


def test_strict_schema_makes_optional_fields_nullable() -> None:
    props = to_strict_schema(Outer.model_json_schema())["properties"]
    assert {"type": "null"} in props["note"]["anyOf"]
    assert {"type": "null"} in props["tags"]["anyOf"]
    assert {"type": "null"} in props["count"]["anyOf"]
    assert props["count"]["anyOf"][0]["maximum"] == 9


def test_strict_schema_inlines_refs_with_siblings_and_moves_length_limits() -> None:
    strict = to_strict_schema(Outer.model_json_schema())
    inner = strict["properties"]["inner"]
    assert "$ref" not in inner and inner["description"] == "The inner part."
    label = inner["properties"]["label"]
    assert "maxLength" not in label
    assert label["description"] == "A label. Length: at most 10 characters."
    assert strict["$defs"]["Inner"]["additionalProperties"] is False


def test_a_schema_is_made_strict_once_per_schema_object() -> None:
    schema = Outer.model_json_schema()
    first = strict_schema_of(schema)
    assert first == to_strict_schema(schema)
    assert strict_schema_of(schema) is first  # sent with every request, worked out once
    equal = Outer.model_json_schema()
    assert strict_schema_of(equal) == first and strict_schema_of(equal) is not first
    for _ in range(300):  # the memo is bounded
        strict_schema_of(Outer.model_json_schema())
    assert len(_memo) <= 256
