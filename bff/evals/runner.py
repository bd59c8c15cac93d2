"""Run a dataset's cases through the pipeline, a few at a time, and record each as it ends.

Each case (each repeat of it) is one ``Pipeline.execute`` of the task on its input,
scored against the expected output or error code. At most ``concurrency`` run at once
(a semaphore). Results go to ``done`` as they finish, so whoever holds them still has
every finished case when the run is cancelled (Ctrl-C) part way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bff.config import Settings
from bff.evals.aggregate import aggregate
from bff.evals.dataset import Case, Dataset
from bff.evals.engine import eval_pipeline
from bff.evals.judge import Judge, judged
from bff.evals.outcome import case_result, case_score
from bff.evals.run_file import (
    CaseResult,
    DatasetInfo,
    RunFile,
    RunSettings,
    TaskInfo,
    schema_sha256,
)
from bff.evals.scoring import ScoringSpec
from bff.pipeline import Pipeline
from bff.run import Completed
from bff.tasks import Task


@dataclass(frozen=True)
class EvalPlan:
    """What to run: the task (its route already forced), the cases, how often, how wide."""

    task: Task[Any, Any]
    dataset: Dataset
    route: str
    concurrency: int = 8
    repeat: int = 1
    tags: tuple[str, ...] = ()
    """Run only the cases with at least one of these tags (empty: every case)."""
    spec: ScoringSpec | None = None
    judge: Judge | None = None

    def cases(self) -> list[Case]:
        wanted = set(self.tags)
        return [c for c in self.dataset.cases if not wanted or wanted.intersection(c.tags)]

    def jobs(self) -> list[tuple[Case, int]]:
        """Every (case, repeat) to run, repeats of a case next to each other."""
        return [(case, n) for case in self.cases() for n in range(1, self.repeat + 1)]


async def run_cases(pipeline: Pipeline, plan: EvalPlan, done: Callable[[CaseResult], None]) -> None:
    """Run every job of ``plan``; ``done`` gets each result as it finishes. Cancelling
    cancels the runs still going (their providers' requests close with them)."""
    semaphore = asyncio.Semaphore(plan.concurrency)

    async def one(case: Case, repeat: int) -> None:
        async with semaphore:
            done(await run_case(pipeline, plan, case, repeat))

    async with asyncio.TaskGroup() as group:
        for case, repeat in plan.jobs():
            group.create_task(one(case, repeat))


async def run_case(pipeline: Pipeline, plan: EvalPlan, case: Case, repeat: int) -> CaseResult:
    task = plan.task
    event = await pipeline.execute(task, case.input)
    score = case_score(task, case, event, plan.spec)
    grades = None
    expected = case.expected
    if plan.judge is not None and isinstance(event, Completed) and isinstance(expected, BaseModel):
        grades = await plan.judge.grade(pipeline, plan.spec, expected, event.output)
        score = judged(task.output_model, plan.spec, score, grades)
    return case_result(case, repeat, event, score, grades)


@dataclass
class Collected:
    """What a run has gathered so far: kept by the caller, so a cancelled run keeps it."""

    results: list[CaseResult] = field(default_factory=list)
    routes: tuple[str, ...] = ()
    """The task's routes as the pipeline tries them: the forced route, then fallbacks."""


async def execute(
    plan: EvalPlan,
    settings: Settings,
    collected: Collected,
    on_result: Callable[[CaseResult], None] = lambda result: None,
) -> None:
    """Run ``plan`` through a pipeline built from ``settings``, into ``collected``."""

    def done(result: CaseResult) -> None:
        collected.results.append(result)
        on_result(result)

    async with eval_pipeline(settings) as pipeline:
        collected.routes = tuple(pipeline.routes(plan.task))
        await run_cases(pipeline, plan, done)


def run_file(
    plan: EvalPlan,
    settings: Settings,
    collected: Collected,
    *,
    started_at: datetime,
    interrupted: bool = False,
) -> RunFile:
    """The run file of what was collected (in dataset order, whatever order the cases
    finished in)."""
    order = {case.id: index for index, case in enumerate(plan.dataset.cases)}
    cases = sorted(collected.results, key=lambda r: (order.get(r.id, len(order)), r.repeat))
    task = plan.task
    return RunFile(
        task=TaskInfo(name=task.name, schema_sha256=schema_sha256(task.json_schema)),
        route=plan.route,
        settings=run_settings(task, settings, collected.routes[1:]),
        dataset=DatasetInfo(
            path=shown(plan.dataset.path),
            sha256=plan.dataset.sha256,
            cases=len(plan.dataset.cases),
        ),
        repeat=plan.repeat,
        concurrency=plan.concurrency,
        tags=plan.tags,
        judge=plan.judge.task.route if plan.judge is not None else None,
        started_at=started_at,
        finished_at=now(),
        interrupted=interrupted,
        cases=tuple(cases),
        aggregates=aggregate(cases),
    )


def run_settings(task: Task[Any, Any], settings: Settings, fallbacks: Sequence[str]) -> RunSettings:
    return RunSettings(
        max_attempts=settings.max_attempts,
        fallback_models=tuple(fallbacks),
        request_timeout_s=settings.request_timeout_s,
        first_token_timeout_s=settings.first_token_timeout_s,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        temperature=task.temperature,
        max_tokens=task.max_tokens,
        max_tokens_cap=settings.max_tokens_cap,
        output_mode=task.output_mode,
    )


def shown(path: Path) -> str:
    """``path`` relative to the current directory when under it (so that a committed run
    file names no machine's folders), else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def now() -> datetime:
    return datetime.now(UTC)
