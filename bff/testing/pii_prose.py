"""Ordinary sentences that hold no PII, from the repository's own text (the bundled
handbook, the demo inputs, the eval datasets' inputs): what false positives of the PII
recognizers are measured on (benchmarks/pii_recall.py)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

from bff.context.corpus import DEMO_CORPUS

_ROOT = Path(__file__).resolve().parents[2]  # the repository, when run from a checkout
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"<[^>]+>|`|\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)")
_BULLET = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+|>\s*)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(¿¡]?[A-ZÀ-Ý0-9¿¡])")
_DROP = re.compile(r"@|\d{5,}|\[[A-Z]+_\d+\]|[\x00-\x08\x0b-\x1f\x7f]|\{\{|[{}|]")
# The eval inputs test redaction on purpose: cards, IBANs, phone numbers, an SSN, IPs and
# keys written with separators, which the 5-digit rule alone lets through.
_PII_SHAPED = re.compile(
    r"\d(?:[\s().-]{0,2}\d){6,}|\d{1,3}(?:\.\d{1,3}){3}|\b[0-9a-fA-F]{1,4}:[0-9a-fA-F]*:"
    r"|\b(?:sk|rk|pk)[-_]\w|\bAKIA|\bghp_|\beyJ|\+\d"
)
# Found by reading every candidate sentence: the eval inputs name people (meeting minutes
# with "Present: Dana (engineering manager), Priya ...", "Call Bob", "thank you to Maya")
# and two give a street ("the bakery on King Street", "Keizersgracht 100"). Those are
# exactly the PII this corpus must not hold, so sentences naming them are dropped.
_PEOPLE = re.compile(
    r"\b(?:Bob|Dana|Dave|Helen|Ines|Jen|Jonas|Kwame|Lena|Lucía|Marco|Maria|Maya|Olaf|Priya"
    r"|Raj|Robert|Sam|Sarah|Sofia|Tom|Tomás|Yuki)\b"
    r"|\b[A-Z]\w+ (?:Street|Road|Avenue|Lane)\b|Keizersgracht"
)


def _units(markdown: str) -> Iterator[str]:
    """Paragraphs and list items of ``markdown``, with its syntax taken out."""
    markdown = _FENCE.sub("\n", markdown.replace("\r\n", "\n"))
    for block in re.split(r"\n\s*\n", markdown):
        unit: list[str] = []
        for line in block.splitlines():
            if line.lstrip().startswith("|"):  # a table row: no sentences in it
                continue
            if _BULLET.match(line) and unit:
                yield " ".join(unit)
                unit = []
            unit.append(_MARKUP.sub("", _LINK.sub(r"\1", _BULLET.sub("", line))).strip())
        if unit:
            yield " ".join(unit)


def _sentences(markdown: str) -> Iterator[str]:
    for unit in _units(markdown):
        for sentence in _SENTENCE_END.split(" ".join(unit.split())):
            words = sentence.split()
            if not 6 <= len(words) <= 60:
                continue
            if not any(rule.search(sentence) for rule in (_DROP, _PII_SHAPED, _PEOPLE)):
                yield sentence


def _handbook() -> list[str]:
    pages = sorted(DEMO_CORPUS.rglob("*.md"))
    return [s for page in pages for s in _sentences(page.read_text(encoding="utf-8"))]


def _demo_inputs() -> list[str]:
    """The sample inputs the demo front end fills its forms with."""
    found: list[str] = []
    for name in ("js/tasks.js", "js/docs.js", "index.html"):
        path = _ROOT / "frontend-demo" / name
        if path.is_file():
            source = path.read_text(encoding="utf-8")
            literals = re.findall(r'^\s*(?:\w+:|.*SAMPLE\w* =)\s*\n?\s*"([^"]+)"', source, re.M)
            literals += re.findall(r"<textarea[^>]*>([^<]+)</textarea>", source)
            found += [s for text in literals for s in _sentences(text)]
    return found


def _eval_inputs() -> list[str]:
    """The string inputs of the golden eval datasets (``evals/*.jsonl``)."""
    found: list[str] = []
    for path in sorted((_ROOT / "evals").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            inputs = json.loads(line)["input"] if line.strip() else {}
            for value in inputs.values():
                if isinstance(value, str):
                    found += _sentences(value)
    return found


def prose(count: int = 200) -> list[str]:
    """``count`` sentences of ordinary text with no PII, taken in turn from the handbook,
    the demo inputs and the eval inputs (each shuffled with a fixed seed), no repeats."""
    sources = [_handbook(), _demo_inputs(), _eval_inputs()]
    for number, source in enumerate(sources):
        random.Random(19 + number).shuffle(source)
    chosen: dict[str, None] = {}
    while len(chosen) < count and any(sources):
        for source in sources:
            while source and source[-1] in chosen:
                source.pop()
            if source and len(chosen) < count:
                chosen[source.pop()] = None
    if len(chosen) < count:
        raise ValueError(f"only {len(chosen)} prose sentences found, {count} asked for")
    return list(chosen)
