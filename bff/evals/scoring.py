"""Scoring an output against the expected one, field by field.

Every field gets a score in [0, 1]. By default the output model decides how:
enums, ``Literal``s, booleans, numbers and None match exactly (numbers within a
rule's tolerance); free text scores the F1 of its words; a nested model scores
the weighted mean of its fields; a list pairs its items with the best assignment
(the Hungarian algorithm) and scores the F1 of soft precision and soft recall.
A ``ScoringSpec`` changes the weight, the tolerance or the kind of any field by
its dotted path: ``"actions"``, ``"actions.priority"`` (a field of the list's
items), ``"headline"``. The ``citations`` kind scores a list of snippet ids by its
citation precision against the expected source paths (``bff.evals.citations``).
"""

from __future__ import annotations

import math
import re
import types
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from bff.evals.citations import citation_precision_recall
from bff.run import ErrorCode

Kind = Literal["auto", "citations", "exact", "f1", "ignore"]
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class FieldRule:
    """How one field is scored: its weight in its model's mean, the tolerance for
    numbers (``|a - b| <= tolerance`` scores 1), and the kind of comparison
    (``auto``: from the field's type; ``citations``: a list of snippet ids scored by
    its citation precision against the expected sources; ``ignore``: not scored at all)."""

    weight: float = 1.0
    tolerance: float | None = None
    kind: Kind = "auto"

    def __post_init__(self) -> None:
        if not self.weight >= 0 or math.isinf(self.weight):
            raise ValueError(f"weight must be a finite number of 0 or more, not {self.weight}")
        if self.tolerance is not None and not self.tolerance >= 0:
            raise ValueError(f"tolerance must be 0 or more, not {self.tolerance}")
        if self.kind not in get_args(Kind):
            raise ValueError(f"kind must be one of {', '.join(get_args(Kind))}")


@dataclass(frozen=True)
class ScoringSpec:
    """A task's field rules by dotted path; a field without one gets ``FieldRule()``."""

    fields: Mapping[str, FieldRule] = field(default_factory=dict)


@dataclass(frozen=True)
class ListScore:
    """A list's soft precision (matched item scores over the items got), soft recall
    (over the items expected) and their F1. Both empty: all 1; nothing got: precision 1,
    recall 0; nothing expected: precision 0, recall 1."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class CaseScore:
    """One case: the weighted mean of the top-level fields, each field's score by
    dotted path (nested models' fields too), and the list scores by path."""

    score: float
    fields: dict[str, float]
    lists: dict[str, ListScore]


_DEFAULT = FieldRule()
_EMPTY = ScoringSpec()

REFERENCE_SPECS: dict[str, ScoringSpec] = {
    # An action's type and priority count as much as its summary; priorities are a
    # judgement call, so one step off still counts.
    "extractActionPlan": ScoringSpec(
        {
            "actions.action_type": FieldRule(weight=1.0),
            "actions.priority": FieldRule(weight=1.0, tolerance=1.0),
            "actions.summary": FieldRule(weight=1.0, kind="f1"),
        }
    ),
    # The labels route the ticket (category, urgent) and must be exact; the wording
    # of the headline and the points is scored by their words.
    "summarizeTicket": ScoringSpec(
        {
            "headline": FieldRule(weight=1.0, kind="f1"),
            "sentiment": FieldRule(weight=1.0, kind="exact"),
            "category": FieldRule(weight=1.5, kind="exact"),
            "urgent": FieldRule(weight=1.5, kind="exact"),
            "key_points": FieldRule(weight=1.0, kind="f1"),
        }
    ),
    # The facts come from the bundled table and must match it exactly; the sentence
    # around them matters less.
    "briefCountry": ScoringSpec(
        {
            "country": FieldRule(weight=1.0, kind="exact"),
            "capital": FieldRule(weight=1.0, kind="exact"),
            "currency": FieldRule(weight=1.0, kind="exact"),
            "calling_code": FieldRule(weight=1.0, kind="exact"),
            "summary": FieldRule(weight=0.5, kind="f1"),
        }
    ),
    # An answer from the handbook: whether it found one, and whether its citations come
    # from the pages that hold the answer (citation precision), weigh most; the wording
    # of the answer is scored by its words and matters less.
    "answerFromDocs": ScoringSpec(
        {
            "answer": FieldRule(weight=0.5, kind="f1"),
            "citations": FieldRule(weight=1.5, kind="citations"),
            "found": FieldRule(weight=1.5, kind="exact"),
        }
    ),
}


@dataclass
class _Scores:
    """What a scoring walk collects: field scores and list scores by path."""

    fields: dict[str, float] = field(default_factory=dict)
    lists: dict[str, ListScore] = field(default_factory=dict)


def score_output(
    model: type[BaseModel], expected: BaseModel, got: BaseModel, spec: ScoringSpec | None = None
) -> CaseScore:
    """How well ``got`` matches ``expected``, both instances of ``model``."""
    for name, value in (("expected", expected), ("got", got)):
        if not isinstance(value, model):
            raise TypeError(f"{name} is a {type(value).__name__}, not a {model.__name__}")
    found = _Scores()
    score = _model_score(model, expected, got, "", spec or _EMPTY, found)
    return CaseScore(score, found.fields, found.lists)


def score_error(expected: ErrorCode, got_code: ErrorCode | None) -> CaseScore:
    """1 when the run failed with the expected code, else 0 (``got_code`` None: it did not
    fail)."""
    score = 1.0 if got_code is expected else 0.0
    return CaseScore(score, {"error": score}, {})


def text_f1(expected: str, got: str) -> float:
    """The F1 of the two texts' words (case-folded, split on what is not a letter or a
    digit in any script); two texts without words score 1."""
    want, have = _words(expected), _words(got)
    if not want or not have:
        return 1.0 if not want and not have else 0.0
    common = sum((want & have).values())
    return _f1(common / have.total(), common / want.total())


def best_assignment(scores: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """Pairs (row, column), each row and column at most once, as many as the shorter side
    allows, with the largest sum of scores (the Hungarian algorithm)."""
    if not scores or not scores[0]:
        return []
    if len(scores) > len(scores[0]):
        transposed = [list(column) for column in zip(*scores, strict=True)]
        return [(row, column) for column, row in best_assignment(transposed)]
    return _Hungarian([[-value for value in row] for row in scores]).solve()


def unknown_paths(model: type[BaseModel], spec: ScoringSpec) -> list[str]:
    """The paths of ``spec`` that name no field of ``model`` (typos, renamed fields)."""
    known = set(_paths(model, ""))
    return sorted(path for path in spec.fields if path not in known)


def _paths(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        for inner in _inner_types(info.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from _paths(inner, path)


def _inner_types(annotation: Any) -> Iterator[Any]:
    """The types inside an annotation: through Optional, unions and containers."""
    args = get_args(annotation)
    if get_origin(annotation) is Literal or not args:
        yield annotation
        return
    for arg in args:
        yield from _inner_types(arg)


def _model_score(
    model: type[BaseModel],
    expected: BaseModel,
    got: BaseModel,
    prefix: str,
    spec: ScoringSpec,
    found: _Scores,
) -> float:
    """The weighted mean of the model's fields (1 when none is weighed)."""
    total = weights = 0.0
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        rule = spec.fields.get(path, _DEFAULT)
        if rule.kind == "ignore":
            continue
        want, have = getattr(expected, name), getattr(got, name)
        score = _value_score(info.annotation, want, have, path, rule, spec, found)
        found.fields[path] = score
        total += rule.weight * score
        weights += rule.weight
    return _unit(total / weights) if weights else 1.0


def _value_score(
    annotation: Any,
    expected: Any,
    got: Any,
    path: str,
    rule: FieldRule,
    spec: ScoringSpec,
    found: _Scores,
) -> float:
    if expected is None or got is None:
        return 1.0 if expected is None and got is None else 0.0
    if isinstance(expected, BaseModel):
        if type(got) is not type(expected):
            return 0.0
        return _model_score(type(expected), expected, got, path, spec, found)
    if isinstance(expected, list | tuple):
        if not isinstance(got, list | tuple):
            return 0.0
        if rule.kind == "citations":
            return _citation_score(expected, got, path, found)
        item = _item_annotation(annotation)
        return _list_score(item, expected, got, path, rule, spec, found)
    return _scalar_score(annotation, expected, got, rule)


def _scalar_score(annotation: Any, expected: Any, got: Any, rule: FieldRule) -> float:
    """Exact for enums, booleans and numbers (within the tolerance); F1 or exact for text."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return 1.0 if type(expected) is type(got) and expected == got else 0.0
    if isinstance(expected, Enum):
        return 1.0 if expected == got else 0.0
    if isinstance(expected, int | float) and isinstance(got, int | float):
        if rule.tolerance is not None:
            return 1.0 if abs(expected - got) <= rule.tolerance else 0.0
        return 1.0 if math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12) else 0.0
    if isinstance(expected, str) and isinstance(got, str) and _uses_f1(annotation, rule):
        return text_f1(expected, got)
    return 1.0 if expected == got else 0.0


def _uses_f1(annotation: Any, rule: FieldRule) -> bool:
    if rule.kind != "auto":
        return rule.kind == "f1"
    return not any(get_origin(inner) is Literal for inner in _optional_members(annotation))


def _optional_members(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (``X | None``), or the annotation alone."""
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _item_annotation(annotation: Any) -> Any:
    """The item type of a list annotation (through Optional), or Any."""
    for member in _optional_members(annotation):
        if get_origin(member) in (list, tuple, Sequence) and get_args(member):
            return get_args(member)[0]
    return Any


def _list_score(
    item: Any,
    expected: Sequence[Any],
    got: Sequence[Any],
    path: str,
    rule: FieldRule,
    spec: ScoringSpec,
    found: _Scores,
) -> float:
    """The F1 of soft precision and recall over the best pairing of the items."""
    if not expected or not got:
        both = not expected and not got
        score = ListScore(1.0 if not got else 0.0, 1.0 if not expected else 0.0, float(both))
    else:
        scratch = _Scores()  # the items' own field scores are not reported
        matrix = [
            [_value_score(item, want, have, path, rule, spec, scratch) for have in got]
            for want in expected
        ]
        matched = sum(matrix[row][column] for row, column in best_assignment(matrix))
        precision, recall = _unit(matched / len(got)), _unit(matched / len(expected))
        score = ListScore(precision, recall, _f1(precision, recall))
    found.lists[path] = score
    return score.f1


def _citation_score(
    expected: Sequence[Any], got: Sequence[Any], path: str, found: _Scores
) -> float:
    """Citation precision (the field's score), with the recall of the expected sources
    and their F1 reported as the list's figures."""
    precision, recall = citation_precision_recall(
        [str(item) for item in expected], [str(item) for item in got]
    )
    found.lists[path] = ListScore(precision, recall, _f1(precision, recall))
    return precision


def _words(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text.casefold()))


def _f1(precision: float, recall: float) -> float:
    if precision + recall == 0:
        return 0.0
    return _unit(2 * precision * recall / (precision + recall))


def _unit(value: float) -> float:
    """``value`` kept in [0, 1] against rounding."""
    return min(1.0, max(0.0, value))


class _Hungarian:
    """A minimum-cost assignment of every row to its own column (rows <= columns), with
    row and column potentials: O(rows^2 * columns)."""

    def __init__(self, cost: Sequence[Sequence[float]]) -> None:
        self.cost = cost
        self.rows, self.columns = len(cost), len(cost[0])
        self.u = [0.0] * (self.rows + 1)
        self.v = [0.0] * (self.columns + 1)
        self.owner = [0] * (self.columns + 1)  # the 1-based row holding a column; 0: free
        self.way = [0] * (self.columns + 1)

    def solve(self) -> list[tuple[int, int]]:
        for row in range(1, self.rows + 1):
            self._add_row(row)
        return sorted(
            (self.owner[column] - 1, column - 1)
            for column in range(1, self.columns + 1)
            if self.owner[column]
        )

    def _add_row(self, row: int) -> None:
        """Assign ``row``, reassigning others along the cheapest augmenting path."""
        self.owner[0] = row
        column = 0
        slack = [math.inf] * (self.columns + 1)
        used = [False] * (self.columns + 1)
        while self.owner[column]:
            used[column] = True
            column = self._step(column, slack, used)
        while column:
            previous = self.way[column]
            self.owner[column] = self.owner[previous]
            column = previous

    def _step(self, start: int, slack: list[float], used: list[bool]) -> int:
        """Relax the slacks from the row holding ``start``, shift the potentials; the next
        column reached."""
        row = self.owner[start]
        delta, nearest = math.inf, 0
        for column in range(1, self.columns + 1):
            if used[column]:
                continue
            reduced = self.cost[row - 1][column - 1] - self.u[row] - self.v[column]
            if reduced < slack[column]:
                slack[column], self.way[column] = reduced, start
            if slack[column] < delta:
                delta, nearest = slack[column], column
        for column in range(self.columns + 1):
            if used[column]:
                self.u[self.owner[column]] += delta
                self.v[column] -= delta
            else:
                slack[column] -= delta
        return nearest
