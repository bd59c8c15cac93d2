"""Citation precision: how many of an answer's citations rest on the expected pages.

Snippet ids change whenever their text does (``billing/refunds.md#4-57343a44``), so a
golden case names the pages an answer should cite, by source path (``billing/refunds.md``),
and a citation counts when its snippet comes from one of them.
"""

from __future__ import annotations

from collections.abc import Sequence


def source_of(citation: str) -> str:
    """The source path of a snippet id (the part before ``#``); a path is its own source."""
    return citation.partition("#")[0]


def citation_precision_recall(expected: Sequence[str], got: Sequence[str]) -> tuple[float, float]:
    """Precision: the share of the citations got whose source is expected. Recall: the
    share of the expected sources cited at least once. Both empty: 1 and 1; nothing got
    where sources were expected: precision 0 (an answer that cites nothing is not
    grounded); citations where none were expected (a "not found" case): precision 0."""
    sources = {source_of(item) for item in expected}
    cited = {source_of(item) for item in got}
    if not got:
        return (1.0, 1.0) if not sources else (0.0, 0.0)
    precision = sum(source_of(item) in sources for item in got) / len(got)
    recall = len(sources & cited) / len(sources) if sources else 1.0
    return precision, recall
