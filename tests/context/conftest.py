from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bff.context import FtsIndex

# A small corpus whose right answers are known: each question of the ranking tests has
# one section that answers it, and other sections that share some of its words.
FIXTURE_CORPUS = {
    "billing/refunds.md": (
        "# Refunds\n\n"
        "## Annual plans\n\n"
        "Annual subscriptions are refunded in full within 30 days of purchase.\n\n"
        "## Monthly plans\n\n"
        "Monthly plans are not refunded for partial months.\n"
    ),
    "billing/invoices.md": (
        "# Invoices\n\n"
        "An invoice is issued on the first day of each billing period, for annual and "
        "monthly plans alike.\n"
    ),
    "security/sso.md": (
        "# Single sign-on\n\n"
        "## Identity providers\n\n"
        "Okta, Entra ID and Google Workspace work with SAML.\n\n"
        "## Enforcing it\n\n"
        "When single sign-on is enforced, passwords stop working for members.\n"
    ),
    "api/limits.md": (
        "# Rate limits\n\n"
        "The API allows 600 requests per minute on Business. Over the limit it answers "
        "429 with a Retry-After header.\n"
    ),
    "api/webhooks.markdown": (
        "# Webhooks\n\nDeliveries are signed with HMAC-SHA256 and retried 8 times.\n"
    ),
    "notes.txt": "Plain text notes about the office coffee machine and its descaling.\n",
}


def write_corpus(root: Path, files: dict[str, str] = FIXTURE_CORPUS) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The fixture corpus in a folder of its own."""
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def index(corpus: Path) -> Iterator[FtsIndex]:
    """An in-memory index of the fixture corpus."""
    with FtsIndex(":memory:") as built:
        built.update(corpus)
        yield built


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BFF_ settings from outside, and a cache folder of the test's own."""
    for name in list(os.environ):
        if name.startswith(("BFF_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
