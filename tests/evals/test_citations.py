"""Citation precision: a citation counts when its snippet's source is an expected page,
whatever the snippet's id; the answerFromDocs spec scores it beside found/not found."""

from __future__ import annotations

import pytest

from bff.demo.docs import DocsAnswer, not_found
from bff.evals.citations import citation_precision_recall, source_of
from bff.evals.scoring import REFERENCE_SPECS, ListScore, score_output

SPEC = REFERENCE_SPECS["answerFromDocs"]
REFUNDS = "billing/refunds.md"


def _answer(
    *citations: str, found: bool = True, text: str = "Refunds within 30 days."
) -> DocsAnswer:
    return DocsAnswer(answer=text, citations=list(citations), found=found)


def test_the_source_of_an_id_is_its_path_and_a_path_is_its_own() -> None:
    assert source_of("billing/refunds.md#4-57343a44") == REFUNDS
    assert source_of(REFUNDS) == REFUNDS
    assert source_of("a.md#b#c") == "a.md"


@pytest.mark.parametrize(
    ("expected", "got", "precision", "recall"),
    [
        ([REFUNDS], [f"{REFUNDS}#4-57343a44"], 1.0, 1.0),
        ([REFUNDS], [f"{REFUNDS}#1-aa", f"{REFUNDS}#4-bb"], 1.0, 1.0),
        ([REFUNDS], [f"{REFUNDS}#1-aa", "welcome.md#1-cc"], 0.5, 1.0),
        ([REFUNDS], ["troubleshooting/community-tips.md#3-dd"], 0.0, 0.0),
        ([REFUNDS, "billing/invoices.md"], [f"{REFUNDS}#1-aa"], 1.0, 0.5),
        ([], [], 1.0, 1.0),
        ([REFUNDS], [], 0.0, 0.0),
        ([], [f"{REFUNDS}#1-aa"], 0.0, 1.0),
    ],
    ids=[
        "one-right",
        "two-of-the-page",
        "half-right",
        "wrong-page",
        "one-of-two-pages",
        "not-found-both",
        "cites-nothing",
        "cites-where-none-expected",
    ],
)
def test_precision_and_recall(
    expected: list[str], got: list[str], precision: float, recall: float
) -> None:
    assert citation_precision_recall(expected, got) == (precision, recall)


def test_a_changed_snippet_id_still_counts() -> None:
    expected = _answer(REFUNDS)
    score = score_output(DocsAnswer, expected, _answer(f"{REFUNDS}#9-ffffffff"), SPEC)
    assert score.score == 1.0
    assert score.lists["citations"] == ListScore(1.0, 1.0, 1.0)


def test_the_field_score_is_the_precision_and_the_list_figures_are_reported() -> None:
    expected = _answer(REFUNDS, "billing/invoices.md")
    got = _answer(f"{REFUNDS}#1-aa", "welcome.md#1-bb")
    score = score_output(DocsAnswer, expected, got, SPEC)
    assert score.fields["citations"] == 0.5
    assert score.lists["citations"] == ListScore(0.5, 0.5, 0.5)
    assert score.fields["found"] == 1.0 and score.fields["answer"] == 1.0
    assert score.score == pytest.approx((0.5 * 1.0 + 1.5 * 0.5 + 1.5 * 1.0) / 3.5)


def test_an_invented_answer_to_an_unanswerable_question_scores_low() -> None:
    score = score_output(DocsAnswer, not_found(), _answer("welcome.md#1-aa"), SPEC)
    assert score.fields["found"] == 0.0 and score.fields["citations"] == 0.0
    assert score.score < 0.1


def test_a_not_found_where_an_answer_was_expected_scores_low() -> None:
    score = score_output(DocsAnswer, _answer(REFUNDS), not_found(), SPEC)
    assert score.fields["found"] == 0.0 and score.fields["citations"] == 0.0


def test_the_not_found_answer_scores_one() -> None:
    assert score_output(DocsAnswer, not_found(), not_found(), SPEC).score == 1.0
