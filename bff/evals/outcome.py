"""One finished run of one case, scored and made into the run file's record of it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from bff.evals.dataset import Case
from bff.evals.run_file import CaseResult, JudgeGrade, ListFigures
from bff.evals.scoring import CaseScore, ListScore, ScoringSpec, score_error, score_output
from bff.run import Completed, ErrorCode, Failed, Fallback, RunMeta
from bff.tasks import Task


def outcome_name(event: Completed | Failed) -> str:
    """``ok``, the fallback that answered (``model``, ``safe_response``), or the error code."""
    if isinstance(event, Failed):
        return event.code.value
    if event.meta.fallback is Fallback.NONE:
        return "ok"
    return event.meta.fallback.value.lower()


def case_score(
    task: Task[Any, Any], case: Case, event: Completed | Failed, spec: ScoringSpec | None
) -> CaseScore:
    """The case's score: the error code against the expected one, or the output field by
    field (every field 0 when the run failed)."""
    got_code = event.code if isinstance(event, Failed) else None
    if isinstance(case.expected, ErrorCode):
        return score_error(case.expected, got_code)
    if isinstance(event, Completed):
        return score_output(task.output_model, case.expected, event.output, spec)
    perfect = score_output(task.output_model, case.expected, case.expected, spec)
    nothing = ListScore(0.0, 0.0, 0.0)
    return CaseScore(0.0, dict.fromkeys(perfect.fields, 0.0), dict.fromkeys(perfect.lists, nothing))


def case_result(
    case: Case,
    repeat: int,
    event: Completed | Failed,
    score: CaseScore,
    judge: dict[str, JudgeGrade] | None = None,
) -> CaseResult:
    meta = event.meta
    expected = case.expected
    return CaseResult(
        id=case.id,
        repeat=repeat,
        tags=case.tags,
        input=case.input.model_dump(mode="json"),
        expected=expected.model_dump(mode="json") if isinstance(expected, BaseModel) else None,
        expected_error=expected if isinstance(expected, ErrorCode) else None,
        output=event.output.model_dump(mode="json") if isinstance(event, Completed) else None,
        error=event.code if isinstance(event, Failed) else None,
        error_message=event.message if isinstance(event, Failed) else None,
        outcome=outcome_name(event),
        route=meta.route,
        score=score.score,
        fields=score.fields,
        lists={
            path: ListFigures(precision=s.precision, recall=s.recall, f1=s.f1)
            for path, s in score.lists.items()
        },
        judge=judge or {},
        **_usage(meta),
    )


def _usage(meta: RunMeta) -> dict[str, Any]:
    return {
        "attempts": meta.attempts,
        "latency_ms": round(meta.latency_ms, 3),
        "prompt_tokens": meta.prompt_tokens,
        "completion_tokens": meta.completion_tokens,
        "cost_usd": meta.cost_usd,
        "calls": len(meta.calls),
        "verdicts": sum(call.validation_failure or call.outcome == "ok" for call in meta.calls),
        "validation_failures": sum(call.validation_failure for call in meta.calls),
    }
