"""PII redaction before any text leaves for a provider.

Built-in recognizers, fast regular expressions with checksums where a kind
has one: email addresses, phone numbers (international and North American),
payment card numbers (Luhn), IBANs (mod 97), US SSNs, IPv4 and IPv6
addresses, API keys and secrets with well-known prefixes, and JWTs. Each
distinct value becomes a placeholder that stays the same within a request
(``[EMAIL_1]`` every time the same address appears), so the model can still
refer to it, and ``restore`` can put the originals back.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

_Check = Callable[[str], bool]


def _luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _iban(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _phone(value: str) -> bool:
    return 10 <= sum(c.isdigit() for c in value) <= 15


def _always(value: str) -> bool:
    return True


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

# Order matters: a longer, more specific kind claims its text before a looser one.
RECOGNIZERS: tuple[tuple[str, re.Pattern[str], _Check], ...] = (
    ("JWT", re.compile(r"\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]{10,}"), _always),
    (
        "SECRET",
        re.compile(
            r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|ghp_[A-Za-z0-9]{36}|github_pat_\w{22,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{35}"
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|glpat-[\w-]{20,})"
        ),
        _always,
    ),
    ("EMAIL", re.compile(r"\b[\w.%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), _always),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), _iban),
    ("CARD", re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), _luhn),
    ("SSN", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"), _always),
    (
        "IP",
        re.compile(rf"\b(?:{_OCTET}\.){{3}}{_OCTET}\b"),
        _always,
    ),
    ("IP", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ipv6),
    (
        "PHONE",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
            r"\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)"
        ),
        _phone,
    ),
)


class Redactor:
    """Redacts the texts of one request with placeholders that stay consistent."""

    def __init__(self) -> None:
        self._placeholders: dict[str, str] = {}
        self._originals: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        for kind, pattern, check in RECOGNIZERS:
            text = pattern.sub(functools.partial(self._replace, kind, check), text)
        return text

    def restore(self, text: str) -> str:
        if not self._originals:
            return text
        return _PLACEHOLDER.sub(lambda m: self._originals.get(m.group(0), m.group(0)), text)

    def _replace(self, kind: str, check: _Check, match: re.Match[str]) -> str:
        value = match.group(0)
        if not check(value):
            return value
        placeholder = self._placeholders.get(value)
        if placeholder is None:
            self.counts[kind] += 1
            placeholder = f"[{kind}_{self.counts[kind]}]"
            self._placeholders[value] = placeholder
            self._originals[placeholder] = value
        return placeholder


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """``text`` without control characters (tab, newline and carriage return stay).

    Text that is not valid Unicode never gets this far: Pydantic refuses it when
    it validates the request."""
    return _CONTROL.sub("", text)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (JSON-like data) with ``change`` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, change) for v in value]
    return value


def strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` (JSON-like data)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


_PLACEHOLDER = re.compile(r"\[(?:JWT|SECRET|EMAIL|IBAN|CARD|SSN|IP|PHONE)_\d+\]")
