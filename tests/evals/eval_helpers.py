"""What the eval tests share: datasets on disk, a config routed to the simulator, scripted
answers, and `bff eval` run in this process."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bff.cli import main
from bff.demo.tasks import reference_tasks
from bff.evals.run_file import RunFile, load_run
from bff.tasks import Task, TaskRegistry
from bff.testing.server import SimulatorServer

ROUTE = "sim/gpt-4o"
AWAITING_DATASETS: frozenset[str] = frozenset()
"""Reference tasks whose golden dataset, scoring spec and baseline are still to come (none
now); ``test_only_the_tasks_awaiting_datasets_have_none`` keeps this honest."""


def evaluated_tasks() -> list[Task[Any, Any]]:
    """The reference tasks the eval gate covers (``EVAL_TASKS`` in the Makefile)."""
    return [task for task in reference_tasks() if task.name not in AWAITING_DATASETS]


def clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bff` in this process reads only what a test sets."""
    for name in list(os.environ):
        if name.startswith(("BFF_", "OPENAI_")):
            monkeypatch.delenv(name)


def sim_config(directory: Path, sim: SimulatorServer, **extra: object) -> Path:
    """A TOML config with the simulator as endpoint `sim`, quick retries, and breakers
    that deliberately failing cases do not open."""
    lines = [
        "retry_base_s = 0.01",
        "breaker_threshold = 50",
        "demo_chunk_delay_s = 0",
        *(f"{key} = {json.dumps(value)}" for key, value in extra.items()),
        "[endpoints.sim]",
        f'base_url = "{sim.base_url}"',
    ]
    path = directory / "sim.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_dataset(path: Path, cases: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
    return path


def plan(*actions: tuple[str, int, str]) -> dict[str, Any]:
    """An ActionPlan as JSON: (action_type, priority, summary) per action."""
    return {
        "actions": [
            {"action_type": kind, "priority": priority, "summary": summary}
            for kind, priority, summary in actions
        ]
    }


def answer(output: dict[str, Any]) -> dict[str, str]:
    """A simulator step answering with ``output``."""
    return {"content": json.dumps(output)}


MALFORMED = {"content": '{"actions": [}'}


def run_eval(
    task: str, dataset: Path, out: Path, config: Path, *more: str, route: str = ROUTE
) -> int:
    argv = ["eval", task, "--route", route, "--dataset", str(dataset), "--out", str(out)]
    return main([*argv, "--config", str(config), "--concurrency", "1", *more])


def loaded(path: Path) -> RunFile:
    return load_run(path)


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)


class Rating(BaseModel):
    """Stars and a one-line verdict."""

    model_config = ConfigDict(extra="forbid")
    stars: int = Field(ge=1, le=5)
    verdict: str = Field(max_length=120)


RATE_REVIEW: Task[Review, Rating] = Task(
    name="rateReview",
    description="Rate a review.",
    input_model=Review,
    output_model=Rating,
    system_prompt="Rate the review from 1 to 5 stars and sum it up in one line.",
)
TASKS = TaskRegistry([RATE_REVIEW])
"""A task without a safe response: its failures end in error codes (``--tasks``)."""
TASKS_SPEC = "tests.evals.eval_helpers:TASKS"
