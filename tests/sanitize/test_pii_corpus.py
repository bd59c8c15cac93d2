"""The PII corpus generator keeps its own promises: seeded, exact spans, clean prose."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from bff.testing.pii_corpus import KINDS, LOCALES, samples
from bff.testing.pii_prose import prose
from bff.testing.pii_templates import TEMPLATES


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_the_count_asked_for_with_exact_spans(kind: str) -> None:
    made = samples(kind, count=60)
    assert len(made) == 60
    for sample in made:
        assert sample.kind == kind
        assert sample.text[sample.start : sample.end] == sample.value
        assert sample.value == sample.value.strip() and "\n" not in sample.value
    locales = {sample.locale for sample in made}
    assert locales == ({"en_US"} if kind == "SSN" else set(LOCALES))


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another() -> None:
    assert samples("NAME", count=30) == samples("NAME", count=30)
    assert samples("ADDRESS", count=30, seed=7) == samples("ADDRESS", count=30, seed=7)
    assert samples("PHONE", count=30, seed=1) != samples("PHONE", count=30, seed=2)


def test_every_kind_has_enough_templates_per_language() -> None:
    for kind in KINDS:
        for language, templates in TEMPLATES[kind].items():
            assert len(templates) >= 8, (kind, language)
            assert all(template.count("{}") == 1 for template in templates)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        samples("PASSPORT")


def test_prose_is_200_distinct_sentences_without_obvious_pii() -> None:
    sentences = prose()
    assert len(sentences) == 200 == len(set(sentences))
    assert sentences == prose()
    for sentence in sentences:
        assert "@" not in sentence
        assert not re.search(r"\d{5}", sentence)
        assert not re.search(r"\[[A-Z]+_\d+\]", sentence)
        assert 6 <= len(sentence.split()) <= 60


def test_the_corpus_is_the_same_in_every_interpreter() -> None:
    """Seeded means seeded: not hanging on the order of a set (PYTHONHASHSEED)."""
    script = (
        "import hashlib; from bff.testing.pii_corpus import KINDS, samples; "
        "print(hashlib.sha256(repr([s.text for k in KINDS for s in samples(k, 60)]).encode())"
        ".hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True,
        ).stdout
        for seed in ("1", "2")
    }  # fmt: skip
    assert len(digests) == 1
