"""The expected snippet comes first for known questions, on the fixture and demo corpora."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bff.context import DEMO_CORPUS, FtsIndex
from tests.context.conftest import write_corpus


@pytest.mark.parametrize(
    ("question", "source", "title"),
    [
        (
            "How long do I have to get a refund on an annual plan?",
            "billing/refunds.md",
            "Refunds \u203a Annual plans",
        ),
        ("Are monthly plans refunded?", "billing/refunds.md", "Refunds \u203a Monthly plans"),
        (
            "Which identity providers work with SAML?",
            "security/sso.md",
            "Single sign-on \u203a Identity providers",
        ),
        ("What happens over the rate limit?", "api/limits.md", "Rate limits"),
        ("When is an invoice issued?", "billing/invoices.md", "Invoices"),
        ("how are webhook deliveries signed", "api/webhooks.markdown", "Webhooks"),
        ("descaling the coffee machine", "notes.txt", "notes.txt"),  # no heading: the path
    ],
)
def test_the_answering_section_ranks_first(
    index: FtsIndex, question: str, source: str, title: str
) -> None:
    best = index.search(question, 3)[0]
    assert (best.source, best.title) == (source, title)


def test_snippets_are_ranked_best_first_with_their_text(index: FtsIndex) -> None:
    found = index.search("refunded annual monthly plans", 10)
    assert len(found) >= 3
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    best = found[0]
    assert best.text.startswith(("Annual subscriptions", "Monthly plans"))
    assert best.tokens == -(-len(best.title) // 4) + -(-len(best.text) // 4)


def test_a_word_in_a_title_outweighs_the_same_word_in_text(tmp_path: Path) -> None:
    corpus = write_corpus(
        tmp_path,
        {
            "a.md": "# Webhooks\n\nDeliveries are signed and retried for a day or so.\n",
            "b.md": "# Deliveries\n\nThe webhooks page says deliveries are signed, retried.\n",
        },
    )
    with FtsIndex(":memory:") as index:
        index.update(corpus)
        assert [s.source for s in index.search("webhooks", 2)] == ["a.md", "b.md"]


def test_stemming_matches_other_forms_of_a_word(index: FtsIndex) -> None:
    assert index.search("refunding", 1)[0].source == "billing/refunds.md"
    assert index.search("\uff32\uff25\uff26\uff35\uff2e\uff24", 1)[0].source == (
        "billing/refunds.md"  # full-width letters, folded to "refund"
    )


def test_nothing_matches_gives_an_empty_list(index: FtsIndex) -> None:
    assert index.search("kubernetes helm chart", 5) == []


@pytest.fixture(scope="module")
def demo() -> Iterator[FtsIndex]:
    with FtsIndex(":memory:") as built:
        built.update(DEMO_CORPUS)
        yield built


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("How long do I have to ask for a refund on an annual plan?", "billing/refunds.md"),
        ("What is the API rate limit on the Business plan?", "api/rate-limits.md"),
        ("Which identity providers work with SAML single sign-on?", "security/sso-saml.md"),
        ("How long are deleted pages kept in the trash?", "data/data-retention.md"),
        (
            "How often is the status page updated during a SEV1 incident?",
            "operations/incident-process.md",
        ),
        ("How do I verify a webhook signature?", "api/webhooks.md"),
        ("What happens when a payment fails?", "billing/failed-payments.md"),
    ],
)
def test_the_demo_handbook_answers_known_questions(
    demo: FtsIndex, question: str, source: str
) -> None:
    assert demo.search(question, 4)[0].source == source


def test_the_demo_handbook_has_one_page_with_an_injection_attempt() -> None:
    pages = sorted(DEMO_CORPUS.rglob("*.md"))
    assert 30 <= len(pages) <= 60
    injected = [
        page.relative_to(DEMO_CORPUS).as_posix()
        for page in pages
        if "ignore previous instructions"
        in page.read_text(encoding="utf-8").lower().replace("\n", " ")
    ]
    assert injected == ["troubleshooting/community-tips.md"]
