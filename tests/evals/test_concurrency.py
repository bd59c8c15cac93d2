"""At most ``concurrency`` cases run at once, and the run file keeps the dataset's order
whatever order they finish in."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from bff.demo.tasks import EXTRACT_ACTION_PLAN
from bff.evals.dataset import load_dataset
from bff.evals.engine import eval_settings, forced
from bff.evals.runner import Collected, EvalPlan, execute, now, run_file
from bff.evals.scoring import REFERENCE_SPECS
from bff.testing.server import SimulatorServer
from tests.evals.eval_helpers import ROUTE, answer, clear_environment, plan, sim_config
from tests.evals.eval_helpers import write_dataset as write

pytestmark = pytest.mark.anyio


async def test_a_semaphore_bounds_the_cases_in_flight(
    tmp_path: Path, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_environment(monkeypatch)
    cases = [
        {"id": f"c{n}", "input": {"text": f"Call Bob about {n}."}, "expected": plan()}
        for n in range(6)
    ]
    dataset = load_dataset(EXTRACT_ACTION_PLAN, write(tmp_path / "d.jsonl", cases))
    settings = eval_settings(sim_config(tmp_path, sim), ROUTE)
    # The first three streams wait at the gate; the others answer at once.
    sim.simulator.add(
        {**answer(plan()), "hold_after_chunks": 1, "repeat": 3}, {**answer(plan()), "repeat": 3}
    )
    task = forced(EXTRACT_ACTION_PLAN, ROUTE)
    spec = REFERENCE_SPECS["extractActionPlan"]
    run_plan = EvalPlan(task, dataset, ROUTE, concurrency=3, spec=spec)
    collected, started = Collected(), now()
    async with anyio.create_task_group() as group:
        group.start_soon(execute, run_plan, settings, collected)
        requests = await anyio.to_thread.run_sync(sim.simulator.wait_until_held, 3)
        assert len(requests) == 3 and collected.results == []  # no fourth case started
        sim.simulator.release()
    assert len(sim.simulator.requests) == 6
    run = run_file(run_plan, settings, collected, started_at=started)
    assert [c.id for c in run.cases] == [f"c{n}" for n in range(6)]
    assert {c.score for c in run.cases} == {1.0} and run.concurrency == 3
    assert collected.routes == ("sim/gpt-4o",) and run.settings.fallback_models == ()
