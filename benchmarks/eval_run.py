"""How long an eval of 150 cases takes on the demo model: the first 50 cases of each
reference task's committed dataset, 8 at a time, through the real pipeline (sanitizing,
attempts, tools, streaming validation, scoring) as ``bff eval`` runs them.

Two settings of the demo model: its default pacing (a pause of ``demo_chunk_delay_s``,
12 ms, between streamed chunks, as ``make serve`` shows it) and no pacing (as ``make
eval`` runs it), so the second is the BFF's own cost. Three rounds each; the target is
under 30 s for the 150 cases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import time

from bff.config import Settings
from bff.demo.tasks import reference_tasks
from bff.evals.dataset import default_dataset, load_dataset
from bff.evals.engine import forced
from bff.evals.runner import Collected, EvalPlan, execute
from bff.evals.scoring import REFERENCE_SPECS

ROUTE = "demo/heuristic"
PER_TASK = 50
CONCURRENCY = 8
ROUNDS = 3
TARGET_S = 30.0


def _plans() -> list[EvalPlan]:
    plans = []
    for task in reference_tasks():
        dataset = load_dataset(task, default_dataset(task.name))
        dataset = dataclasses.replace(dataset, cases=dataset.cases[:PER_TASK])
        plans.append(
            EvalPlan(
                forced(task, ROUTE),
                dataset,
                ROUTE,
                concurrency=CONCURRENCY,
                spec=REFERENCE_SPECS.get(task.name),
            )
        )
    return plans


async def _round(plans: list[EvalPlan], settings: Settings) -> tuple[float, int]:
    """Seconds for every plan, one task after the other, and the cases run."""
    started, cases = time.perf_counter(), 0
    for plan in plans:
        collected = Collected()
        await execute(plan, settings, collected)
        cases += len(collected.results)
    return time.perf_counter() - started, cases


def main() -> None:
    for name in list(os.environ):
        if name.startswith(("BFF_", "OPENAI_")):
            del os.environ[name]
    plans = _plans()
    total = sum(len(plan.jobs()) for plan in plans)
    print(
        f"\neval_run: {total} cases ({PER_TASK} of each reference task) on {ROUTE}, "
        f"{CONCURRENCY} at a time, {ROUNDS} rounds"
    )
    print(f"{'demo pacing':>24} {'wall s median':>14} {'min':>6} {'max':>6} {'cases/s':>8}")
    for label, delay in (("12 ms/chunk (default)", 0.012), ("none (make eval)", 0.0)):
        settings = Settings(model=ROUTE, demo_chunk_delay_s=delay, log_level="warning")
        times = []
        for _ in range(ROUNDS):
            seconds, cases = asyncio.run(_round(plans, settings))
            assert cases == total, (cases, total)
            times.append(seconds)
        median = statistics.median(times)
        print(
            f"{label:>24} {median:>14.2f} {min(times):>6.2f} {max(times):>6.2f} "
            f"{total / median:>8.1f}"
        )
    print(f"target: under {TARGET_S:g} s for {total} cases")


if __name__ == "__main__":
    main()
