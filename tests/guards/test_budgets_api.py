"""Token and spend budgets over real HTTP, against the simulator: what is refused is
never sent, and what is spent is reported."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.providers._types import ChatRequest
from bff.testing.server import SimulatorServer
from bff.tokens import estimate_prompt_tokens
from tests.api.helpers import mutate, sse_events
from tests.conftest import BffFactory

TEXT = "Please call Bob today. Review the Q3 budget next week."
MESSAGES = {"messages": [{"role": "user", "content": "Tell me about lighthouses."}]}


def _worst_case(max_tokens: int = EXTRACT_ACTION_PLAN.max_tokens) -> int:
    """What the first call of extractActionPlan on TEXT reserves."""
    task = EXTRACT_ACTION_PLAN
    request = ChatRequest("gpt-4o", task.messages(TextInput(text=TEXT)), task.output, max_tokens)
    return estimate_prompt_tokens(request) + max_tokens


def _plan(url: str, key: str | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {key}"} if key else None
    payload: dict[str, Any] = mutate(url, "ExtractActionPlan", headers=headers, text=TEXT)[
        "extractActionPlan"
    ]
    return payload


def test_a_budget_that_runs_out_mid_retry_stops_before_the_next_call(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    # Room for one call's worst case and 50 tokens more: the first attempt (malformed
    # output) spends more than 50, so the retry cannot be covered.
    url = bff(request_token_budget=_worst_case() + 50).url
    sim.simulator.add({"fault": "malformed", "repeat": 3})
    payload = _plan(url)
    assert payload["__typename"] == "TaskError", payload
    assert payload["code"] == "BUDGET_EXCEEDED"
    assert "the request's token budget has" in payload["message"]
    meta = payload["meta"]
    assert meta["attempts"] == 1 and [e["kind"] for e in meta["errors"]] == ["malformed"]
    assert meta["fallback"] == "NONE"  # a budget refusal is not masked by the safe response
    assert len(sim.simulator.requests) == 1


def test_a_client_over_its_daily_budget_is_refused_without_a_provider_call(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(client_daily_tokens=_worst_case() + 50, chat_max_tokens=_worst_case()).url
    assert _plan(url, "key-a")["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 1
    refused = _plan(url, "key-a")
    assert refused["code"] == "BUDGET_EXCEEDED", refused
    assert "client's daily token budget" in refused["message"]
    assert refused["meta"]["attempts"] == 0
    chat = sse_events(
        httpx.post(
            f"{url}/chat/stream", json=MESSAGES, headers={"x-api-key": "key-a"}, timeout=30
        ).text
    )
    assert [name for name, _, _ in chat] == ["error"]
    assert chat[0][2]["code"] == "BUDGET_EXCEEDED"
    assert len(sim.simulator.requests) == 1  # neither refusal reached the provider
    assert _plan(url, "key-b")["__typename"] == "ActionPlanResult"  # others are unaffected
    assert _plan(url)["__typename"] == "ActionPlanResult"  # and so is anonymous
    assert len(sim.simulator.requests) == 3


def test_cost_comes_from_the_price_table(bff: BffFactory, sim: SimulatorServer) -> None:
    prices = {"sim/gpt-4o": {"input_per_mtok": 2.5, "output_per_mtok": 10.0}}
    url = bff(prices=prices).url
    meta = _plan(url)["meta"]
    expected = (meta["promptTokens"] * 2.5 + meta["completionTokens"] * 10.0) / 1e6
    assert meta["costUsd"] == pytest.approx(expected) and meta["costUsd"] > 0
    done = sse_events(httpx.post(f"{url}/chat/stream", json=MESSAGES, timeout=30).text)[-1]
    assert done[0] == "done"
    chat = done[2]
    assert chat["costUsd"] == pytest.approx(
        (chat["promptTokens"] * 2.5 + chat["completionTokens"] * 10.0) / 1e6
    )


def test_every_call_carries_max_tokens_under_the_global_cap(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(max_tokens_cap=300, chat_max_tokens=2000).url
    _plan(url)
    httpx.post(f"{url}/chat/stream", json=MESSAGES, timeout=30)
    assert [r.body["max_tokens"] for r in sim.simulator.requests] == [300, 300]


def test_after_length_the_next_attempt_may_raise_max_tokens(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"fault": "length"})
    assert _plan(bff().url)["meta"]["attempts"] == 2
    first, second = (r.body["max_tokens"] for r in sim.simulator.requests)
    assert (first, second) == (1024, 2048)


def test_a_raise_after_length_stays_within_the_budget(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"fault": "length"})
    payload = _plan(bff(request_token_budget=_worst_case() + 600).url)
    assert payload["__typename"] == "ActionPlanResult", payload
    first, second = (r.body["max_tokens"] for r in sim.simulator.requests)
    assert first == 1024 and 1024 <= second < 2048
    assert payload["meta"]["promptTokens"] + payload["meta"]["completionTokens"] <= (
        _worst_case() + 600
    )
