"""GraphQL against the BFF on loopback: real HTTP, real graphql-transport-ws."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import anyio
import httpx
import pytest

from bff.demo.tasks import EXTRACT_ACTION_PLAN, SUMMARIZE_TICKET
from bff.tasks import TaskRegistry
from bff.testing.server import SimulatorServer
from tests.api.helpers import mutate, operation, subscription
from tests.conftest import BffFactory

TEXT = "Please call Bob today. Review the Q3 budget next week. Buy milk."
TICKET = "The export crashes every time. We are blocked and losing money, please fix asap!"
NO_SAFETY = TaskRegistry(
    [
        replace(EXTRACT_ACTION_PLAN, safe_response=None),
        replace(SUMMARIZE_TICKET, safe_response=None),
    ]
)


def test_extract_action_plan_by_mutation(bff: BffFactory, sim: SimulatorServer) -> None:
    server = bff()
    payload = mutate(server.url, "ExtractActionPlan", text=TEXT)["extractActionPlan"]
    assert payload["__typename"] == "ActionPlanResult"
    assert payload["plan"]["actions"] == [
        {"actionType": "call", "priority": 1, "summary": "Call Bob today"},
        {"actionType": "buy", "priority": 3, "summary": "Buy milk"},
        {"actionType": "review", "priority": 4, "summary": "Review the Q3 budget next week"},
    ]
    meta = payload["meta"]
    assert (meta["model"], meta["attempts"], meta["fallback"]) == ("sim/gpt-4o", 1, "NONE")
    assert meta["promptTokens"] > 0 and meta["completionTokens"] > 0 and meta["latencyMs"] > 0
    assert meta["errors"] == [] and len(meta["runId"]) == 32
    (record,) = sim.simulator.requests
    assert record.body["response_format"]["json_schema"]["name"] == "ActionPlan"


def test_summarize_ticket_by_mutation(bff: BffFactory) -> None:
    payload = mutate(bff().url, "SummarizeTicket", text=TICKET)["summarizeTicket"]
    assert payload["__typename"] == "TicketSummaryResult"
    assert payload["summary"] == {
        "headline": "The export crashes every time",
        "sentiment": "NEGATIVE",
        "category": "BUG",
        "urgent": True,
        "keyPoints": ["We are blocked and losing money, please fix asap"],
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "operation_name", "result_type"),
    [
        ("extractActionPlan", "WatchActionPlan", "ActionPlanResult"),
        ("summarizeTicket", "WatchTicketSummary", "TicketSummaryResult"),
    ],
)
async def test_subscription_sends_progress_then_the_payload(
    bff: BffFactory, sim: SimulatorServer, name: str, operation_name: str, result_type: str
) -> None:
    sim.simulator.add({"fault": "malformed"})
    server = bff()
    with anyio.fail_after(20):
        async with subscription(server.url, operation_name, text=TEXT) as sub:
            events = [e[name] for e in await sub.all()]
    kinds = [e["__typename"] for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == result_type
    assert "RunRetrying" in kinds and kinds.count(result_type) == 1
    assert kinds.index("RunRetrying") < len(kinds) - 1
    assert {"RunStarted", "RunProgress", "RunRetrying", result_type} == set(kinds)
    retrying = next(e for e in events if e["__typename"] == "RunRetrying")
    assert (retrying["attempt"], retrying["reason"]) == (2, "malformed")
    assert events[-1]["meta"]["attempts"] == 2


@pytest.mark.anyio
async def test_subscription_reports_items_and_fallback(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    sim.simulator.add({"status": 503, "repeat": 3}, model="gpt-4o")
    server = bff(fallback_models=["sim/gpt-4o-mini"])
    with anyio.fail_after(20):
        async with subscription(server.url, "WatchActionPlan", text=TEXT) as sub:
            events = [e["extractActionPlan"] for e in await sub.all()]
    hops = [e for e in events if e["__typename"] == "RunFallingBack"]
    assert hops == [
        {
            "__typename": "RunFallingBack",
            "fromModel": "sim/gpt-4o",
            "toModel": "sim/gpt-4o-mini",
            "reason": "server_error",
        }
    ]
    progress = [e["itemsValidated"] for e in events if e["__typename"] == "RunProgress"]
    assert progress and progress[-1] == 3 and progress == sorted(progress)
    final = events[-1]
    assert final["meta"]["fallback"] == "MODEL" and final["meta"]["model"] == "sim/gpt-4o-mini"


@pytest.mark.anyio
async def test_closing_the_subscription_cancels_the_upstream(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    # The upstream waits after six chunks until the test ends: only the BFF can end it.
    sim.simulator.add({"hold_after_chunks": 6})
    server = bff()
    with anyio.fail_after(20):
        async with subscription(server.url, "WatchActionPlan", text=TEXT) as sub:
            assert (await sub.next())["extractActionPlan"]["__typename"] == "RunStarted"
            while (await sub.next())["extractActionPlan"]["__typename"] != "RunProgress":
                pass
            await sub.stop()
        (record,) = await anyio.to_thread.run_sync(sim.simulator.wait_until_settled)
    assert record.hung_up and record.chunks_sent == 6 < record.chunks_total


def _error(
    url: str, steps: list[dict[str, Any]], sim: SimulatorServer, text: str = TEXT
) -> dict[str, Any]:
    sim.simulator.add(*steps)
    return mutate(url, "ExtractActionPlan", text=TEXT)["extractActionPlan"]


@pytest.mark.parametrize(
    ("steps", "code", "message"),
    [
        ([{"fault": "malformed", "repeat": 3}], "VALIDATION_FAILED", "invalid JSON"),
        ([{"status": 503, "repeat": 3}], "PROVIDER_UNAVAILABLE", "failed on its side (HTTP 503)"),
        ([{"status": 401}], "PROVIDER_UNAVAILABLE", "refused the request (HTTP 401)"),
        ([{"status": 429, "repeat": 3}], "RATE_LIMITED", "rate-limiting requests (HTTP 429)"),
        ([{"fault": "refusal"}], "REFUSED", "the model declined to answer"),
        ([{"fault": "stall", "stall_s": 3, "repeat": 3}], "TIMEOUT", "did not answer in time"),
    ],
)
def test_every_task_error_code(
    bff: BffFactory, sim: SimulatorServer, steps: list[dict[str, Any]], code: str, message: str
) -> None:
    """Each code, worded by the BFF: the provider's own text (its error body, the model's
    refusal) never reaches the client."""
    server = bff(NO_SAFETY, read_timeout_s=0.3)
    if steps[0].get("status") == 401:
        steps = [{"status": 401, "error_message": "You didn't provide an API key."}]
    payload = _error(server.url, steps, sim)
    assert payload["__typename"] == "TaskError"
    assert payload["code"] == code
    assert message in payload["message"]
    texts = [payload["message"], *(e["message"] for e in payload["meta"]["errors"])]
    for upstream in ("You didn't provide", "overloaded", "Rate limit reached", "I'm sorry"):
        assert not any(upstream in text for text in texts), texts


def test_input_rejected(bff: BffFactory, sim: SimulatorServer) -> None:
    server = bff()
    payload = mutate(server.url, "ExtractActionPlan", text="")["extractActionPlan"]
    assert payload["__typename"] == "TaskError" and payload["code"] == "INPUT_REJECTED"
    assert payload["message"] == "text: String should have at least 1 character"
    payload = mutate(server.url, "ExtractActionPlan", text="x" * 20_001)["extractActionPlan"]
    assert payload["code"] == "INPUT_REJECTED" and "at most 20000" in payload["message"]
    assert sim.simulator.requests == []


def test_safe_response_is_data_not_an_error(bff: BffFactory, sim: SimulatorServer) -> None:
    payload = _error(bff().url, [{"status": 500, "repeat": 3}], sim)
    assert payload["__typename"] == "ActionPlanResult"
    assert payload["meta"]["fallback"] == "SAFE_RESPONSE"
    assert payload["meta"]["model"] == "safe-response"
    assert [e["kind"] for e in payload["meta"]["errors"]] == ["server_error"] * 3


def test_tasks_and_health_queries(bff: BffFactory) -> None:
    server = bff(fallback_models=["demo/heuristic"])
    data = httpx.post(f"{server.url}/graphql", json={"query": operation("Tasks")}).json()["data"]
    names = [t["name"] for t in data["tasks"]]
    assert names == ["extractActionPlan", "summarizeTicket", "briefCountry", "answerFromDocs"]
    assert data["tasks"][0]["outputSchema"]["title"] == "ActionPlan"
    assert data["tasks"][0]["inputSchema"]["required"] == ["text"]
    # GET is fine for queries
    health = httpx.get(f"{server.url}/graphql", params={"query": operation("Health")}).json()
    assert health["data"]["health"] == {
        "status": "ok",
        "version": "0.1.0",
        "model": "sim/gpt-4o",
        "fallbackModels": ["demo/heuristic"],
        "breakers": [],
    }


def test_an_aborted_mutation_cancels_the_run_and_the_upstream(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """The client leaves while the upstream is mid-answer (held after six chunks, and it
    would wait there until the test ends): the BFF cancels the run and closes it."""
    sim.simulator.add({"hold_after_chunks": 6})
    server = bff()
    body = {"query": operation("ExtractActionPlan"), "variables": {"text": TEXT}}

    async def post_then_leave() -> None:
        async with httpx.AsyncClient(timeout=30) as client, anyio.create_task_group() as group:
            group.start_soon(partial(client.post, f"{server.url}/graphql", json=body))
            await anyio.to_thread.run_sync(sim.simulator.wait_until_held)
            group.cancel_scope.cancel()  # the client goes away mid-request

    anyio.run(post_then_leave)
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up and record.chunks_sent == 6 < record.chunks_total
    # nothing was retried after the client left
    assert len(sim.simulator.requests) == 1
