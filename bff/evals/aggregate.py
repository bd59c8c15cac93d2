"""A run's aggregates from its case results: per field, per list, per tag and overall."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from statistics import fmean

from bff.evals.run_file import Aggregates, CaseResult, ListFigures, Overall, TagFigures


def aggregate(cases: Sequence[CaseResult]) -> Aggregates:
    return Aggregates(
        overall=overall(cases),
        fields=field_means(cases),
        lists=list_means(cases),
        tags=tag_figures(cases),
    )


def overall(cases: Sequence[CaseResult]) -> Overall:
    verdicts = sum(case.verdicts for case in cases)
    failures = sum(case.validation_failures for case in cases)
    latencies = [case.latency_ms for case in cases]
    return Overall(
        cases=len(cases),
        passed=sum(case.passed for case in cases),
        score=_mean(case.score for case in cases),
        provider_calls=sum(case.calls for case in cases),
        verdicts=verdicts,
        validation_failures=failures,
        validation_failure_rate=failures / verdicts if verdicts else 0.0,
        latency_p50_ms=percentile(latencies, 0.50),
        latency_p95_ms=percentile(latencies, 0.95),
        prompt_tokens=sum(case.prompt_tokens for case in cases),
        completion_tokens=sum(case.completion_tokens for case in cases),
        cost_usd=sum(case.cost_usd for case in cases),
        outcomes=dict(sorted(Counter(case.outcome for case in cases).items())),
    )


def field_means(cases: Iterable[CaseResult]) -> dict[str, float]:
    scores: defaultdict[str, list[float]] = defaultdict(list)
    for case in cases:
        for name, score in case.fields.items():
            scores[name].append(score)
    return {name: fmean(values) for name, values in sorted(scores.items())}


def list_means(cases: Iterable[CaseResult]) -> dict[str, ListFigures]:
    figures: defaultdict[str, list[ListFigures]] = defaultdict(list)
    for case in cases:
        for name, figure in case.lists.items():
            figures[name].append(figure)
    return {
        name: ListFigures(
            precision=fmean(f.precision for f in values),
            recall=fmean(f.recall for f in values),
            f1=fmean(f.f1 for f in values),
        )
        for name, values in sorted(figures.items())
    }


def tag_figures(cases: Iterable[CaseResult]) -> dict[str, TagFigures]:
    tagged: defaultdict[str, list[CaseResult]] = defaultdict(list)
    for case in cases:
        for tag in case.tags:
            tagged[tag].append(case)
    return {
        tag: TagFigures(
            cases=len(members),
            passed=sum(case.passed for case in members),
            score=_mean(case.score for case in members),
        )
        for tag, members in sorted(tagged.items())
    }


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def worst(cases: Sequence[CaseResult], count: int = 5) -> list[CaseResult]:
    """The ``count`` lowest-scoring cases that did not pass, lowest first."""
    failing = [case for case in cases if not case.passed]
    return sorted(failing, key=lambda case: (case.score, case.id, case.repeat))[:count]


def _mean(values: Iterable[float]) -> float:
    listed = list(values)
    return fmean(listed) if listed else 0.0
