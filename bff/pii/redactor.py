"""Placeholders for the PII of one request, and the originals put back.

Each distinct value becomes a placeholder that stays the same within a request
(``[EMAIL_1]`` every time the same address appears), so the model can still
refer to it, and ``restore`` can put the originals back. A placeholder that a
user typed themselves is never handed out for a value, so restoring never
turns the user's own text into someone's PII.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from bff.pii.recognizer import PLACEHOLDER
from bff.pii.scanner import Scanner


class Redactor:
    """Redacts the texts of one request with placeholders that stay consistent."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self._placeholders: dict[str, str] = {}
        self._originals: dict[str, str] = {}
        self._typed: set[str] = set()
        self._numbers: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        """Distinct values redacted, by kind."""

    def reserve(self, texts: Iterable[str]) -> None:
        """Set aside the placeholders the user typed in any of ``texts`` (every text of
        a request, before the first is redacted), so none is handed out for a value."""
        for text in texts:
            self._typed.update(p for p in _placeholders_in(text) if p not in self._originals)

    def redact(self, text: str) -> str:
        self.reserve((text,))
        findings = self.scanner.find(text)
        if not findings:
            return text
        parts: list[str] = []
        at = 0
        for finding in findings:
            value = text[finding.start : finding.end]
            parts += (text[at : finding.start], self._placeholder(finding.kind, value))
            at = finding.end
        parts.append(text[at:])
        return "".join(parts)

    def restore(self, text: str) -> str:
        if not self._originals:
            return text
        return PLACEHOLDER.sub(lambda m: self._originals.get(m.group(0), m.group(0)), text)

    def _placeholder(self, kind: str, value: str) -> str:
        placeholder = self._placeholders.get(value)
        if placeholder is None:
            placeholder = self._fresh(kind)
            self._placeholders[value] = placeholder
            self._originals[placeholder] = value
        return placeholder

    def _fresh(self, kind: str) -> str:
        self.counts[kind] += 1
        while True:
            self._numbers[kind] += 1
            placeholder = f"[{kind}_{self._numbers[kind]}]"
            if placeholder not in self._typed:
                return placeholder


def _placeholders_in(text: str) -> list[str]:
    return [m.group(0) for m in PLACEHOLDER.finditer(text)] if "[" in text else []
