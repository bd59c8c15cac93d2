"""The judge scorer (optional, off by default): a model grades free-text fields against a
rubric.

Each free-text field of an output (a top-level ``str`` or ``list[str]`` field whose rule
is not ``exact`` or ``ignore``) is sent with the expected value and the rubric to the
judge's route, as a small structured task run through the same pipeline: its answer is
validated like any other (``{score: 0..1, reason}``). The grade replaces that field's
word-F1 score, and the case's score is the weighted mean again. A judge run that fails
leaves the field's own score.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from bff.evals.run_file import JudgeGrade
from bff.evals.scoring import CaseScore, FieldRule, ScoringSpec
from bff.pipeline import Pipeline
from bff.run import Completed
from bff.tasks import Task

_DEFAULT = FieldRule()


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rubric: str
    field: str
    expected: str
    got: str


class Grade(BaseModel):
    """How well the answer meets the rubric."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0, le=1, description="0: fails the rubric; 1: fully meets it")
    reason: str = Field(max_length=500, description="one or two sentences")


def _prompt(request: GradeRequest) -> str:
    return (
        f"Rubric:\n{request.rubric}\n\nField: {request.field}\n\n"
        f"Reference answer:\n{request.expected}\n\nAnswer to grade:\n{request.got}"
    )


def grading_task(route: str) -> Task[GradeRequest, Grade]:
    return Task(
        name="gradeField",
        description="Grade one free-text field against a rubric.",
        input_model=GradeRequest,
        output_model=Grade,
        system_prompt=(
            "You grade one field of a model's answer against a rubric and a reference "
            "answer. Give a score from 0 (fails the rubric) to 1 (fully meets it) and a "
            "one-sentence reason."
        ),
        prompt=_prompt,
        route=route,
        fallbacks=(),
        max_tokens=300,
    )


@dataclass(frozen=True)
class Judge:
    """Grades free-text fields through ``pipeline``, on the task ``grading_task`` makes."""

    task: Task[GradeRequest, Grade]
    rubric: str

    @classmethod
    def load(cls, route: str, rubric_file: Path) -> Judge:
        """Raises OSError (or ValueError for an empty file) when the rubric is unusable."""
        rubric = rubric_file.read_text(encoding="utf-8").strip()
        if not rubric:
            raise ValueError(f"{rubric_file}: the rubric is empty")
        return cls(grading_task(route), rubric)

    async def grade(
        self, pipeline: Pipeline, spec: ScoringSpec | None, expected: BaseModel, got: BaseModel
    ) -> dict[str, JudgeGrade]:
        grades: dict[str, JudgeGrade] = {}
        for name in free_text_fields(type(expected), spec):
            request = GradeRequest(
                rubric=self.rubric,
                field=name,
                expected=_text(getattr(expected, name)),
                got=_text(getattr(got, name)),
            )
            event = await pipeline.execute(self.task, request)
            if isinstance(event, Completed) and isinstance(event.output, Grade):
                grades[name] = JudgeGrade(score=event.output.score, reason=event.output.reason)
        return grades


def judged(
    model: type[BaseModel],
    spec: ScoringSpec | None,
    score: CaseScore,
    grades: dict[str, JudgeGrade],
) -> CaseScore:
    """``score`` with the graded fields' scores replaced, and its weighted mean again."""
    if not grades:
        return score
    fields = score.fields | {name: grade.score for name, grade in grades.items()}
    total = weights = 0.0
    for name in model.model_fields:
        rule = spec.fields.get(name, _DEFAULT) if spec else _DEFAULT
        if rule.kind != "ignore" and name in fields:
            total += rule.weight * fields[name]
            weights += rule.weight
    return CaseScore(total / weights if weights else 1.0, fields, score.lists)


def free_text_fields(model: type[BaseModel], spec: ScoringSpec | None) -> list[str]:
    """The top-level ``str`` and ``list[str]`` fields not scored exactly (or ignored)."""
    names = []
    for name, info in model.model_fields.items():
        rule = spec.fields.get(name, _DEFAULT) if spec else _DEFAULT
        if rule.kind in ("exact", "ignore"):
            continue
        members = _members(info.annotation)
        if str in members or any(get_args(m) == (str,) for m in members if get_origin(m) is list):
            names.append(name)
    return names


def _members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "\n".join(f"- {item}" for item in value)
    return value if isinstance(value, str) else json.dumps(value)
