"""The retriever interface: a query and a budget in, ranked snippets out.

Any search backend plugs in by implementing ``Retriever`` (one async method); the
embedded default is ``FtsRetriever`` over SQLite FTS5. Whatever the backend, its
candidates pass through ``fit`` so the budget holds the same way for every one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bff.context.snippets import Snippet


@dataclass(frozen=True, slots=True)
class ContextBudget:
    """How much context one call may carry: at most ``top_k`` snippets and at most
    ``max_tokens`` tokens of them in total."""

    top_k: int
    max_tokens: int

    def __post_init__(self) -> None:
        if self.top_k < 0 or self.max_tokens < 0:
            raise ValueError(f"a context budget cannot be negative: {self}")


class Retriever(Protocol):
    """Finds the snippets of a corpus that best answer ``query``."""

    async def retrieve(self, query: str, budget: ContextBudget) -> list[Snippet]:
        """The best snippets first, within ``budget`` (``fit`` applied); an empty list
        when nothing matches. Never raises for what the query says."""
        ...


def fit(snippets: Iterable[Snippet], budget: ContextBudget) -> list[Snippet]:
    """The snippets that fit ``budget``, in the order given (best first).

    A snippet that would take the total over ``max_tokens`` is skipped and the next
    ones are still tried: one long chunk ranked first must not leave the prompt with
    no context, and a smaller, lower-ranked one may still fit. Ranks never swap, at
    most ``top_k`` are kept, and the total never exceeds ``max_tokens``.
    """
    kept: list[Snippet] = []
    total = 0
    for snippet in snippets:
        if len(kept) >= budget.top_k:
            break
        if total + snippet.tokens <= budget.max_tokens:
            kept.append(snippet)
            total += snippet.tokens
    return kept
