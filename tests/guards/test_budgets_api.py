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


KEY_A, KEY_B = "key-a-0123456789abcdef", "key-b-0123456789abcdef"


def test_a_client_over_its_daily_budget_is_refused_without_a_provider_call(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(
        client_daily_tokens=_worst_case() + 50,
        api_keys=[KEY_A, KEY_B],
        allow_anonymous=True,
    ).url
    assert _plan(url, KEY_A)["__typename"] == "ActionPlanResult"
    assert len(sim.simulator.requests) == 1
    refused = _plan(url, KEY_A)
    assert refused["code"] == "BUDGET_EXCEEDED", refused
    assert "client's daily token budget" in refused["message"]
    assert refused["meta"]["attempts"] == 0
    assert len(sim.simulator.requests) == 1  # the refusal never reached the provider
    assert _plan(url, KEY_B)["__typename"] == "ActionPlanResult"  # others are unaffected
    assert _plan(url)["__typename"] == "ActionPlanResult"  # and so is anonymous
    assert len(sim.simulator.requests) == 3


def _chat(url: str, key: str) -> list[tuple[str, str, dict[str, Any]]]:
    response = httpx.post(
        f"{url}/chat/stream", json=MESSAGES, headers={"x-api-key": key}, timeout=30
    )
    return sse_events(response.text)


def test_a_chat_gets_what_is_left_of_the_budget_and_no_more(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """Short of budget, a chat asks for what is left; an upstream that ignores
    max_tokens is cut there with BUDGET_EXCEEDED, and the rest is never relayed."""
    url = bff(client_daily_tokens=300, api_keys=[KEY_A]).url
    # The upstream stops well past the budget (1,000 chunks of 4 characters) and waits
    # there, so it cannot finish before the BFF's cut: only the BFF can end it.
    answer = {"content": "word " * 2000, "ignore_max_tokens": True}
    sim.simulator.add({**answer, "hold_after_chunks": 1000})
    events = _chat(url, KEY_A)
    (request,) = sim.simulator.requests
    assert 64 <= request.body["max_tokens"] < 300
    assert events[-1][0] == "error" and events[-1][2]["code"] == "BUDGET_EXCEEDED"
    relayed = "".join(data["text"] for name, _, data in events if name == "token")
    assert len(relayed) <= 8 * request.body["max_tokens"] < len("word " * 2000)
    assert sim.simulator.wait_until_settled()[0].hung_up  # the upstream was closed


def test_a_chat_with_less_than_a_reply_left_is_refused_without_a_call(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(client_daily_tokens=60, api_keys=[KEY_A]).url
    events = _chat(url, KEY_A)
    assert [name for name, _, _ in events] == ["error"]
    assert events[0][2]["code"] == "BUDGET_EXCEEDED"
    assert sim.simulator.requests == []


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
