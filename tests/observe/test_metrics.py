"""GET /metrics after scripted runs: each kind of run moves the counters it should."""

from __future__ import annotations

import json
from functools import partial

import anyio
import httpx
import pytest

from bff.testing.server import SimulatorServer
from tests.api.helpers import mutate, subscription
from tests.conftest import BffFactory
from tests.observe.helpers import Scrape, eventually

TEXT = "Please call Bob today. Review the Q3 budget next week."
TASK = "extractActionPlan"


def _plan(url: str, text: str = TEXT) -> dict[str, object]:
    payload: dict[str, object] = mutate(url, "ExtractActionPlan", text=text)["extractActionPlan"]
    return payload


def test_a_success_counts_the_run_its_tokens_and_first_token_time(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    url = bff(prices={"sim/gpt-4o": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}).url
    _plan(url)
    m = Scrape(url)
    assert m.value("bff_runs_total", task=TASK, route="sim/gpt-4o", outcome="ok") == 1
    assert m.value("bff_calls_total", task=TASK, route="sim/gpt-4o", outcome="ok") == 1
    assert m.value("bff_tokens_total", task=TASK, direction="prompt") > 0
    assert m.value("bff_tokens_total", task=TASK, direction="completion") > 0
    assert m.value("bff_cost_usd_total", task=TASK, route="sim/gpt-4o") > 0
    assert m.value("bff_time_to_first_token_seconds_count", task=TASK, route="sim/gpt-4o") == 1
    assert m.value("bff_run_duration_seconds_count", task=TASK, outcome="ok") == 1
    assert m.value("bff_retries_total") == 0 and m.value("bff_fallbacks_total") == 0


def test_a_retry_counts_its_reason(bff: BffFactory, sim: SimulatorServer) -> None:
    sim.simulator.add({"status": 429, "retry_after": 0})
    url = bff().url
    _plan(url)
    m = Scrape(url)
    assert m.value("bff_retries_total", task=TASK, route="sim/gpt-4o", reason="rate_limited") == 1
    assert m.value("bff_calls_total", task=TASK, outcome="rate_limited") == 1
    assert m.value("bff_calls_total", task=TASK, outcome="ok") == 1
    assert m.value("bff_runs_total", task=TASK, outcome="ok") == 1


def test_fallbacks_count_by_kind(bff: BffFactory, sim: SimulatorServer) -> None:
    sim.simulator.add({"status": 404, "error_message": "gone"}, model="gpt-4o")
    url = bff(fallback_models=["sim/gpt-4o-mini"]).url
    _plan(url)
    sim.simulator.add({"status": 404}, {"status": 404}, model="*")
    _plan(url)
    m = Scrape(url)
    assert m.value("bff_fallbacks_total", task=TASK, kind="model") == 1
    assert m.value("bff_fallbacks_total", task=TASK, kind="safe_response") == 1
    assert m.value("bff_runs_total", task=TASK, route="sim/gpt-4o-mini", outcome="ok") == 1
    assert m.value("bff_runs_total", task=TASK, route="safe-response", outcome="safe_response") == 1


def test_an_early_abort_counts_the_stream_and_the_tokens_it_saved(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    # The upstream holds before its finish: only the BFF's abort can end the stream.
    sim.simulator.add({"fault": "schema_violation", "hold_after_chunks": -3})
    url = bff().url
    _plan(url)
    m = Scrape(url)
    route = {"task": TASK, "route": "sim/gpt-4o"}
    assert m.value("bff_streams_abandoned_total", **route) == 1
    saved = m.value("bff_abandoned_tokens_saved_total", **route)
    assert 900 < saved <= 1024  # max_tokens 1024, minus the few tokens received
    assert m.value("bff_validation_failures_total", kind="schema_violation", **route) == 1
    record = sim.simulator.wait_until_settled()[0]  # the retry after it was not held
    assert record.hung_up and record.chunks_sent < record.chunks_total


def test_redactions_budget_refusals_and_breakers(bff: BffFactory, sim: SimulatorServer) -> None:
    url = bff(breaker_threshold=1, max_attempts=1, client_daily_tokens=100, chat_max_tokens=20).url
    secret = "Mail jane.doe@example.com or call +44 20 7946 0958 today."
    _plan(url, secret)  # refused by the daily budget: no call is made
    sim.simulator.add({"status": 500})
    httpx.post(f"{url}/chat/stream", json={"messages": [{"role": "user", "content": "hi"}]},
               headers={"x-api-key": "other"}, timeout=30)  # fmt: skip
    m = Scrape(url)
    assert m.value("bff_redactions_total", kind="EMAIL") == 1
    assert m.value("bff_redactions_total", kind="PHONE") == 1
    assert m.value("bff_budget_refusals_total", task=TASK, budget="client_tokens") == 1
    assert m.value("bff_runs_total", task=TASK, outcome="budget_exceeded") == 1
    # chat's 500 failed the route's only attempt and opened its circuit (threshold 1)
    assert m.value("bff_breaker_state", route="sim/gpt-4o", task="") == 2
    assert m.value("bff_runs_total", task="chat", outcome="provider_unavailable") == 1
    assert not any("jane" in v or "7946" in v for v in m.label_values())


def test_open_sse_streams_are_counted_while_they_stream(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"hold_after_chunks": 4})  # open until the test lets it go on
    url = bff().url
    seen: list[float] = []
    body = {"messages": [{"role": "user", "content": "Tell me about fog."}]}
    with httpx.stream("POST", f"{url}/chat/stream", json=body, timeout=30) as response:
        for line in response.iter_lines():
            if line == "event: token" and not seen:
                seen.append(Scrape(url).value("bff_open_streams", kind="sse"))
                sim.simulator.release()
    assert seen == [1]
    # The stream is uncounted and its run recorded before the response's last byte.
    assert Scrape(url).value("bff_open_streams", kind="sse") == 0
    assert Scrape(url).value("bff_runs_total", task="chat", outcome="ok") == 1


def test_tool_calls_are_counted(bff: BffFactory, sim: SimulatorServer) -> None:
    url = bff().url
    mutate(url, "BriefCountry", text="Capital of Japan?")
    m = Scrape(url)
    assert m.value("bff_tool_calls_total", task="briefCountry") == 1
    assert m.value("bff_calls_total", task="briefCountry", outcome="tools") == 1
    assert m.value("bff_calls_total", task="briefCountry", outcome="ok") == 1


@pytest.mark.anyio
async def test_open_subscriptions_are_counted_and_a_closed_one_is_cancelled(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"hold_after_chunks": 6})  # open until the BFF closes it
    url = bff().url
    async with subscription(url, "WatchActionPlan", text=TEXT) as sub:
        assert "RunStarted" in json.dumps(await sub.next())
        await sub.next()  # the first progress event: the stream is open
        assert Scrape(url).value("bff_open_streams", kind="subscription") == 1
        await sub.stop()
    (record,) = await anyio.to_thread.run_sync(sim.simulator.wait_until_settled)
    assert record.hung_up  # the run was cancelled and closed its upstream
    # ...and is counted as it unwinds; no message tells the client when that is done.
    cancelled = partial(Scrape.value_of, url, "bff_runs_total", task=TASK, outcome="cancelled")
    await anyio.to_thread.run_sync(eventually, lambda: cancelled() == 1)
    assert Scrape(url).value("bff_open_streams", kind="subscription") == 0
