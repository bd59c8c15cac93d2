"""The reference task over the corpus: an answer from the snippets supplied, citing them.

``answer_from_docs`` is the offline demo model's answer: it cites the first snippet
quoted in the prompt (the retriever's best) and answers with its opening sentences;
with no snippet quoted, it says the documents do not answer.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bff.grounding import SNIPPET

MAX_ANSWER = 600
MAX_CITATIONS = 5
ANSWER_SENTENCES = 2
NOT_FOUND = "The documents supplied do not answer this question."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class DocsQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        min_length=1, max_length=2000, description="The question to answer from the documents."
    )


class DocsAnswer(BaseModel):
    """An answer taken only from the snippets supplied, with the ids of those it rests on."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(max_length=MAX_ANSWER, description="The answer, or why there is none.")
    citations: list[str] = Field(
        max_length=MAX_CITATIONS, description="The ids of the snippets the answer rests on."
    )
    found: bool = Field(description="False when the snippets supplied do not answer it.")


def not_found(_: Any = None) -> DocsAnswer:
    """The answer when the documents do not answer (also the task's safe response)."""
    return DocsAnswer(answer=NOT_FOUND, citations=[], found=False)


def answer_from_docs(prompt: str) -> DocsAnswer:
    """The demo model's answer to a prompt quoting snippets (see the module docstring)."""
    best = SNIPPET.search(prompt)
    if best is None:
        return not_found()
    sentences = _SENTENCE_END.split(" ".join(best["text"].split()))
    answer = " ".join(sentences[:ANSWER_SENTENCES])[:MAX_ANSWER]
    return DocsAnswer(answer=answer, citations=[html.unescape(best["id"])], found=True)
