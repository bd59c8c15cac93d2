"""Which failures count against which circuit: the route's, or a task's on the route."""

from __future__ import annotations

import httpx
import pytest

from bff.exceptions import (
    BFFError,
    BudgetExceededError,
    ClientRequestError,
    ContentFilteredError,
    DeadlineExceededError,
    MalformedOutputError,
    OutputValidationError,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitedError,
    RefusalError,
    ServerError,
    TruncatedOutputError,
)
from bff.resilience.backoff import RetryPolicy
from bff.resilience.breaker import Breakers, BreakerState, LocalBoard, Verdict, scope
from bff.resilience.plan import AttemptPlan, route_verdict, task_verdict
from bff.testing.server import SimulatorServer
from tests.api.helpers import operation, sse_events
from tests.conftest import BffFactory

OK, FAIL, TRIP, NONE = Verdict.OK, Verdict.FAIL, Verdict.TRIP, Verdict.NONE


@pytest.mark.parametrize(
    ("error", "route", "task"),
    [
        (None, OK, OK),
        (ServerError("boom", status=500), FAIL, NONE),
        (ServerError("boom", status=503), FAIL, NONE),
        (RateLimitedError("slow"), FAIL, NONE),
        (ProviderTimeoutError("slow"), FAIL, NONE),
        (ProviderConnectionError("gone"), FAIL, NONE),
        (ClientRequestError("no key", status=401), TRIP, NONE),
        (ClientRequestError("forbidden", status=403), TRIP, NONE),
        (ClientRequestError("invalid request", status=400), NONE, NONE),
        (ClientRequestError("no model", status=404), NONE, NONE),
        (ClientRequestError("too long", status=422), NONE, NONE),
        (ContentFilteredError("filtered"), NONE, NONE),
        (MalformedOutputError("bad json"), OK, FAIL),
        (OutputValidationError("does not fit"), OK, FAIL),
        (TruncatedOutputError("cut"), OK, FAIL),
        (RefusalError("no"), OK, FAIL),
        (DeadlineExceededError("late"), NONE, NONE),
        (BudgetExceededError("poor", "client_tokens"), NONE, NONE),
    ],
)
def test_verdicts(error: BFFError | None, route: Verdict, task: Verdict) -> None:
    assert (route_verdict(error), task_verdict(error)) == (route, task)


def _plan(board: LocalBoard, task: str | None) -> AttemptPlan:
    return AttemptPlan(
        ["a/x"], max_attempts=1, board=board, task=task, policy=RetryPolicy(), timeout_s=60
    )


@pytest.mark.anyio
async def test_output_failures_open_the_tasks_circuit_only() -> None:
    board = LocalBoard(Breakers(threshold=3))
    for _ in range(3):
        step = await _plan(board, "taskA").next()
        assert step is not None
        await _plan(board, "taskA").failed(step, OutputValidationError("does not fit"))
    breakers = board.breakers
    assert breakers.get(scope("a/x", "taskA")).state is BreakerState.OPEN
    assert breakers.get("a/x").state is BreakerState.CLOSED
    assert await _plan(board, "taskA").next() is None  # task A is skipped on a/x
    assert await _plan(board, "taskB").next() is not None  # task B is not
    assert await _plan(board, None).next() is not None  # nor is chat


@pytest.mark.anyio
async def test_a_400_never_counts_and_a_401_opens_at_once() -> None:
    board = LocalBoard(Breakers(threshold=1))
    step = await _plan(board, None).next()
    assert step is not None
    await _plan(board, None).failed(step, ClientRequestError("invalid", status=400))
    assert board.breakers.get("a/x").state is BreakerState.CLOSED
    board = LocalBoard(Breakers(threshold=5))
    step = await _plan(board, "t").next()
    assert step is not None
    await _plan(board, "t").failed(step, ClientRequestError("bad key", status=401))
    assert board.breakers.get("a/x").state is BreakerState.OPEN
    assert board.breakers.get(scope("a/x", "t")).failures == 0


@pytest.mark.anyio
async def test_a_probe_on_the_route_is_given_back_when_the_task_is_open() -> None:
    clock = [0.0]
    board = LocalBoard(Breakers(threshold=1, cooldown_s=10, clock=lambda: clock[0]))
    board.breakers.get("a/x").failure()  # opens at 0
    clock[0] = 5.0
    board.breakers.get(scope("a/x", "t")).failure()  # opens at 5
    clock[0] = 10.0  # the route's cool-down is over, the task's is not
    assert board.breakers.get("a/x").state is BreakerState.HALF_OPEN
    assert await _plan(board, "t").next() is None
    probe = await _plan(board, None).next()  # the route's probe slot is still free
    assert probe is not None and probe.permit.probing == (True,)


def test_schema_violations_on_one_task_leave_chat_and_other_tasks_served(
    bff: BffFactory, sim: SimulatorServer
) -> None:
    """Three outputs of task A that do not fit open A's circuit on the route: A gets its
    safe response (saying why), while chat and task B on the same route are served."""
    server = bff(max_attempts=3, breaker_threshold=3)
    sim.simulator.add({"fault": "schema_violation", "repeat": 3}, model="gpt-4o")
    text = "Call Bob about the invoice today."
    first = _mutate(server.url, "ExtractActionPlan", text=text)
    assert first["meta"]["fallback"] == "SAFE_RESPONSE" and first["meta"]["attempts"] == 3
    sim.simulator.reset()

    again = _mutate(server.url, "ExtractActionPlan", text=text)
    assert again["meta"]["fallback"] == "SAFE_RESPONSE" and again["meta"]["attempts"] == 0
    assert [(e["model"], e["kind"]) for e in again["meta"]["errors"]] == [
        ("sim/gpt-4o", "circuit_open")
    ]
    assert sim.simulator.requests == []  # skipped without a call

    other = _mutate(server.url, "SummarizeTicket", text=text)
    assert other["meta"]["fallback"] == "NONE" and other["meta"]["model"] == "sim/gpt-4o"
    chat = httpx.post(
        f"{server.url}/chat/stream", json={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert sse_events(chat.text)[-1][0] == "done"
    assert [r.model for r in sim.simulator.requests] == ["gpt-4o", "gpt-4o"]

    models = httpx.post(f"{server.url}/graphql", json={"query": operation("Models")}).json()
    route = models["data"]["models"][0]
    assert (route["route"], route["breakerState"]) == ("sim/gpt-4o", "CLOSED")
    states = {t["task"]: (t["breakerState"], t["breakerFailures"]) for t in route["tasks"]}
    assert states["extractActionPlan"] == ("OPEN", 3)
    assert states["summarizeTicket"] == ("CLOSED", 0)


def _mutate(url: str, name: str, **variables: str) -> dict[str, object]:
    response = httpx.post(
        f"{url}/graphql", json={"query": operation(name), "variables": variables}
    ).json()
    field = name[0].lower() + name[1:]
    payload: dict[str, object] = response["data"][field]
    return payload
