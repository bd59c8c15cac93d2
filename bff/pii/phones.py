"""Phone numbers, checked by libphonenumber (the ``phonenumbers`` package).

A fast pattern finds phone-shaped runs of digits (with ``+``, spaces, dots,
dashes, slashes, brackets and an extension); shapes that are something else
are set aside (dates, version strings, prices, thousands, numbers introduced
as an order, invoice or ticket number); what is left counts as a phone number
when libphonenumber finds it a possible number, as written internationally or
nationally in one of the configured regions (``BFF_PII_PHONE_REGIONS``).
A bare run of digits (no separator, no ``+``, no trunk ``0``) with no word naming
a phone before it must be a valid number in a region's numbering plan, not just
one of the right length.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Literal

import phonenumbers

from bff.pii._digits import longest_number
from bff.pii.recognizer import Finding

DEFAULT_REGIONS: tuple[str, ...] = (
    "US", "CA", "GB", "IE", "FR", "BE", "CH", "LU", "DE", "AT", "NL", "ES", "PT", "IT",
    "DK", "SE", "NO", "FI", "PL", "CZ", "GR", "TR", "AU", "NZ", "IN", "BR", "MX", "AR",
    "JP", "ZA",
)  # fmt: skip

_CANDIDATE = re.compile(
    r"(?<![\w.,/+#\]-])(?P<number>(?:\+[ \t]?)?(?:\(|(?<!\())\d[\d \t().\/-]{5,80}\d)"
    r"(?:[ \t]*(?:x|ext\.?|extension|poste|Durchwahl|interno)[ \t]*\d{1,6})?(?![\w\[-])"
)
Bar = Literal["possible", "valid", "long", "lone"]
Verdict = Literal["phone", "other", "unknown"]
_NEXT_START = re.compile(r"[ \t][(+]")
_LONGEST = 32
"""The most characters one phone number takes, separators and all."""
_GROUPS = re.compile(r"\d+")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_THOUSANDS = re.compile(r"\d{1,3}(?:[ ,.]\d{3})+")
_CARD_SHAPED = re.compile(r"\d{4}(?:[ -]\d{4}){2,4}")
_SEPARATOR = re.compile(r"[ \t().\/-]")
_NOT_A_PHONE = re.compile(
    r"\b(?i:order|invoice|ref|reference|ticket|tracking|isbn|version|build|serial|lot|sku|"
    r"account|acct|case|po|id|no|nr|#|commande|facture|bestellung|rechnung|pedido|factura|"
    r"ordine|fattura)[ \t]*[.:#°]?[ \t]*$|[$€£¥]\s*$"
)
_PHONE_WORD = re.compile(
    r"(?i:phone|tel|call|mobile|cell|fax|whatsapp|sms|text|ring|reach|number|numéro|"
    r"téléphone|portable|telefon|handy|rufnummer|teléfono|móvil|movil|telefono|cellulare|"
    r"numero|llamar?|chiama|appel(?:ez|er)?|anrufen)\b\W{0,12}$"
)
_AFTER_PRICE = re.compile(
    r"\s*(?:[€$£%]|(?:EUR|USD|GBP|ms|s|sec|secs|seconds|min|mins|h|hrs|kb|KB|MB|GB|TB|px|km|"
    r"kg|users|items|rows|bytes)\b)"
)


class PhoneRecognizer:
    """Phone numbers in the national formats of ``regions`` and in international
    format from anywhere."""

    kinds = frozenset(("PHONE",))
    blanks_found = True
    """The identifiers found before it are blanked out of the text it reads: a number
    beside an SSN is read on its own, and a redacted text reads as the original did."""

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(regions)

    def find(self, text: str) -> Iterable[Finding]:
        if longest_number(text) < 8:
            return
        for match in _CANDIDATE.finditer(text):
            spans = self._numbers(text, match.start("number"), match.end("number"), match.end())
            yield from (Finding(start, end, "PHONE") for start, end in spans)

    def _numbers(self, text: str, start: int, digits_end: int, end: int) -> list[tuple[int, int]]:
        """The phone numbers in the run ``text[start:end]`` (its digits end at
        ``digits_end``, an extension may follow): the whole run, else (when it is too
        long or not dialable, not when its shape says it is something else) its longest
        first part of ten digits or more ending at a space that is one, else the run
        from the next ``(`` or ``+`` after a space (and, when that holds numbers, the
        part before it on its own), then the same for the rest: two numbers side by
        side, a number and a house number, a postcode and a number."""
        numbers: list[tuple[int, int]] = []
        while start < digits_end:
            verdict = self._judge(text, start, digits_end, end)
            if verdict != "unknown":
                return [*numbers, (start, end)] if verdict == "phone" else numbers
            part = self._first_part(text, start, digits_end)
            if part is not None:
                numbers.append((start, part[0]))
                start = part[1] + 1
                continue
            restart = _NEXT_START.search(text, start + 1, digits_end)  # 65735 (212) 000-0000
            if restart is None:
                break
            rest = self._numbers(text, restart.start() + 1, digits_end, end)
            if not rest:
                break
            head = len(text[start : restart.start()].rstrip(" \t.-/")) + start
            return [*numbers, *self._numbers(text, start, head, head), *rest]
        return numbers

    def _first_part(self, text: str, start: int, digits_end: int) -> tuple[int, int] | None:
        """Where the longest phone number of ten digits or more that starts the run
        ends (before a space and any separators), and that space; None if none."""
        for cut in range(min(digits_end, start + _LONGEST) - 1, start, -1):
            if text[cut] not in " \t":
                continue
            end = len(text[start:cut].rstrip(" \t.-/")) + start
            if (
                sum(c.isdigit() for c in text[start:end]) >= 10
                and self._judge(text, start, end, end) == "phone"
            ):
                return end, cut
        return None

    def _judge(self, text: str, start: int, digits_end: int, end: int) -> Verdict:
        """``phone``, ``other`` (its shape or the words before it say it is something
        else), or ``unknown`` (too long, or not a number libphonenumber knows)."""
        number = text[start:digits_end].strip()
        if not number or not number[-1].isdigit():
            return "unknown"
        bar = _bar(number, text[max(0, start - 24) : start], text, end)
        if bar is None or bar in ("long", "lone"):
            return "other" if bar is None else "unknown"
        return "phone" if dialable(number, self.regions, bar == "valid") else "unknown"


def _bar(number: str, before: str, text: str, end: int) -> Bar | None:
    """What libphonenumber must find ``number`` to be a phone number: ``possible`` (the
    right length), ``valid`` for a bare run of digits with nothing saying it is a phone
    (a number in use in a region's plan); ``long`` when it has too many digits for one
    number, ``lone`` when it has a one-digit group where phone numbers have none (both
    may hold a phone number beside something else); None when it is something else."""
    digits = sum(c.isdigit() for c in number)
    if digits < 8 or _NOT_A_PHONE.search(before) or _AFTER_PRICE.match(text, end):
        return None
    if _DATE.fullmatch(number) or _THOUSANDS.fullmatch(number) or _CARD_SHAPED.fullmatch(number):
        return None
    if digits > (17 if number.startswith(("+", "00")) else 13):
        return "long"  # longer than any one number: two side by side, or a card, an account
    groups = _GROUPS.findall(number.replace("(0)", ""))  # +44 (0)20: the trunk 0 aside
    lone = [i for i, g in enumerate(groups) if len(g) == 1]
    if any(i >= 2 or (i == 1 and not number.startswith("+")) for i in lone):
        return "lone"  # an ISBN, a version string: phone numbers are not written 3-16-1
    bare = not _SEPARATOR.search(number) and not number.startswith(("+", "0"))
    return "valid" if bare and not _PHONE_WORD.search(before) else "possible"


@functools.lru_cache(maxsize=4096)
def dialable(number: str, regions: tuple[str, ...], valid: bool = False) -> bool:
    """Whether libphonenumber finds ``number`` a possible phone number (a valid one, if
    ``valid``): written internationally, or nationally in one of ``regions``."""
    check = phonenumbers.is_valid_number if valid else phonenumbers.is_possible_number
    for region in (None,) if number.startswith("+") else regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if check(parsed):
            return True
    return False
