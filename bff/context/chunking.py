"""Markdown and plain text cut into chunks a prompt can quote: one topic each, capped.

A chunk never crosses a heading, so its title (the chain of headings above it,
"Billing", then "Refunds") says what it is about. Under one heading, small paragraphs
are merged up to the cap, so a list of one-line paragraphs does not become a dozen
weak snippets; a paragraph over the cap is cut between sentences, and a sentence
over the cap between words (or, with no space to cut at, at the cap).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_CHUNK_CHARS = 800
TITLE_SEPARATOR = " \u203a "  # a single right angle quote: "Billing \u203a Refunds"
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document: its heading chain and at most the cap of text."""

    title: str
    text: str


def chunk_text(text: str, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """``text`` (Markdown or plain) as chunks of at most ``max_chars`` characters, in
    order. Headings are ATX (``#`` to ``######``); lines inside code fences are text."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    chunks: list[Chunk] = []
    for title, paragraphs in _sections(text):
        pieces = (piece for paragraph in paragraphs for piece in _split(paragraph, max_chars))
        chunks.extend(Chunk(title, body) for body in _pack(pieces, "\n\n", max_chars))
    return chunks


def _sections(text: str) -> Iterator[tuple[str, list[str]]]:
    """Each heading chain with the paragraphs under it (none for a bare heading)."""
    headings: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    block: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        heading = _HEADING.match(line) if fence is None else None
        if heading:
            _close(block, paragraphs)
            if paragraphs:
                yield _title(headings), paragraphs
            paragraphs = []
            level = len(heading[1])
            headings = [*(h for h in headings if h[0] < level), (level, heading[2].strip())]
        elif fence is None and not line.strip():
            _close(block, paragraphs)
        else:
            fence = _fence_after(line, fence)
            block.append(line.rstrip())
    _close(block, paragraphs)
    if paragraphs:
        yield _title(headings), paragraphs


def _fence_after(line: str, fence: str | None) -> str | None:
    """The code fence open after ``line``: its marker, or None outside any."""
    if fence is None:
        opened = _FENCE.match(line)
        return opened[1] if opened else None
    return None if line.strip().startswith(fence) else fence


def _close(block: list[str], paragraphs: list[str]) -> None:
    paragraph = "\n".join(block).strip()
    if paragraph:
        paragraphs.append(paragraph)
    block.clear()


def _title(headings: list[tuple[int, str]]) -> str:
    return TITLE_SEPARATOR.join(text for _, text in headings)


def _split(paragraph: str, max_chars: int) -> list[str]:
    """A paragraph as pieces within the cap: whole if it fits, else by sentences."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    sentences = _SENTENCE_BREAK.split(paragraph)
    return list(_pack((part for s in sentences for part in _cut(s, max_chars)), " ", max_chars))


def _cut(sentence: str, max_chars: int) -> Iterator[str]:
    """A sentence over the cap cut at the last space before it (or at the cap)."""
    rest = sentence.strip()
    while len(rest) > max_chars:
        at = rest.rfind(" ", 0, max_chars + 1)
        at = at if at > 0 else max_chars
        yield rest[:at].rstrip()
        rest = rest[at:].lstrip()
    if rest:
        yield rest


def _pack(parts: Iterable[str], separator: str, max_chars: int) -> Iterator[str]:
    """Consecutive parts joined while the result stays within the cap."""
    current = ""
    for part in parts:
        if current and len(current) + len(separator) + len(part) > max_chars:
            yield current
            current = part
        else:
            current = f"{current}{separator}{part}" if current else part
    if current:
        yield current
