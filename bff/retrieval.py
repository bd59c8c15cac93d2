"""The configured corpus as a ``Retriever``, indexed on first use.

An app (or an eval run) builds one from its settings and injects it into its
pipeline. Nothing is opened until a task asks for context: then the index file
(``BFF_CONTEXT_INDEX_PATH``, else one in the cache folder) is brought up to date with
``BFF_CORPUS_PATH`` once, incrementally, so a fresh machine builds it and a restart
reads only the files that changed.
"""

from __future__ import annotations

import anyio
import anyio.to_thread

from bff.config import Settings
from bff.context.fts_retriever import FtsRetriever
from bff.context.index import FtsIndex
from bff.context.retriever import ContextBudget
from bff.context.snippets import Snippet


class CorpusRetriever:
    """``FtsRetriever`` over the settings' corpus, opened and updated on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = anyio.Lock()
        self._index: FtsIndex | None = None
        self._retriever: FtsRetriever | None = None

    async def retrieve(self, query: str, budget: ContextBudget) -> list[Snippet]:
        retriever = self._retriever or await self._opened()
        return await retriever.retrieve(query, budget)

    async def _opened(self) -> FtsRetriever:
        async with self._lock:  # the first callers wait for one update, not one each
            if self._retriever is None:
                self._retriever = FtsRetriever(await anyio.to_thread.run_sync(self._open))
            return self._retriever

    def _open(self) -> FtsIndex:
        index = FtsIndex(self._settings.context_index)
        try:
            index.update(self._settings.corpus_path)
        except BaseException:
            index.close()
            raise
        self._index = index
        return index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
