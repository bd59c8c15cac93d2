"""Two runs of one task on one dataset, case by case and field by field.

A case's figures are the means over its repeats; it passed when every repeat did.
Runs of different tasks, output schemas or datasets are not compared (``CompareError``):
their scores do not measure the same thing. The new run regresses when its overall score
(over the cases both runs have) drops by more than ``max_drop``, or when a case that
passed (score 1, or the right error code) no longer does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean

from bff.evals.run_file import CaseResult, RunFile

EPSILON = 1e-9


class CompareError(ValueError):
    """The runs cannot be compared; the message says why."""


@dataclass(frozen=True)
class CaseFigures:
    """One case of one run: its mean score and field scores over the repeats."""

    id: str
    score: float
    passed: bool
    fields: dict[str, float]
    outcome: str


@dataclass(frozen=True)
class CaseChange:
    id: str
    base: CaseFigures
    new: CaseFigures

    @property
    def delta(self) -> float:
        return self.new.score - self.base.score

    @property
    def status(self) -> str:
        """``improved``, ``regressed`` or ``same``."""
        if self.delta > EPSILON:
            return "improved"
        return "regressed" if self.delta < -EPSILON else "same"

    @property
    def broke(self) -> bool:
        """It passed in the base run and fails in the new one."""
        return self.base.passed and not self.new.passed

    def field_deltas(self) -> dict[str, tuple[float, float]]:
        """The fields whose score changed: (base, new)."""
        names = sorted(self.base.fields.keys() | self.new.fields.keys())
        pairs = {n: (self.base.fields.get(n, 0.0), self.new.fields.get(n, 0.0)) for n in names}
        return {n: (b, a) for n, (b, a) in pairs.items() if abs(a - b) > EPSILON}


@dataclass(frozen=True)
class Comparison:
    base: RunFile
    new: RunFile
    cases: tuple[CaseChange, ...]
    only_base: tuple[str, ...]
    only_new: tuple[str, ...]
    max_drop: float

    @property
    def base_score(self) -> float:
        return _mean(change.base.score for change in self.cases)

    @property
    def new_score(self) -> float:
        return _mean(change.new.score for change in self.cases)

    @property
    def dropped(self) -> bool:
        return self.base_score - self.new_score > self.max_drop + EPSILON

    @property
    def broken(self) -> list[CaseChange]:
        return [change for change in self.cases if change.broke]

    @property
    def regressed(self) -> bool:
        return self.dropped or bool(self.broken)

    def fields(self) -> dict[str, tuple[float, float]]:
        """Each field's mean (base, new) over the cases both runs have."""
        base = _field_means(change.base for change in self.cases)
        new = _field_means(change.new for change in self.cases)
        return {n: (base.get(n, 0.0), new.get(n, 0.0)) for n in sorted(base.keys() | new.keys())}


def check_comparable(base: RunFile, new: RunFile) -> None:
    """Raise CompareError unless both runs are of one task, schema and dataset."""
    if base.task.name != new.task.name:
        raise CompareError(f"the runs are of different tasks: {base.task.name} and {new.task.name}")
    if base.task.schema_sha256 != new.task.schema_sha256:
        raise CompareError(
            f"the output schema of {base.task.name} changed between the runs "
            f"({base.task.schema_sha256[:12]} and {new.task.schema_sha256[:12]}): "
            "their scores measure different things; run the base again"
        )
    if base.dataset.sha256 != new.dataset.sha256:
        raise CompareError(
            f"the runs used different datasets ({base.dataset.path} sha256 "
            f"{base.dataset.sha256[:12]}, {new.dataset.path} sha256 {new.dataset.sha256[:12]})"
        )


def compare(base: RunFile, new: RunFile, max_drop: float = 0.02) -> Comparison:
    check_comparable(base, new)
    before, after = per_case(base.cases), per_case(new.cases)
    common = [case_id for case_id in before if case_id in after]
    return Comparison(
        base,
        new,
        tuple(CaseChange(case_id, before[case_id], after[case_id]) for case_id in common),
        tuple(case_id for case_id in before if case_id not in after),
        tuple(case_id for case_id in after if case_id not in before),
        max_drop,
    )


def per_case(results: Sequence[CaseResult]) -> dict[str, CaseFigures]:
    """Each case's figures over its repeats, in the run's order."""
    grouped: defaultdict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        grouped[result.id].append(result)
    return {case_id: _figures(case_id, repeats) for case_id, repeats in grouped.items()}


def _figures(case_id: str, repeats: list[CaseResult]) -> CaseFigures:
    names = sorted({name for r in repeats for name in r.fields})
    outcomes = sorted({r.outcome for r in repeats})
    return CaseFigures(
        id=case_id,
        score=fmean(r.score for r in repeats),
        passed=all(r.passed for r in repeats),
        fields={n: fmean(r.fields.get(n, 0.0) for r in repeats) for n in names},
        outcome="/".join(outcomes),
    )


def _field_means(cases: Iterable[CaseFigures]) -> dict[str, float]:
    scores: defaultdict[str, list[float]] = defaultdict(list)
    for case in cases:
        for name, score in case.fields.items():
            scores[name].append(score)
    return {name: fmean(values) for name, values in scores.items()}


def _mean(values: Iterable[float]) -> float:
    listed = list(values)
    return fmean(listed) if listed else 0.0


def comparison_text(comparison: Comparison) -> str:
    """What changed, for the terminal: the verdict, the fields, then each changed case."""
    c = comparison
    delta = c.new_score - c.base_score
    lines = [
        f"{c.base.task.name}: {len(c.cases)} cases in both runs ({c.base.route} -> {c.new.route})",
        f"overall  {c.base_score:.3f} -> {c.new_score:.3f}  ({delta:+.3f}; "
        f"allowed drop {c.max_drop:.3f})",
    ]
    lines += [
        f"  {name}  {b:.3f} -> {a:.3f}  ({a - b:+.3f})"
        for name, (b, a) in c.fields().items()
        if abs(a - b) > EPSILON
    ]
    for change in c.cases:
        if change.status != "same" or change.broke:
            lines.append(_case_line(change))
    if c.only_base or c.only_new:
        lines.append(
            f"not compared: {len(c.only_base)} cases only in the base run, "
            f"{len(c.only_new)} only in the new run"
        )
    if c.new.interrupted or c.base.interrupted:
        lines.append("note: a run was interrupted; only the cases both finished are compared")
    lines.append(_verdict(c))
    return "\n".join(lines)


def _case_line(change: CaseChange) -> str:
    fields = ", ".join(f"{n} {b:.2f} -> {a:.2f}" for n, (b, a) in change.field_deltas().items())
    mark = "  FAILS NOW" if change.broke else ""
    base, new = change.base, change.new
    return (
        f"{change.status:<9} {change.id}  {base.score:.3f} -> {new.score:.3f} "
        f"({base.outcome} -> {new.outcome})" + (f"  [{fields}]" if fields else "") + mark
    )


def _verdict(c: Comparison) -> str:
    if not c.regressed:
        return "no regression"
    reasons = []
    if c.dropped:
        reasons.append(f"the overall score dropped by {c.base_score - c.new_score:.3f}")
    if c.broken:
        broken = ", ".join(change.id for change in c.broken)
        reasons.append(f"{len(c.broken)} passing cases now fail: {broken}")
    return "REGRESSION: " + "; ".join(reasons)
