"""PII redaction before any text leaves for a provider (docs/pii.md).

Recognizers find the values (``recognizer``); a scanner runs the ones a
deployment switched on, in priority order (``scanner``); a redactor swaps each
value for a placeholder and puts the originals back (``redactor``).
"""

from bff.pii.recognizer import Finding, PatternRecognizer, Recognizer
from bff.pii.redactor import Redactor
from bff.pii.scanner import BUILT_IN_KINDS, Scanner, build_scanner

__all__ = [
    "BUILT_IN_KINDS",
    "Finding",
    "PatternRecognizer",
    "Recognizer",
    "Redactor",
    "Scanner",
    "build_scanner",
]
