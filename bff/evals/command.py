"""``bff eval``: run a task's golden dataset through the pipeline and score it;
``bff eval compare`` two runs; ``bff eval report`` one run or two as HTML.

Exit codes: 0 done, 1 a regression (compare), 2 a usage, setting, dataset or run-file
problem, 130 interrupted (the cases that finished are written all the same).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bff.config import Settings
from bff.evals.compare import CompareError, compare, comparison_text
from bff.evals.dataset import DatasetError, default_dataset, load_dataset
from bff.evals.engine import eval_settings, forced
from bff.evals.judge import Judge
from bff.evals.progress import ProgressBar
from bff.evals.report import report_html
from bff.evals.run_file import RunFile, RunFileError, load_run, write_run
from bff.evals.runner import Collected, EvalPlan, execute, now, run_file
from bff.evals.scoring import REFERENCE_SPECS
from bff.evals.summary import summary
from bff.exceptions import ConfigError
from bff.tasks import TaskRegistry

TasksFor = Callable[[str | None], TaskRegistry]
"""The tasks of ``--tasks MODULE:ATTR``, or the default ones for None."""
INTERRUPTED = 130


class UsageError(Exception):
    """A problem to print as one line before exiting 2."""


def main(argv: Sequence[str], tasks_for: TasksFor) -> int:
    args = list(argv)
    try:
        if args[:1] == ["compare"]:
            return compare_command(args[1:])
        if args[:1] == ["report"]:
            return report_command(args[1:])
        return eval_command(args, tasks_for)
    except ConfigError as exc:
        for setting, message in exc.problems:
            print(f"bff: invalid setting {setting}: {message}", file=sys.stderr)
        return 2
    except (UsageError, DatasetError, RunFileError, CompareError) as exc:
        print(f"bff eval: {exc}", file=sys.stderr)
        return 2


def _eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bff eval",
        description="Run TASK's golden dataset through the pipeline on ROUTE and score "
        "it; `bff eval compare BASE NEW` and `bff eval report RUN [NEW]` read run files.",
    )
    parser.add_argument("task", metavar="TASK", help="the task's name, e.g. extractActionPlan")
    parser.add_argument("--route", required=True, help="the model route, e.g. demo/heuristic")
    parser.add_argument("--dataset", type=Path, help="JSONL cases (default evals/TASK.jsonl)")
    parser.add_argument("--out", type=Path, help="the run file (default evals/runs/TASK-TIME.json)")
    parser.add_argument("--html", type=Path, help="also write the HTML report here")
    parser.add_argument(
        "--concurrency", type=_positive, default=8, metavar="N", help="cases in flight (default 8)"
    )
    parser.add_argument(
        "--repeat", type=_positive, default=1, metavar="K", help="run every case K times"
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="T",
        help="only cases with this tag (repeatable: any of them)",
    )
    parser.add_argument(
        "--drift-baseline",
        action="store_true",
        help="print BFF_DRIFT_EXPECTED_RATE=<rate> from this run",
    )
    parser.add_argument(
        "--safe-response",
        action="store_true",
        help="keep the task's safe response: score what a frontend receives, not only what "
        "the routes answered",
    )
    parser.add_argument("--config", type=Path, help="TOML config file (environment wins)")
    parser.add_argument(
        "--tasks", metavar="MODULE:ATTR", help="these tasks instead of the reference tasks"
    )
    parser.add_argument("--judge", metavar="ROUTE", help="grade free-text fields with this route")
    parser.add_argument(
        "--rubric", type=Path, metavar="FILE", help="the judge's rubric (with --judge)"
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def eval_command(argv: Sequence[str], tasks_for: TasksFor) -> int:
    args = _eval_parser().parse_args(argv)
    plan, settings = _plan(args, tasks_for)
    collected, started = Collected(), now()
    with ProgressBar(len(plan.jobs()), plan.task.name) as bar:
        try:
            asyncio.run(execute(plan, settings, collected, bar.advance))
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
    run = run_file(plan, settings, collected, started_at=started, interrupted=interrupted)
    out = args.out or Path("evals/runs") / f"{plan.task.name}-{started:%Y%m%dT%H%M%SZ}.json"
    try:
        write_run(out, run)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    print(summary(run))
    print(f"bff eval: wrote {out}", file=sys.stderr)
    if args.html is not None:
        _write_html(args.html, report_html(run))
    if args.drift_baseline:
        print(f"BFF_DRIFT_EXPECTED_RATE={run.aggregates.overall.validation_failure_rate:.6g}")
    if interrupted:
        print(f"bff eval: interrupted after {len(run.cases)} cases", file=sys.stderr)
        return INTERRUPTED
    return 0


def _plan(args: argparse.Namespace, tasks_for: TasksFor) -> tuple[EvalPlan, Settings]:
    tasks = tasks_for(args.tasks)
    task = tasks.get(args.task)
    if task is None:
        known = ", ".join(t.name for t in tasks)
        raise UsageError(f"unknown task {args.task!r} (known: {known})")
    settings = eval_settings(args.config, args.route)
    dataset = load_dataset(task, args.dataset or default_dataset(task.name))
    plan = EvalPlan(
        task=forced(task, args.route, safe_response=args.safe_response),
        dataset=dataset,
        route=args.route,
        concurrency=args.concurrency,
        repeat=args.repeat,
        tags=tuple(args.tag),
        spec=REFERENCE_SPECS.get(task.name),
        judge=_judge(args, settings),
    )
    if not plan.jobs():
        raise UsageError(f"no case of {dataset.path} has the tag {' or '.join(args.tag)}")
    return plan, settings


def _judge(args: argparse.Namespace, settings: Settings) -> Judge | None:
    if args.judge is None:
        if args.rubric is not None:
            raise UsageError("--rubric needs --judge ROUTE")
        return None
    if args.rubric is None:
        raise UsageError("--judge needs --rubric FILE")
    eval_settings(args.config, args.judge)  # the judge's route must be configured too
    try:
        return Judge.load(args.judge, args.rubric)
    except OSError as exc:
        raise UsageError(f"cannot read the rubric {args.rubric}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def compare_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bff eval compare",
        description="Compare two runs of one task on one dataset; exit 1 on a regression.",
    )
    parser.add_argument("base", type=Path, metavar="BASE.json")
    parser.add_argument("new", type=Path, metavar="NEW.json")
    parser.add_argument(
        "--max-drop",
        type=float,
        default=0.02,
        metavar="D",
        help="the overall score may drop this much (default 0.02)",
    )
    parser.add_argument("--html", type=Path, help="also write the side-by-side HTML report")
    args = parser.parse_args(argv)
    base, new = load_run(args.base), load_run(args.new)
    comparison = compare(base, new, args.max_drop)
    print(comparison_text(comparison))
    if args.html is not None:
        _write_html(args.html, report_html(base, new, args.max_drop))
    return 1 if comparison.regressed else 0


def report_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bff eval report",
        description="Report one run, or two side by side with their deltas.",
    )
    parser.add_argument(
        "runs", type=Path, nargs="+", metavar="RUN.json", help="one or two run files"
    )
    parser.add_argument("--html", type=Path, help="write the HTML report here (else: text)")
    parser.add_argument("--max-drop", type=float, default=0.02, metavar="D")
    args = parser.parse_args(argv)
    if len(args.runs) > 2:
        parser.error("give one run file, or two to compare")
    runs: list[RunFile] = [load_run(path) for path in args.runs]
    if args.html is not None:
        new = runs[1] if len(runs) > 1 else None
        _write_html(args.html, report_html(runs[0], new, args.max_drop))
    elif len(runs) == 1:
        print(summary(runs[0]))
    else:
        print(comparison_text(compare(runs[0], runs[1], args.max_drop)))
    return 0


def _write_html(path: Path, html: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    print(f"bff eval: wrote {path}", file=sys.stderr)
