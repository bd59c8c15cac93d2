"""A snippet: one ranked chunk of the corpus, as a retriever hands it to a prompt."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bff.tokens import estimate_tokens

ID_HASH_CHARS = 8


@dataclass(frozen=True, slots=True)
class Snippet:
    """A chunk of a corpus file and its rank for one query.

    ``id`` is stable across runs and changes when the chunk's text does, so a citation
    of it names exactly the text that was supplied. ``tokens`` is the estimate of what
    enters a prompt (title and text); ``score`` is higher for a better match.
    """

    id: str
    source: str
    title: str
    text: str
    tokens: int
    score: float


def snippet_id(source: str, ordinal: int, title: str, text: str) -> str:
    """``source#ordinal-hash``: the file relative to the corpus root, the chunk's place in
    it, and a short hash of its title and text (``handbook/billing.md#3-1a2b3c4d``)."""
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:ID_HASH_CHARS]
    return f"{source}#{ordinal}-{digest}"


def snippet_tokens(title: str, text: str) -> int:
    """The tokens a snippet costs in a prompt, before the caller's delimiters and id."""
    return estimate_tokens(title) + estimate_tokens(text)
