"""``Retriever`` over the embedded ``FtsIndex``."""

from __future__ import annotations

import anyio.to_thread

from bff.context.index import FtsIndex
from bff.context.retriever import ContextBudget, fit
from bff.context.snippets import Snippet

CANDIDATES_PER_SLOT = 2
"""Candidates fetched per snippet the budget allows, so that one skipped for its size
(``fit``) can be replaced by the next best."""


class FtsRetriever:
    """Ranked snippets from an ``FtsIndex``, within the budget.

    Searches run in a worker thread: on the demo handbook one takes 0.3 ms, but on a
    corpus of 10,000 pages the median is 1.2 ms and the p99 2.7 ms, too long to hold an
    event loop that relays token streams; the hop costs 0.1 to 0.5 ms
    (docs/context.md has the benchmark).
    """

    def __init__(self, index: FtsIndex) -> None:
        self._index = index

    async def retrieve(self, query: str, budget: ContextBudget) -> list[Snippet]:
        limit = budget.top_k * CANDIDATES_PER_SLOT
        found = await anyio.to_thread.run_sync(self._index.search, query, limit)
        return fit(found, budget)
