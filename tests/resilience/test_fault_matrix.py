"""The fault matrix: every fault the simulator scripts x (task, chat) x (recovers on retry,
recovers on the fallback model, ends in the safe response or a typed error).

Real SDK, real HTTP on loopback; backoff goes through an injected sleep that
records each delay, so no test waits for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import anyio
import pytest

from bff.chat import ChatDone, ChatFailed, ChatRunner, Token
from bff.config import Settings
from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.pipeline import Pipeline
from bff.providers._types import Message
from bff.providers.registry import ProviderRegistry
from bff.run import Completed, ErrorCode, Failed, Fallback, RunOutcome
from bff.tasks import Task
from bff.testing.server import SimulatorServer

pytestmark = pytest.mark.anyio
TEXT = TextInput(text="Please call Bob today. Email Ann about the invoice.")
PRIMARY, FALLBACK = "sim/gpt-4o", "sim/gpt-4o-mini"
ATTEMPTS = 3


@dataclass(frozen=True)
class Fault:
    step: dict[str, Any]
    code: str  # the TaskErrorCode when it never recovers
    retried: bool = True  # worth another attempt on the same route
    chat: str = "before"  # for chat: "before" the first token, "after" it, or "none" (no fault)
    hangs_up: bool = False  # the BFF closes the stream before the provider finishes it
    held: bool = False  # a task's stream waits before its finish: only the BFF can end it
    trips: bool = False  # refused credentials: the route's circuit opens at once


FAULTS = {
    "429 retry-after": Fault({"status": 429, "retry_after": 2}, "RATE_LIMITED"),
    "500": Fault({"status": 500}, "PROVIDER_UNAVAILABLE"),
    "503 plain text": Fault(
        {"status": 503, "body": "upstream connect error", "content_type": "text/plain"},
        "PROVIDER_UNAVAILABLE",
    ),
    "slow first token": Fault({"first_token_delay_s": 1.0}, "TIMEOUT", hangs_up=True),
    "stall": Fault({"fault": "stall", "stall_s": 1.0}, "TIMEOUT", chat="after", hangs_up=True),
    "drop": Fault({"fault": "drop"}, "PROVIDER_UNAVAILABLE", chat="after"),
    "cut": Fault({"fault": "cut"}, "PROVIDER_UNAVAILABLE", chat="after"),
    "malformed": Fault({"fault": "malformed"}, "VALIDATION_FAILED", chat="none"),
    "schema violation": Fault(
        {"fault": "schema_violation"}, "VALIDATION_FAILED", chat="none", hangs_up=True, held=True
    ),
    "drift (helpful suffix)": Fault(
        {"fault": "drift"}, "VALIDATION_FAILED", chat="none", hangs_up=True, held=True
    ),
    "length": Fault({"fault": "length"}, "VALIDATION_FAILED", chat="none"),
    "refusal": Fault({"fault": "refusal"}, "REFUSED", retried=False, chat="none"),
    "content filter": Fault({"fault": "content_filter"}, "REFUSED", retried=False, chat="after"),
    "400": Fault({"status": 400}, "PROVIDER_UNAVAILABLE", retried=False),
    "401": Fault({"status": 401}, "PROVIDER_UNAVAILABLE", retried=False, trips=True),
    "403": Fault({"status": 403}, "PROVIDER_UNAVAILABLE", retried=False, trips=True),
    "404": Fault({"status": 404}, "PROVIDER_UNAVAILABLE", retried=False),
}
OUTCOMES = ("retry", "fallback", "final")
# A fault that is not retried on the same route has no "recovers on retry" row.
TASK_ROWS = [(n, o) for n in FAULTS for o in OUTCOMES if o != "retry" or FAULTS[n].retried]
CHAT_ROWS = [
    (n, o)
    for n in FAULTS
    for o in OUTCOMES
    if o != "retry" or FAULTS[n].retried or FAULTS[n].chat != "before"
]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
async def rig(sim: SimulatorServer) -> AsyncIterator[tuple[Pipeline, ChatRunner, Sleeps]]:
    settings = Settings(
        model=PRIMARY,
        fallback_models=[FALLBACK],
        endpoints={"sim": {"base_url": sim.base_url}},  # type: ignore[dict-item]
        max_attempts=ATTEMPTS,
        read_timeout_s=0.25,
        retry_base_s=0.1,
        retry_cap_s=0.4,
        breaker_threshold=100,
    )
    registry = ProviderRegistry(settings)
    sleeps = Sleeps()
    pipeline = Pipeline(registry.get, settings, sleep=sleeps, rng=lambda: 1.0)
    chat = ChatRunner(pipeline)
    yield pipeline, chat, sleeps
    await registry.aclose()


def _script(sim: SimulatorServer, fault: Fault, outcome: str, *, task: bool = False) -> None:
    """Fault the primary route once ("retry"), until it gives up ("fallback"), or everywhere."""
    primary = 1 if outcome == "retry" else (ATTEMPTS if fault.retried else 1)
    # Before the finish frame, then the usage frame and [DONE].
    step = {**fault.step, "hold_after_chunks": -3} if task and fault.held else fault.step
    sim.simulator.add({**step, "repeat": primary}, model="gpt-4o")
    if outcome == "final":
        sim.simulator.add({**step, "repeat": primary}, model="gpt-4o-mini")


def _expected(fault: Fault, outcome: str) -> tuple[str, int]:
    """(route that answers, attempts) for a recovery."""
    if outcome == "retry":
        return PRIMARY, 2
    return FALLBACK, (ATTEMPTS if fault.retried else 1) + 1


def _backoff(fault: Fault, outcome: str) -> list[float]:
    """The delays slept before a recovery: one retry, or every retry on the primary route."""
    retries = 1 if outcome == "retry" else (ATTEMPTS - 1 if fault.retried else 0)
    if fault.step.get("status") == 429:
        return [2.0] * retries
    return [min(0.4, 0.1 * 2**n) for n in range(retries)]


@pytest.mark.parametrize(("name", "outcome"), TASK_ROWS)
async def test_task(
    sim: SimulatorServer, rig: tuple[Pipeline, ChatRunner, Sleeps], name: str, outcome: str
) -> None:
    fault = FAULTS[name]
    pipeline, _, sleeps = rig
    if outcome == "final":
        await _never_recovers(sim, pipeline, fault)
        return
    _script(sim, fault, outcome, task=True)
    result = await pipeline.execute(EXTRACT_ACTION_PLAN, TEXT)
    records = sim.simulator.wait_until_settled()
    route, attempts = _expected(fault, outcome)
    assert isinstance(result, Completed)
    assert (result.meta.route, result.meta.attempts) == (route, attempts)
    assert result.meta.fallback == (Fallback.NONE if outcome == "retry" else Fallback.MODEL)
    assert [a.action_type for a in result.output.actions] == ["call", "email"]  # type: ignore[attr-defined]
    assert len(records) == attempts
    assert sleeps.delays == _backoff(fault, outcome)
    assert records[0].hung_up == fault.hangs_up


async def _never_recovers(sim: SimulatorServer, pipeline: Pipeline, fault: Fault) -> None:
    """Every attempt on both routes faulted: a task with a safe response completes with it,
    one without fails with the fault's code. The two runs go side by side (a timeout
    costs each attempt a read timeout), each call taking the next step of its route's
    queue, which holds the faulted steps of both."""
    task = EXTRACT_ACTION_PLAN
    attempts = 2 * (ATTEMPTS if fault.retried else 1)
    _script(sim, fault, "final", task=True)
    _script(sim, fault, "final", task=True)
    runs: dict[str, RunOutcome] = {}

    async def run(key: str, task: Task[Any, Any]) -> None:
        runs[key] = await pipeline.execute(task, TEXT)

    async with anyio.create_task_group() as group:
        group.start_soon(run, "safe", task)
        group.start_soon(run, "unsafe", replace(task, safe_response=None))
    safe, failed = runs["safe"], runs["unsafe"]
    assert isinstance(safe, Completed) and safe.meta.fallback == Fallback.SAFE_RESPONSE
    assert safe.output == task.safe_response(TEXT)  # type: ignore[misc]
    assert isinstance(failed, Failed) and failed.code.value == fault.code
    assert safe.meta.attempts == failed.meta.attempts == attempts
    assert len(sim.simulator.wait_until_settled()) == 2 * attempts
    no_safety = await pipeline.execute(replace(task, safe_response=None), TEXT)
    if not fault.trips:
        assert isinstance(no_safety, Completed)  # the script is used up: the model answers now
        return
    # Both routes' credentials were refused: their circuits are open, and nothing is called.
    assert isinstance(no_safety, Failed) and no_safety.code == ErrorCode.PROVIDER_UNAVAILABLE
    assert [(e.route, e.kind) for e in no_safety.meta.errors] == [
        (PRIMARY, "circuit_open"),
        (FALLBACK, "circuit_open"),
    ]
    assert len(sim.simulator.wait_until_settled()) == 2 * attempts


async def _chat(chat: ChatRunner) -> list[Any]:
    messages = (Message("user", "Tell me about lighthouses and fog"),)
    return [event async for event in chat.stream(messages)]


@pytest.mark.parametrize(("name", "outcome"), CHAT_ROWS)
async def test_chat(
    sim: SimulatorServer, rig: tuple[Pipeline, ChatRunner, Sleeps], name: str, outcome: str
) -> None:
    fault = FAULTS[name]
    _, chat, sleeps = rig
    _script(sim, fault, outcome)
    events = await _chat(chat)
    records = sim.simulator.wait_until_settled()
    final = events[-1]
    assert sum(isinstance(e, ChatDone | ChatFailed) for e in events) == 1
    if fault.chat == "none":  # chat text is not validated: the faulty text is the answer
        assert isinstance(final, ChatDone) and final.attempts == 1 and len(records) == 1
        return
    if fault.chat == "after":  # never restarted once text has gone out
        assert isinstance(final, ChatFailed) and final.code.value == fault.code
        assert final.message.startswith("the stream broke after")
        assert any(isinstance(e, Token) for e in events) and len(records) == 1
        assert sleeps.delays == [] and records[0].hung_up == fault.hangs_up
        return
    if outcome == "final":
        assert isinstance(final, ChatFailed) and final.code.value == fault.code
        assert [e for e in events if isinstance(e, Token)] == []
        assert len(records) == 2 * (ATTEMPTS if fault.retried else 1)
        return
    route, attempts = _expected(fault, outcome)
    assert isinstance(final, ChatDone)
    assert (final.model, final.attempts) == (route, attempts) and len(records) == attempts
    text = "".join(e.text for e in events if isinstance(e, Token))
    assert text.startswith("You asked about")
    assert sleeps.delays == _backoff(fault, outcome)
