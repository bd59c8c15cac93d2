"""Lean context: the few snippets of a corpus that matter to a query, within a budget.

``Retriever`` is the interface (a query and a ``ContextBudget`` in, ranked
``Snippet``s out); ``FtsRetriever`` over an ``FtsIndex`` (SQLite FTS5, BM25) is the
embedded default, built from a folder of Markdown or text files (docs/context.md).
"""

from __future__ import annotations

from bff.context.chunking import Chunk, chunk_text
from bff.context.corpus import DEMO_CORPUS
from bff.context.fts_retriever import FtsRetriever
from bff.context.index import FtsIndex, IndexReport
from bff.context.retriever import ContextBudget, Retriever, fit
from bff.context.snippets import Snippet

__all__ = [
    "DEMO_CORPUS",
    "Chunk",
    "ContextBudget",
    "FtsIndex",
    "FtsRetriever",
    "IndexReport",
    "Retriever",
    "Snippet",
    "chunk_text",
    "fit",
]
