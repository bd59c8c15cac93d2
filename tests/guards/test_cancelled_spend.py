"""A structured run cancelled mid-stream pays for what it had received.

The provider bills every token it streamed before the BFF hung up, so the call
settles an estimate of them (no usage chunk ever arrives), in the run's metadata,
its call record and the client's daily ledger. Through the openai provider, the
real SDK and the simulator on loopback.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import pytest

from bff.budget import ANONYMOUS, DailyLedger
from bff.config import Settings
from bff.demo.tasks import EXTRACT_ACTION_PLAN, TextInput
from bff.pipeline import Pipeline
from bff.providers.registry import ProviderRegistry
from bff.run import Completed, Failed, Progress, RunMeta
from bff.testing.server import SimulatorServer
from bff.tokens import estimate_tokens

pytestmark = pytest.mark.anyio
TEXT = TextInput(text="Please call Bob today. Review the Q3 budget next week. Buy milk.")
ITEMS = [
    {"action_type": "call", "priority": 1, "summary": f"Call contact number {n} about the order"}
    for n in range(8)
]
ANSWER = json.dumps({"actions": ITEMS})


@dataclass
class Finished:
    """A run observer: every run that ended, cancelled ones too, and the completion
    tokens of its calls as the observer (metrics, logs) was told of it."""

    runs: list[tuple[RunMeta, str]] = field(default_factory=list)
    reported: list[list[int]] = field(default_factory=list)

    def run_finished(self, meta: RunMeta, outcome: str) -> None:
        self.runs.append((meta, outcome))
        self.reported.append([call.completion_tokens for call in meta.calls])


@dataclass
class Setup:
    pipeline: Pipeline
    ledger: DailyLedger
    finished: Finished


@pytest.fixture
async def setup(sim: SimulatorServer) -> AsyncIterator[Setup]:
    settings = Settings(
        model="sim/gpt-4o",
        endpoints={"sim": {"base_url": sim.base_url, "api_key_env": None}},  # type: ignore[dict-item]
        retry_base_s=0.01,
    )
    registry = ProviderRegistry(settings)
    ledger, finished = DailyLedger(), Finished()
    pipeline = Pipeline(registry.get, settings, ledger=ledger, observer=finished, progress_every=0)
    yield Setup(pipeline, ledger, finished)
    await registry.aclose()


@pytest.mark.parametrize("mode", ["json_schema", "tools"])
async def test_a_run_cancelled_mid_stream_settles_the_tokens_it_had_received(
    sim: SimulatorServer, setup: Setup, mode: str
) -> None:
    """Content deltas (json_schema) and tool-call argument deltas (tools) alike: the
    whole answer streams, then the upstream waits before its finish reason and usage,
    and the client closes the run once every item has validated."""
    sim.simulator.add({"content": ANSWER, "hold_after_chunks": -3})
    task: Any = replace(EXTRACT_ACTION_PLAN, output_mode=mode)
    async with aclosing(setup.pipeline.run(task, TEXT)) as events:
        async for event in events:
            assert not isinstance(event, Completed | Failed), event
            if isinstance(event, Progress) and event.items_validated == len(ITEMS):
                break  # every item has been read; only "]}" may still be unread
    ((meta, outcome),) = setup.finished.runs
    assert outcome == "cancelled"
    (record,) = meta.calls
    assert record.outcome == "cancelled"
    # What streamed: at least the text up to the last item's closing brace, at most all.
    assert estimate_tokens(ANSWER[:-2]) <= record.completion_tokens <= estimate_tokens(ANSWER)
    assert meta.completion_tokens == record.completion_tokens
    assert setup.finished.reported == [[record.completion_tokens]]  # settled before reported
    assert meta.prompt_tokens > 0
    tokens, _ = setup.ledger.allowances(ANONYMOUS)
    assert tokens.reserved == 0  # the worst case was given back ...
    assert tokens.used == meta.prompt_tokens + meta.completion_tokens  # ... for what was used
    (request,) = sim.simulator.wait_until_settled()
    assert request.hung_up  # the upstream was closed, before its usage chunk


async def test_a_run_cancelled_before_any_text_settles_no_completion_tokens(
    sim: SimulatorServer, setup: Setup
) -> None:
    """The estimate counts what arrived, not what was asked for: nothing, here. The
    run is cancelled as a request whose client went away is."""
    sim.simulator.add({"content": ANSWER, "hold_after_chunks": 0})

    async def run() -> None:
        async with aclosing(setup.pipeline.run(EXTRACT_ACTION_PLAN, TEXT)) as events:
            async for event in events:
                assert not isinstance(event, Completed | Failed), event

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        await anyio.to_thread.run_sync(sim.simulator.wait_until_held)
        group.cancel_scope.cancel()
    ((meta, outcome),) = setup.finished.runs
    assert outcome == "cancelled"
    (record,) = meta.calls
    assert record.outcome == "cancelled" and record.completion_tokens == 0
    tokens, _ = setup.ledger.allowances(ANONYMOUS)
    assert tokens.reserved == 0 and tokens.used == meta.prompt_tokens > 0
