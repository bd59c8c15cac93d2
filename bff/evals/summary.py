"""The terminal summary of a run: overall score, per-field bars, per-tag, worst cases,
validation failures, latency and tokens. Plain text, one line per fact."""

from __future__ import annotations

from bff.evals.aggregate import worst
from bff.evals.run_file import CaseResult, RunFile

BAR_WIDTH = 20


def bar(score: float, width: int = BAR_WIDTH) -> str:
    """``score`` (0 to 1) as a text bar: filled blocks, then light shade."""
    filled = round(max(0.0, min(1.0, score)) * width)
    return "█" * filled + "░" * (width - filled)


def summary(run: RunFile) -> str:
    """Every line of the summary, joined."""
    lines = [*_head(run), *_fields(run), *_tags(run), *_worst(run), *_costs(run)]
    return "\n".join(lines)


def _head(run: RunFile) -> list[str]:
    overall = run.aggregates.overall
    repeats = f", {run.repeat} repeats each" if run.repeat > 1 else ""
    lines = [
        f"{run.task.name} on {run.route}: {overall.cases} cases{repeats}, {overall.passed} passed",
        f"overall score  {bar(overall.score)} {overall.score:.3f}",
        "outcomes       " + ", ".join(f"{k} {v}" for k, v in overall.outcomes.items()),
    ]
    if run.interrupted:
        lines.append("interrupted: only the cases that finished are counted")
    return lines


def _fields(run: RunFile) -> list[str]:
    fields, lists = run.aggregates.fields, run.aggregates.lists
    if not fields:
        return []
    width = max(len(name) for name in fields)
    lines = ["fields"]
    for name, score in fields.items():
        line = f"  {name:<{width}}  {bar(score)} {score:.3f}"
        if name in lists:
            figures = lists[name]
            line += f"  (P {figures.precision:.2f} R {figures.recall:.2f} F1 {figures.f1:.2f})"
        lines.append(line)
    return lines


def _tags(run: RunFile) -> list[str]:
    tags = run.aggregates.tags
    if not tags:
        return []
    width = max(len(tag) for tag in tags)
    return ["tags"] + [
        f"  {tag:<{width}}  {bar(f.score)} {f.score:.3f}  {f.passed}/{f.cases} passed"
        for tag, f in tags.items()
    ]


def _worst(run: RunFile) -> list[str]:
    cases = worst(run.cases)
    if not cases:
        return ["worst cases    none: every case passed"]
    return ["worst cases"] + [f"  {_label(case)}" for case in cases]


def _label(case: CaseResult) -> str:
    repeat = f" #{case.repeat}" if case.repeat > 1 else ""
    low = sorted((s, name) for name, s in case.fields.items() if s < 1)[:3]
    weak = ", ".join(f"{name} {s:.2f}" for s, name in low)
    return f"{case.id}{repeat}  {case.score:.3f}  {case.outcome}" + (f"  ({weak})" if weak else "")


def _costs(run: RunFile) -> list[str]:
    o = run.aggregates.overall
    return [
        f"validation failures  {o.validation_failures} of {o.verdicts} answers "
        f"({o.validation_failure_rate:.1%}; {o.provider_calls} provider calls)",
        f"latency  p50 {o.latency_p50_ms:.0f} ms  p95 {o.latency_p95_ms:.0f} ms",
        f"tokens   prompt {o.prompt_tokens:,}  completion {o.completion_tokens:,}  "
        f"cost ${o.cost_usd:.4f}",
    ]
