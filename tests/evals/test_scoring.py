"""Scoring: perfect outputs score 1, every score stays in [0, 1], lists are order-free,
and each kind of field is compared the way the module docstring says."""

from __future__ import annotations

import itertools
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bff.demo.action_plan import ActionPlan, UserAction
from bff.demo.countries import CountryBrief
from bff.demo.docs import DocsAnswer
from bff.demo.ticket import Category, Sentiment, TicketSummary
from bff.evals.scoring import (
    REFERENCE_SPECS,
    CaseScore,
    FieldRule,
    ListScore,
    ScoringSpec,
    best_assignment,
    score_error,
    score_output,
    text_f1,
    unknown_paths,
)
from bff.run import ErrorCode
from tests.evals.eval_helpers import evaluated_tasks

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
WORDS = st.sampled_from(["call", "send", "the", "report", "Größe", "café", "bob", "today", ""])
TEXT = st.lists(WORDS, max_size=6).map(" ".join)


class Inner(BaseModel):
    label: Literal["low", "high"]
    amount: float | None
    note: str


class Outer(BaseModel):
    title: str
    inner: Inner
    values: list[int]
    items: list[Inner]


def _fit(text: str, low: int, high: int) -> str:
    return (text or "x")[:high] if low else text[:high]


ACTIONS = st.builds(
    UserAction,
    action_type=TEXT.map(lambda t: _fit(t, 1, 40)),
    priority=st.integers(1, 5),
    summary=TEXT.map(lambda t: t[:120]),
)
PLANS = st.builds(ActionPlan, actions=st.lists(ACTIONS, max_size=7))
TICKETS = st.builds(
    TicketSummary,
    headline=TEXT.map(lambda t: _fit(t, 1, 60)),
    sentiment=st.sampled_from(Sentiment),
    category=st.sampled_from(Category),
    urgent=st.booleans(),
    key_points=st.lists(TEXT.map(lambda t: t[:80]), max_size=3),
)
BRIEFS = st.builds(
    CountryBrief,
    country=st.none() | st.sampled_from(["Kenya", "Japan", "Peru"]),
    capital=st.none() | st.sampled_from(["Nairobi", "Tokyo"]),
    currency=st.none() | st.sampled_from(["KES", "JPY"]),
    calling_code=st.none() | st.sampled_from(["+254", "+81"]),
    summary=TEXT.map(lambda t: _fit(t, 1, 200)),
)
CITATIONS = st.sampled_from(["a.md", "a.md#1-00aa", "a.md#2-11bb", "b/c.md#1-22cc", "d.md"])
ANSWERS = st.builds(
    DocsAnswer,
    answer=TEXT,
    citations=st.lists(CITATIONS, max_size=5),
    found=st.booleans(),
)
INNERS = st.builds(
    Inner,
    label=st.sampled_from(["low", "high"]),
    amount=st.none() | st.floats(-10, 10),
    note=TEXT,
)
OUTERS = st.builds(
    Outer,
    title=TEXT,
    inner=INNERS,
    values=st.lists(st.integers(0, 3), max_size=5),
    items=st.lists(INNERS, max_size=4),
)
MODELS: list[tuple[type[BaseModel], st.SearchStrategy[Any]]] = [
    (ActionPlan, PLANS),
    (TicketSummary, TICKETS),
    (CountryBrief, BRIEFS),
    (DocsAnswer, ANSWERS),
    (Outer, OUTERS),
]
PAIRS = st.one_of(*(st.tuples(st.just(model), values, values) for model, values in MODELS))
SPECS = st.sampled_from([None, *REFERENCE_SPECS.values()])


def _in_unit(score: CaseScore) -> bool:
    values = [score.score, *score.fields.values()]
    values += [v for s in score.lists.values() for v in (s.precision, s.recall, s.f1)]
    return all(0.0 <= value <= 1.0 for value in values)


@PROPERTIES
@given(PAIRS, SPECS)
def test_a_perfect_output_scores_one_everywhere(
    pair: tuple[type[BaseModel], BaseModel, BaseModel], spec: ScoringSpec | None
) -> None:
    model, value, _ = pair
    score = score_output(model, value, value.model_copy(deep=True), spec)
    assert score.score == 1.0
    assert set(score.fields.values()) == {1.0}
    assert all(s == ListScore(1.0, 1.0, 1.0) for s in score.lists.values())


@PROPERTIES
@given(PAIRS, SPECS)
def test_every_score_stays_between_zero_and_one(
    pair: tuple[type[BaseModel], BaseModel, BaseModel], spec: ScoringSpec | None
) -> None:
    model, expected, got = pair
    assert _in_unit(score_output(model, expected, got, spec))


@PROPERTIES
@given(st.data(), PLANS, PLANS)
def test_list_scores_do_not_depend_on_item_order(
    data: st.DataObject, expected: ActionPlan, got: ActionPlan
) -> None:
    spec = REFERENCE_SPECS["extractActionPlan"]
    shuffled_expected = ActionPlan(actions=data.draw(st.permutations(expected.actions)))
    shuffled_got = ActionPlan(actions=data.draw(st.permutations(got.actions)))
    first = score_output(ActionPlan, expected, got, spec)
    second = score_output(ActionPlan, shuffled_expected, shuffled_got, spec)
    assert second.score == pytest.approx(first.score)
    assert second.lists["actions"].f1 == pytest.approx(first.lists["actions"].f1)


@PROPERTIES
@given(st.lists(st.lists(st.floats(0, 1), min_size=1, max_size=4), min_size=1, max_size=4))
def test_the_assignment_is_the_best_one(rows: list[list[float]]) -> None:
    width = min(len(row) for row in rows)
    matrix = [row[:width] for row in rows]
    pairs = best_assignment(matrix)
    assert len(pairs) == min(len(matrix), width)
    assert len({r for r, _ in pairs}) == len({c for _, c in pairs}) == len(pairs)
    if len(matrix) <= width:
        options = itertools.permutations(range(width), len(matrix))
        best = max(sum(matrix[r][c] for r, c in enumerate(cols)) for cols in options)
    else:
        options = itertools.permutations(range(len(matrix)), width)
        best = max(sum(matrix[r][c] for c, r in enumerate(rows_)) for rows_ in options)
    assert sum(matrix[r][c] for r, c in pairs) == pytest.approx(best)


def test_the_assignment_prefers_the_whole_over_a_greedy_first_pick() -> None:
    # Greedy takes (0, 0) for 0.9 and is left with 0.0; the best total is 0.8 + 0.8.
    assert best_assignment([[0.9, 0.8], [0.8, 0.0]]) == [(0, 1), (1, 0)]
    assert best_assignment([]) == [] and best_assignment([[]]) == []
    assert best_assignment([[0.1], [0.7], [0.2]]) == [(1, 0)]


def test_text_scores_the_f1_of_its_words() -> None:
    assert text_f1("the cat sat", "the cat") == pytest.approx(0.8)
    assert text_f1("Call Bob today.", "call BOB, today!") == 1.0
    assert text_f1("Größe ändern", "GRÖSSE Ändern") == 1.0  # case-folded: ß is ss
    assert text_f1("snake_case name", "snake case name") == 1.0
    assert text_f1("明日 送る", "明日 送る") == 1.0
    assert text_f1("", "...") == 1.0
    assert text_f1("something", "") == 0.0
    assert text_f1("a a b", "a b b") == pytest.approx(2 / 3)


def _action(kind: str, priority: int, summary: str) -> UserAction:
    return UserAction(action_type=kind, priority=priority, summary=summary)


def test_numbers_match_within_the_tolerance() -> None:
    expected = ActionPlan(actions=[_action("call", 2, "Call Bob")])
    near = ActionPlan(actions=[_action("call", 3, "Call Bob")])
    far = ActionPlan(actions=[_action("call", 4, "Call Bob")])
    spec = REFERENCE_SPECS["extractActionPlan"]
    assert score_output(ActionPlan, expected, near, spec).score == 1.0
    assert score_output(ActionPlan, expected, far, spec).score == pytest.approx(2 / 3)
    assert score_output(ActionPlan, expected, near).score == pytest.approx(2 / 3)  # exact


def test_lists_score_soft_precision_and_recall() -> None:
    expected = ActionPlan(actions=[_action("call", 1, "Call Bob"), _action("pay", 2, "Pay rent")])
    got = ActionPlan(actions=[_action("pay", 2, "Pay rent")])
    score = score_output(ActionPlan, expected, got)
    assert score.lists["actions"] == ListScore(1.0, 0.5, pytest.approx(2 / 3))  # type: ignore[arg-type]
    assert score.score == pytest.approx(2 / 3)
    empty = ActionPlan(actions=[])
    assert score_output(ActionPlan, empty, empty).lists["actions"] == ListScore(1.0, 1.0, 1.0)
    assert score_output(ActionPlan, expected, empty).lists["actions"] == ListScore(1.0, 0.0, 0.0)
    assert score_output(ActionPlan, empty, got).lists["actions"] == ListScore(0.0, 1.0, 0.0)


def _ticket(**changes: Any) -> TicketSummary:
    base = TicketSummary(
        headline="Charged twice for March",
        sentiment=Sentiment.NEUTRAL,
        category=Category.BILLING,
        urgent=False,
        key_points=["Two charges on the 3rd", "Wants a refund"],
    )
    return base.model_copy(update=changes)


def test_labels_match_exactly_and_text_by_words() -> None:
    spec = REFERENCE_SPECS["summarizeTicket"]
    wrong = score_output(TicketSummary, _ticket(), _ticket(sentiment=Sentiment.NEGATIVE), spec)
    assert wrong.fields["sentiment"] == 0.0
    assert wrong.score == pytest.approx(5 / 6)  # weights 1, 1, 1.5, 1.5, 1
    reworded = score_output(
        TicketSummary, _ticket(), _ticket(key_points=["Wants a refund", "Two charges"]), spec
    )
    assert reworded.fields["key_points"] == reworded.lists["key_points"].f1
    # "Wants a refund" matches its item; "Two charges" scores 4/7 against its own
    assert reworded.fields["key_points"] == pytest.approx((1 + 4 / 7) / 2)
    urgent = score_output(TicketSummary, _ticket(), _ticket(urgent=True), spec)
    assert urgent.fields["urgent"] == 0.0


def test_nested_models_report_dotted_fields_and_weighted_means() -> None:
    inner = Inner(label="low", amount=1.0, note="red apples")
    expected = Outer(title="fruit", inner=inner, values=[1, 2], items=[inner])
    got = expected.model_copy(update={"inner": Inner(label="high", amount=None, note="apples")})
    spec = ScoringSpec({"inner.note": FieldRule(weight=2.0), "values": FieldRule(kind="ignore")})
    score = score_output(Outer, expected, got, spec)
    assert score.fields["inner.label"] == 0.0  # a Literal is exact
    assert score.fields["inner.amount"] == 0.0  # value against None
    assert score.fields["inner.note"] == pytest.approx(2 / 3)
    assert score.fields["inner"] == pytest.approx((0 + 0 + 2 * 2 / 3) / 4)
    assert "values" not in score.fields and "values" not in score.lists
    assert score.score == pytest.approx((1 + score.fields["inner"] + 1) / 3)
    assert "items.note" not in score.fields  # list items are scored inside their list


def test_optional_values_none_matches_only_none() -> None:
    missing = CountryBrief(
        country=None, capital=None, currency=None, calling_code=None, summary="No"
    )
    found = CountryBrief(
        country="Kenya", capital="Nairobi", currency="KES", calling_code="+254", summary="No"
    )
    spec = REFERENCE_SPECS["briefCountry"]
    assert score_output(CountryBrief, missing, missing, spec).score == 1.0
    score = score_output(CountryBrief, missing, found, spec)
    assert score.fields["country"] == 0.0 and score.fields["summary"] == 1.0
    assert score.score == pytest.approx(0.5 / 4.5)


def test_facts_are_exact_in_the_country_spec() -> None:
    expected = CountryBrief(
        country="Brazil", capital="Brasília", currency="BRL", calling_code="+55", summary="x"
    )
    got = expected.model_copy(update={"capital": "Brasilia"})
    score = score_output(CountryBrief, expected, got, REFERENCE_SPECS["briefCountry"])
    assert score.fields["capital"] == 0.0


def test_lists_of_scalars_use_the_rule_per_item() -> None:
    expected = Outer(
        title="t", inner=Inner(label="low", amount=0.0, note=""), values=[1, 5], items=[]
    )
    got = expected.model_copy(update={"values": [6, 2]})
    exact = score_output(Outer, expected, got)
    assert exact.lists["values"] == ListScore(0.0, 0.0, 0.0)
    tolerant = score_output(Outer, expected, got, ScoringSpec({"values": FieldRule(tolerance=1)}))
    assert tolerant.lists["values"] == ListScore(1.0, 1.0, 1.0)


def test_weights_of_zero_are_reported_but_not_counted() -> None:
    spec = ScoringSpec({"summary": FieldRule(weight=0.0)})
    expected = CountryBrief(
        country=None, capital=None, currency=None, calling_code=None, summary="a"
    )
    got = expected.model_copy(update={"summary": "b"})
    score = score_output(CountryBrief, expected, got, spec)
    assert score.fields["summary"] == 0.0 and score.score == 1.0
    nothing = ScoringSpec({name: FieldRule(kind="ignore") for name in CountryBrief.model_fields})
    assert score_output(CountryBrief, expected, got, nothing) == CaseScore(1.0, {}, {})


def test_expected_errors_score_only_the_right_code() -> None:
    assert score_error(ErrorCode.INPUT_REJECTED, ErrorCode.INPUT_REJECTED) == CaseScore(
        1.0, {"error": 1.0}, {}
    )
    assert score_error(ErrorCode.REFUSED, ErrorCode.INPUT_REJECTED).score == 0.0
    assert score_error(ErrorCode.REFUSED, None) == CaseScore(0.0, {"error": 0.0}, {})


def test_the_reference_specs_name_real_fields() -> None:
    tasks = {task.name: task for task in evaluated_tasks()}
    assert set(REFERENCE_SPECS) == set(tasks)
    for name, spec in REFERENCE_SPECS.items():
        assert unknown_paths(tasks[name].output_model, spec) == []
    typo = ScoringSpec({"actions.priorty": FieldRule(), "actions.priority": FieldRule()})
    assert unknown_paths(ActionPlan, typo) == ["actions.priorty"]


def test_rules_and_models_are_checked() -> None:
    with pytest.raises(ValueError, match="weight"):
        FieldRule(weight=-1)
    with pytest.raises(ValueError, match="tolerance"):
        FieldRule(tolerance=-0.5)
    with pytest.raises(ValueError, match="kind"):
        FieldRule(kind="fuzzy")  # type: ignore[arg-type]
    plan = ActionPlan(actions=[])
    with pytest.raises(TypeError, match="got is a ActionPlan, not a TicketSummary"):
        score_output(TicketSummary, _ticket(), plan)
