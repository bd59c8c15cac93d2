"""The committed baselines of `make eval` match the committed datasets and the tasks'
schemas: otherwise the gate refuses to compare, and says to run `make eval-baselines`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bff.evals.run_file import load_run, schema_sha256
from tests.evals.eval_helpers import evaluated_tasks

EVALS = Path(__file__).resolve().parents[2] / "evals"
TASKS = {task.name: task for task in evaluated_tasks()}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_the_baseline_is_of_the_committed_dataset_and_schema(name: str) -> None:
    run = load_run(EVALS / "baselines" / f"{name}.json")
    dataset = EVALS / f"{name}.jsonl"
    stale = "stale baseline: run `make eval-baselines` and commit evals/baselines/"
    assert run.dataset.sha256 == hashlib.sha256(dataset.read_bytes()).hexdigest(), stale
    assert run.task.schema_sha256 == schema_sha256(TASKS[name].json_schema), stale
    assert run.route == "demo/heuristic" and not run.interrupted
    assert run.dataset.path == f"evals/{name}.jsonl"
    assert len(run.cases) == run.dataset.cases and run.repeat == 1 and run.tags == ()
