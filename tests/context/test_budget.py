"""The budget: never more than top_k snippets, never over max_tokens, ranks kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bff.context import ContextBudget, FtsIndex, FtsRetriever, Snippet, fit
from tests.context.conftest import write_corpus

pytestmark = pytest.mark.anyio


def _snippet(rank: int, tokens: int) -> Snippet:
    return Snippet(f"doc.md#{rank}-0000000{rank % 10}", "doc.md", "Doc", "x", tokens, -rank)


def test_a_snippet_that_would_overflow_is_skipped_and_smaller_ones_still_fit() -> None:
    ranked = [_snippet(0, 300), _snippet(1, 900), _snippet(2, 400), _snippet(3, 200)]
    kept = fit(ranked, ContextBudget(top_k=4, max_tokens=1000))
    assert [s.tokens for s in kept] == [300, 400, 200]  # 900 would have made 1200


def test_top_k_stops_the_list_even_with_tokens_to_spare() -> None:
    ranked = [_snippet(n, 10) for n in range(8)]
    assert fit(ranked, ContextBudget(top_k=3, max_tokens=1500)) == ranked[:3]


def test_a_budget_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        ContextBudget(top_k=-1, max_tokens=100)
    assert fit([_snippet(0, 1)], ContextBudget(top_k=0, max_tokens=100)) == []


@given(
    st.lists(st.integers(min_value=0, max_value=2_000), max_size=30),
    st.integers(min_value=0, max_value=8),
    st.integers(min_value=0, max_value=3_000),
)
def test_fit_never_exceeds_the_budget_and_keeps_rank_order(
    sizes: list[int], top_k: int, max_tokens: int
) -> None:
    ranked = [_snippet(rank, tokens) for rank, tokens in enumerate(sizes)]
    kept = fit(ranked, ContextBudget(top_k, max_tokens))
    assert len(kept) <= top_k
    assert sum(s.tokens for s in kept) <= max_tokens
    positions = [ranked.index(s) for s in kept]
    assert positions == sorted(positions)
    # Greedy in rank order: a snippet left out came after the list was full, or did not
    # fit in what the better-ranked snippets before it had left.
    for position, snippet in enumerate(ranked):
        if snippet in kept:
            continue
        before = [s for s in kept if ranked.index(s) < position]
        assert len(before) == top_k or sum(s.tokens for s in before) + snippet.tokens > max_tokens


async def test_retrieve_keeps_the_budget_whatever_the_corpus(tmp_path: Path) -> None:
    sections = "\n\n".join(f"## Part {n}\n\n" + "refund policy words " * 40 for n in range(12))
    corpus = write_corpus(tmp_path, {"long.md": "# Refunds\n\n" + sections})  # ~200 tokens each
    with FtsIndex(":memory:") as index:
        index.update(corpus)
        retriever = FtsRetriever(index)
        for top_k, max_tokens in [(4, 1500), (5, 500), (2, 10_000), (3, 150), (1, 0)]:
            found = await retriever.retrieve("refund policy", ContextBudget(top_k, max_tokens))
            assert len(found) <= top_k
            assert sum(s.tokens for s in found) <= max_tokens
        assert len(await retriever.retrieve("refund policy", ContextBudget(4, 1500))) == 4
        assert await retriever.retrieve("refund policy", ContextBudget(3, 150)) == []


async def test_retrieve_returns_the_best_snippets_first(index: FtsIndex) -> None:
    found = await FtsRetriever(index).retrieve("annual refund", ContextBudget(2, 1500))
    assert found[0].title == "Refunds \u203a Annual plans"
    assert await FtsRetriever(index).retrieve('NEAR(" OR', ContextBudget(2, 1500)) == []
