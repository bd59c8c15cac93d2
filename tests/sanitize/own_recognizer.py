"""A team's own recognizers, for ``BFF_PII_RECOGNIZERS`` in the tests, and entries that
are not recognizers."""

from __future__ import annotations

import re

from bff.pii import PatternRecognizer

EMPLOYEE_IDS = PatternRecognizer("EMPLOYEE_ID", re.compile(r"\bEMP-\d{6}\b"))


def employee_ids() -> list[PatternRecognizer]:
    """A factory: called with no argument, it returns the recognizers."""
    return [EMPLOYEE_IDS]


class Unrelated:
    """Neither ``kinds`` nor ``find``."""


NOT_A_RECOGNIZER = Unrelated()
LOWER_CASE_KIND = PatternRecognizer("employee_id", re.compile(r"\bEMP-\d{6}\b"))
NO_KINDS = PatternRecognizer("", re.compile(r"x"))
