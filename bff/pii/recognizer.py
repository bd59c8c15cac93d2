"""The recognizer interface: anything that finds spans of PII in a text.

A recognizer names the kinds it reports (``kinds``) and, given a text, returns
its findings: where a value starts and ends, and its kind. The built-in
recognizers implement it, and so can a team's own (a Presidio analyzer with a
spaCy model, a pattern for its customer numbers): ``BFF_PII_RECOGNIZERS``
loads them (docs/pii.md). Findings may overlap; the scanner decides.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

KIND = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
"""What a kind may be called: it becomes the placeholder ``[KIND_1]`` and a metric label."""
PLACEHOLDER = re.compile(r"\[([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_(\d+)\]")
"""A placeholder, as the redactor writes it."""


@dataclass(frozen=True, slots=True)
class Finding:
    """``text[start:end]`` is a value of ``kind``."""

    start: int
    end: int
    kind: str


@runtime_checkable
class Recognizer(Protocol):
    """Finds PII of the ``kinds`` it names. A recognizer with ``blanks_found = True``
    is handed the text with the values that recognizers before it found, and any
    placeholders, replaced by underscores (places unchanged)."""

    @property
    def kinds(self) -> frozenset[str]: ...

    def find(self, text: str) -> Iterable[Finding]: ...


Check = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class PatternRecognizer:
    """One kind found by a regular expression, each match confirmed by ``check``
    (a checksum, a parser) when one is given. ``gate``, when given, is a cheap
    test that a text may hold the kind at all; the pattern runs only if it passes."""

    kind: str
    pattern: re.Pattern[str]
    check: Check | None = None
    gate: Check | None = None

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset((self.kind,))

    def find(self, text: str) -> Iterable[Finding]:
        """Each match the check accepts, else its longest part ending before a space
        that it accepts (``4111 1111 1111 1111 123``: a card and its CVV); a match it
        refuses whole does not hide the ones that start inside it."""
        if self.gate is not None and not self.gate(text):
            return
        at = 0
        while match := self.pattern.search(text, at):
            end = self._accepted(text, match)
            if end is None:
                at = match.start() + 1
                continue
            yield Finding(match.start(), end, self.kind)
            at = end

    def _accepted(self, text: str, match: re.Match[str]) -> int | None:
        """Where the accepted value at ``match`` ends (None: nothing there is)."""
        if self.check is None:
            return match.end()
        start, end = match.span()
        while end > start:
            if self.check(text[start:end]):
                return end
            end = text.rfind(" ", start, end)
            end = len(text[start:end].rstrip(" -")) + start if end > start else start
        return None


def resolved(findings: Sequence[Sequence[Finding]]) -> list[Finding]:
    """The findings that survive, sorted by start: ``findings`` holds each
    recognizer's in priority order. Where a finding overlaps one of a higher
    priority, only its parts outside that one are kept (a value is never left half
    redacted), and a recognizer's own overlapping findings keep the longest."""
    taken: list[Finding] = []  # sorted by start, never overlapping
    for group in findings:
        pieces = [p for f in group if f.end > f.start for p in _outside(f, taken)]
        for piece in _without_own_overlaps(pieces):
            bisect.insort(taken, piece, key=_start)
    return taken


def _start(finding: Finding) -> int:
    return finding.start


def _outside(finding: Finding, taken: Sequence[Finding]) -> list[Finding]:
    """The parts of ``finding`` that no finding in ``taken`` (sorted, apart) covers."""
    pieces: list[Finding] = []
    start = finding.start
    at = max(0, bisect.bisect_right(taken, finding.start, key=_start) - 1)
    while at < len(taken) and taken[at].start < finding.end:
        other = taken[at]
        if other.end > start:
            if other.start > start:
                pieces.append(Finding(start, other.start, finding.kind))
            start = other.end
        at += 1
    if start < finding.end:
        pieces.append(Finding(start, finding.end, finding.kind))
    return pieces


def _without_own_overlaps(group: Sequence[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    end = -1
    for finding in sorted(group, key=lambda f: (f.start, -f.end)):
        if finding.start >= end:
            kept.append(finding)
            end = finding.end
    return kept
