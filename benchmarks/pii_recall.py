"""PII recognizers (``bff.pii``) on a generated corpus: recall per kind, false positives on
ordinary prose, the cost of redaction and the memory the scanner takes.

The corpus is ``bff.testing.pii_corpus``: 200 sentences per kind, each holding one value
made by Faker in six locales (en_US, en_GB, de_DE, fr_FR, es_ES, it_IT; SSN en_US only),
in templates written the way people write in chat and tickets, many with no hint of what
the value is. A sample counts as caught when every letter and digit of its value lies
inside some finding of ``build_scanner().find`` (a finding of any kind protects it); "right
kind" asks that those findings be of the sample's kind. The false-positive rate is over
200 prose sentences taken from the repository's own text (handbook, demo inputs, eval
inputs) that hold no PII: the share of their words (whitespace-separated, with a letter or
digit) that overlap a finding. Redaction cost is ``Redactor(scanner).redact`` with a fresh
redactor per text, as a request has, over texts of about 1 KB (prose sentences joined, and
the PII sentences joined), in µs per KB of UTF-8, as ranges over the rounds; beside it, on
the same texts, the name recognizer alone and the floor of one regular-expression pass (a
pattern starting with a character class, as most recognizers' do). Memory is the growth
of VmRSS in a fresh interpreter: for ``import bff.pii``, for loading the name lists, and
for ``build_scanner()`` plus one ``find`` after them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from benchmarks._ranges import figure, span
from bff.pii import Finding, Redactor, Scanner, build_scanner
from bff.pii.names import NameRecognizer
from bff.testing.pii_corpus import KINDS, LOCALES, STRUCTURED, Sample, samples
from bff.testing.pii_prose import prose

COUNT = 200
ROUNDS = 5
TEXT_BYTES = 1024
MISSES_SHOWN = 5
FALSE_POSITIVES_SHOWN = 10
RECALL_TARGETS = {**dict.fromkeys(STRUCTURED, 100.0), "PHONE": 97.0, "NAME": 85.0, "ADDRESS": 80.0}
FALSE_POSITIVE_TARGET = 2.0  # % of prose words
COST_TARGET = 50.0  # µs per KB
MEMORY_TARGET = 20.0  # MB for the name lists, build_scanner() and one find()
ROOT = Path(__file__).resolve().parents[1]
_WORD = re.compile(r"\S+")


class Redacting(Protocol):
    def redact(self, text: str) -> str: ...


@dataclass
class Recall:
    """How one kind's samples fared."""

    kind: str
    caught: int = 0
    right_kind: int = 0
    misses: list[Sample] = field(default_factory=list)


def _covered(sample: Sample, findings: Sequence[Finding], kind: str | None = None) -> bool:
    """Every letter and digit of the sample's value inside a finding (of ``kind``, if given)."""
    spans = [(f.start, f.end) for f in findings if kind is None or f.kind == kind]
    return all(
        any(start <= at < end for start, end in spans)
        for at in range(sample.start, sample.end)
        if sample.text[at].isalnum()
    )


def _recall(scanner: Scanner, kind: str) -> Recall:
    result = Recall(kind)
    for sample in samples(kind, COUNT):
        findings = scanner.find(sample.text)
        if _covered(sample, findings):
            result.caught += 1
            result.right_kind += _covered(sample, findings, kind)
        else:
            result.misses.append(sample)
    return result


def _print_recall(results: list[Recall]) -> None:
    print(f"{'kind':>8} {'samples':>8} {'caught':>7} {'recall':>8} {'right kind':>11} "
          f"{'target':>7} {'met':>8}")  # fmt: skip
    for r in results:
        total = r.caught + len(r.misses)
        recall = 100 * r.caught / total
        target = RECALL_TARGETS[r.kind]
        print(
            f"{r.kind:>8} {total:>8} {r.caught:>7} {recall:>7.1f}% "
            f"{100 * r.right_kind / total:>10.1f}% {target:>6g}% "
            f"{'met' if recall >= target else 'not met':>8}"
        )
    for r in results:
        if r.misses:
            shown = "; ".join(f"{s.value!r} ({s.locale})" for s in r.misses[:MISSES_SHOWN])
            print(f"  {r.kind} misses ({len(r.misses)}): {shown}")


def _false_positives(scanner: Scanner, sentences: list[str]) -> float:
    """The share of prose words that overlap a finding, in %; prints the first few."""
    words = flagged = 0
    shown: list[str] = []
    for sentence in sentences:
        findings = scanner.find(sentence)
        for word in _WORD.finditer(sentence):
            if not any(c.isalnum() for c in word.group()):
                continue
            words += 1
            flagged += any(f.start < word.end() and word.start() < f.end for f in findings)
        shown += [
            f"{f.kind} {sentence[f.start : f.end]!r} in "
            f"{sentence[max(0, f.start - 40) : f.end + 40]!r}"
            for f in findings
        ]
    rate = 100 * flagged / words
    met = "met" if rate < FALSE_POSITIVE_TARGET else "not met"
    print(
        f"\nprose: {len(sentences)} sentences, {words} words, {flagged} flagged: {rate:.2f}% "
        f"(target < {FALSE_POSITIVE_TARGET:g}%: {met}); {len(shown)} findings in all"
    )
    for line in shown[:FALSE_POSITIVES_SHOWN]:
        print(f"  {line}")
    return rate


def _joined(sentences: Sequence[str]) -> list[str]:
    """The sentences joined into texts of about ``TEXT_BYTES`` bytes each."""
    texts, current = [], ""
    for sentence in sentences:
        current = f"{current} {sentence}" if current else sentence
        if len(current.encode()) >= TEXT_BYTES:
            texts.append(current)
            current = ""
    return [*texts, current] if current else texts


def _cost(redactor: Callable[[], Redacting], texts: list[str]) -> list[float]:
    """µs per KB for each round; a fresh redactor per text, after a warm-up pass."""
    kilobytes = sum(len(text.encode()) for text in texts) / 1024
    for text in texts:
        redactor().redact(text)
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for text in texts:
            redactor().redact(text)
        rounds.append((time.perf_counter() - started) * 1e6 / kilobytes)
    return rounds


class _NamesAlone:
    """The name recognizer on its own, as a redactor for ``_cost``."""

    recognizer = NameRecognizer()

    def redact(self, text: str) -> str:
        list(self.recognizer.find(text))
        return text


class _OnePass:
    """The floor: one pass of a pattern that starts with a character class."""

    pattern = re.compile(r"[A-Z][a-z]+")

    def redact(self, text: str) -> str:
        self.pattern.findall(text)
        return text


def _print_costs(scanner: Scanner, texts: dict[str, list[str]]) -> float:
    print(f"\nredaction, µs per KB (fresh Redactor per text, {ROUNDS} rounds, min..max)")
    print(
        f"{'texts':>24} {'count':>6} {'KB':>6} {'bff.pii':>14} {'names alone':>12} {'1 pass':>10}"
    )
    worst = 0.0
    for label, group in texts.items():
        new = _cost(lambda: Redactor(scanner), group)
        worst = max(worst, *new)
        names, floor = span(_cost(_NamesAlone, group)), span(_cost(_OnePass, group))
        kilobytes = sum(len(t.encode()) for t in group) / 1024
        print(
            f"{label:>24} {len(group):>6} {figure(kilobytes):>6} {span(new):>14} "
            f"{names:>12} {floor:>10}"
        )
    met = "met" if worst < COST_TARGET else "not met"
    print(f"(target < {COST_TARGET:g} µs per KB, on the slowest round: {met})")
    return worst


_RSS = """
import re
def rss():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmRSS:\\s+(\\d+)", status.read()).group(1))
start = rss()
import bff.pii, bff.pii.names
imported = rss()
bff.pii.names.name_lists()
lists = rss()
scanner = bff.pii.build_scanner()
scanner.find("Call Anna Schmidt on +49 30 1234567 at Hauptstraße 5, 10115 Berlin.")
print(imported - start, lists - imported, rss() - lists)
"""


def _memory() -> float:
    """MB of VmRSS that ``import bff.pii`` and then ``build_scanner()`` plus a find add."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    imported, lists, built = (int(kb) / 1024 for kb in out)
    met = "met" if lists + built <= MEMORY_TARGET else "not met"
    print(
        f"\nresident memory (VmRSS, fresh interpreter): import bff.pii +{imported:.1f} MB; "
        f"the name lists +{lists:.1f} MB; build_scanner() and one find() +{built:.1f} MB "
        f"more (target for the last two <= {MEMORY_TARGET:g} MB: {met})"
    )
    return lists + built


def main() -> None:
    started = time.perf_counter()
    scanner = build_scanner()
    scanner.find("Warm-up: Anna Schmidt, Hauptstraße 5, 10115 Berlin, +49 30 1234567.")
    built = time.perf_counter() - started
    print(
        f"\npii_recall (`.venv/bin/python -m benchmarks pii_recall`): bff.pii.build_scanner() "
        f"(built and warmed in {built * 1e3:.0f} ms), {COUNT} samples per kind in "
        f"{len(LOCALES)} locales ({', '.join(LOCALES)}; SSN en_US), seed 19"
    )
    results = [_recall(scanner, kind) for kind in KINDS]
    _print_recall(results)
    sentences = prose(COUNT)
    _false_positives(scanner, sentences)
    corpus = [s.text for kind in KINDS for s in samples(kind, COUNT)]
    _print_costs(
        scanner, {"prose, ~1 KB texts": _joined(sentences), "PII, ~1 KB texts": _joined(corpus)}
    )
    _memory()


if __name__ == "__main__":
    main()
