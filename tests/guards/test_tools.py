"""The bounded tool-calling loop: registered functions only, validated arguments, errors
back to the model, a depth limit and the token budget as the guards against a spiral."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from bff.demo.countries import LOOKUP_COUNTRY, CountryQuery
from bff.demo.tasks import BRIEF_COUNTRY, TextInput
from bff.exceptions import ToolCallError
from bff.pii import Redactor, build_scanner
from bff.providers._types import ChatRequest, ToolCall
from bff.tasks import TaskRegistry
from bff.testing.server import SimulatorServer
from bff.tokens import estimate_prompt_tokens
from bff.tools import Tool, run_tools
from tests.api.helpers import mutate, subscription
from tests.conftest import BffFactory
from tests.observe.helpers import Scrape

QUESTION = "What currency do they pay with in Japan?"
JAPAN = {"name": "lookup_country", "arguments": '{"name": "Japan"}'}


class Nothing(BaseModel):
    pass


def _brief(url: str, text: str = QUESTION) -> dict[str, Any]:
    payload: dict[str, Any] = mutate(url, "BriefCountry", text=text)["briefCountry"]
    return payload


def _tool_messages(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def test_the_model_calls_the_tool_then_answers_from_its_result(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    payload = _brief(bff().url)
    assert payload["__typename"] == "CountryBriefResult", payload
    assert payload["brief"] == {
        "country": "Japan",
        "capital": "Tokyo",
        "currency": "JPY",
        "callingCode": "+81",
        "summary": "Japan's capital is Tokyo; it pays in JPY and its calling code is +81.",
    }
    assert payload["meta"]["toolCalls"] == 1 and payload["meta"]["attempts"] == 1
    first, second = (r.body for r in sim.simulator.requests)
    (tool,) = first["tools"]
    assert tool["function"]["name"] == "lookup_country" and tool["function"]["strict"] is True
    assert first["response_format"]["type"] == "json_schema" and "tool_choice" not in first
    call = second["messages"][-2]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"name": "Japan"}
    (result,) = _tool_messages(second)
    assert second["messages"][-1]["tool_call_id"] == call["id"]
    assert json.loads(result)["capital"] == "Tokyo"


def test_the_loop_stops_at_its_depth_limit_and_calls_nothing_beyond(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"tool_calls": [JAPAN], "repeat": 10})
    payload = _brief(bff().url)
    assert payload["__typename"] == "TaskError", payload
    assert payload["code"] == "TOOL_DEPTH_EXCEEDED"
    assert "max_tool_depth is 2" in payload["message"]
    assert payload["meta"]["toolCalls"] == 2
    # Two rounds of tools, then the call that asked for a third: nothing after it.
    assert len(sim.simulator.requests) == 3
    assert sim.simulator.script.pending() == 7


def test_the_token_budget_bounds_the_loop_before_the_depth_does(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"tool_calls": [JAPAN], "repeat": 10})
    deep = TaskRegistry([replace(BRIEF_COUNTRY, max_tool_depth=50)])
    task = BRIEF_COUNTRY
    request = ChatRequest(
        "gpt-4o",
        task.messages(TextInput(text=QUESTION)),
        task.output,
        task.max_tokens,
        tools=(LOOKUP_COUNTRY.spec,),
    )
    budget = (estimate_prompt_tokens(request) + task.max_tokens) * 3
    payload = _brief(bff(deep, request_token_budget=budget).url)
    assert payload["code"] == "BUDGET_EXCEEDED", payload
    assert 2 <= len(sim.simulator.requests) < 10


def test_invalid_arguments_go_back_to_the_model_and_count_as_an_attempt(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"tool_calls": [{"name": "lookup_country", "arguments": '{"name": ""}'}]})
    url = bff().url
    payload = _brief(url)
    assert payload["__typename"] == "CountryBriefResult", payload
    meta = payload["meta"]
    assert meta["attempts"] == 2 and [e["kind"] for e in meta["errors"]] == ["tool_error"]
    (error,) = _tool_messages(sim.simulator.requests[1].body)
    assert error.startswith("Error: invalid arguments for lookup_country: name:")
    metrics = Scrape(url)
    task = {"task": "briefCountry", "route": "sim/gpt-4o"}
    assert metrics.value("bff_retries_total", reason="tool_error", **task) == 1
    assert metrics.value("bff_validation_failures_total", kind="tool_error", **task) == 1


def test_an_unknown_tool_is_never_run_and_the_model_is_told(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    call = {"name": "run_shell", "arguments": '{"cmd": "rm -rf /"}'}
    sim.simulator.add({"tool_calls": [call]})
    payload = _brief(bff().url)
    assert payload["__typename"] == "CountryBriefResult"
    (error,) = _tool_messages(sim.simulator.requests[1].body)
    assert error == "Error: there is no tool named 'run_shell' (tools: lookup_country)"


@pytest.mark.anyio
async def test_tool_failures_and_timeouts_become_tool_call_errors() -> None:
    def broken(_: Nothing) -> str:
        raise KeyError("no such row")

    async def slow(_: Nothing) -> str:
        await asyncio.sleep(10)
        return "late"

    with pytest.raises(ToolCallError, match="broken failed: KeyError: 'no such row'"):
        await Tool("broken", "", Nothing, broken).call("{}")
    with pytest.raises(ToolCallError, match=r"slow took longer than 0\.05 s"):
        await Tool("slow", "", Nothing, slow, timeout_s=0.05).call("{}")
    with pytest.raises(ToolCallError, match="invalid arguments for lookup_country"):
        await LOOKUP_COUNTRY.call("not json")
    result = json.loads(await LOOKUP_COUNTRY.call('{"name": "atlantis"}'))
    assert result["found"] is False and "Japan" in result["known"]


@pytest.mark.anyio
async def test_tool_results_are_redacted_before_they_go_back() -> None:
    def contact(_: Nothing) -> dict[str, str]:
        return {"email": "ops@example.com"}

    redactor = Redactor(build_scanner())
    rounds = await run_tools(
        {"contact": Tool("contact", "", Nothing, contact)},
        [ToolCall("call_1", "contact", "{}")],
        redactor.redact,
    )
    assistant, reply = rounds.messages
    assert assistant.tool_calls == (ToolCall("call_1", "contact", "{}"),)
    assert reply.content == '{"email": "[EMAIL_1]"}' and rounds.error is None


def test_tool_names_are_checked() -> None:
    with pytest.raises(ValueError, match="tool name"):
        Tool("rm -rf", "", CountryQuery, lambda q: q)


@pytest.mark.anyio
async def test_the_subscription_reports_each_round_of_tool_calls(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    server = bff()
    with anyio.fail_after(20):
        async with subscription(server.url, "WatchCountryBrief", text=QUESTION) as sub:
            events = [e["briefCountry"] for e in await sub.all()]
    kinds = [e["__typename"] for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "CountryBriefResult"
    (tools,) = [e for e in events if e["__typename"] == "RunToolCalls"]
    assert tools == {"__typename": "RunToolCalls", "attempt": 1, "model": "sim/gpt-4o",
                     "tools": ["lookup_country"]}  # fmt: skip
    # the round comes after the first call's progress and before the answer's
    at = kinds.index("RunToolCalls")
    assert "RunProgress" in kinds[:at] and "RunProgress" in kinds[at:]
