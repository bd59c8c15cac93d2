"""Identifiers with a fixed shape, found by fast patterns and confirmed by a
checksum where the kind has one: email addresses, payment card numbers (Luhn),
IBANs (mod 97), US SSNs, IPv4 and IPv6 addresses, API keys and secrets with
well-known prefixes, and JWTs."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from bff.pii._digits import dotted_quad, longest_number
from bff.pii.recognizer import PatternRecognizer

_SECRET_PREFIXES = (
    "sk-",
    "ghp_",
    "github_pat_",
    "xox",
    "AKIA",
    "AIza",
    "_live_",
    "_test_",
    "glpat-",
)


def _digits(least: int, *marks: str) -> Callable[[str], bool]:
    """A gate: a number of at least ``least`` digits, and each of ``marks``, in the text."""
    return lambda text: all(m in text for m in marks) and longest_number(text) >= least


def _luhn(value: str) -> bool:
    """The Luhn checksum of a card number: 13 to 19 digits, or 12 and up for
    Maestro's ranges (50, 56 to 69)."""
    digits = [int(c) for c in value if c.isdigit()]
    maestro = (digits[0] == 5 and digits[1] in (0, 6, 7, 8, 9)) or digits[0] == 6
    maestro = maestro or digits[:4] == [0, 6, 0, 4]  # the old UK Maestro range
    if not (12 if maestro else 13) <= len(digits) <= 19:
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
    """An IPv6 address with two groups or more (``::`` and ``::1`` are not anyone's)."""
    if sum(1 for group in value.split(":") if group) < 2:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _colons(text: str) -> bool:
    """A gate for IPv6: two colons at most four characters apart, with no space between."""
    at = text.find(":")
    while at != -1:
        near = text.find(":", at + 1, at + 6)
        if near != -1 and " " not in text[at:near]:
            return True
        at = text.find(":", at + 1)
    return False


_CARD = re.compile(  # as cards are written: 4-4-4-4, 4-6-5, or the digits alone
    r"(?<![\w\]-])(?:\d{12,19}"
    r"|\d{4}(?P<sep>[ -])\d{4}(?:(?P=sep)\d{4}){1,2}(?:(?P=sep)\d{1,4})?"
    r"|\d{4}(?P<amex>[ -])\d{6}(?P=amex)\d{4,5})(?![\w\[])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


# Order matters: a longer, more specific kind claims its text before a looser one.
STRUCTURED: tuple[PatternRecognizer, ...] = (
    PatternRecognizer(
        "JWT",
        re.compile(r"(?<![\w\]])eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]{10,}"),
        gate=lambda text: "eyJ" in text,
    ),
    PatternRecognizer(
        "SECRET",
        re.compile(
            r"(?<![\w\]])(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|ghp_[A-Za-z0-9]{36}|github_pat_\w{22,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{35}"
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|glpat-[\w-]{20,})"
        ),
        gate=lambda text: any(prefix in text for prefix in _SECRET_PREFIXES),
    ),
    PatternRecognizer(
        "EMAIL",
        re.compile(r"(?<![\w\]])[\w.%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![\w\[])"),
        gate=lambda text: "@" in text,
    ),
    PatternRecognizer(
        "IBAN",
        re.compile(r"(?<![\w\]])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![\w\[])"),
        _iban,
        _digits(8),
    ),
    PatternRecognizer("CARD", _CARD, _luhn, _digits(12)),
    PatternRecognizer(
        "SSN",
        re.compile(r"(?<![\w\]])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w\[])"),
        gate=_digits(9, "-"),
    ),
    PatternRecognizer(
        "IP", re.compile(rf"(?<![\w\]])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w\[])"), gate=dotted_quad
    ),
    PatternRecognizer(
        "IP",
        re.compile(r"(?<![\w:\]])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:\[])"),
        _ipv6,
        gate=_colons,
    ),
)
