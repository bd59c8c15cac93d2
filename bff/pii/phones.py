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
from bff.pii._words import UPPER
from bff.pii.recognizer import Finding

DEFAULT_REGIONS: tuple[str, ...] = (
    "US", "CA", "GB", "IE", "FR", "BE", "CH", "LU", "DE", "AT", "NL", "ES", "PT", "IT",
    "DK", "SE", "NO", "FI", "PL", "CZ", "GR", "TR", "AU", "NZ", "IN", "BR", "MX", "AR",
    "JP", "ZA",
)  # fmt: skip

_CANDIDATE = re.compile(
    r"(?<![\w.,/+#(\]-])(?P<number>(?:\+[ \t]?)?\(?\d[\d \t().\/-]{5,24}\d)"
    r"(?:[ \t]*(?:x|ext\.?|extension|poste|Durchwahl|interno)[ \t]*\d{1,6})?(?![\w-])"
)
Bar = Literal["possible", "valid"]
_GROUPS = re.compile(r"\d+")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_THOUSANDS = re.compile(r"\d{1,3}(?:[ ,.]\d{3})+")
_HOUSE_NUMBER_AFTER = re.compile(rf"[ \t]+[{UPPER}]")
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
    """It reads the text with the identifiers found before it blanked out."""

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(regions)

    def find(self, text: str) -> Iterable[Finding]:
        if longest_number(text) < 8:
            return
        for match in _CANDIDATE.finditer(text):
            start = match.start("number")
            before = text[max(0, start - 24) : start]
            for end in _ends(text, start, match.end()):
                whole = end == match.end()
                number = match.group("number").strip() if whole else text[start:end].strip()
                bar = _bar(number, before, text, end)
                if bar is not None and dialable(number, self.regions, bar == "valid"):
                    yield Finding(start, end, "PHONE")
                    break


def _ends(text: str, start: int, end: int) -> list[int]:
    """Where a phone number starting at ``start`` may end: the whole run, else without
    its last group when that group starts a street (``+44 20 7946 0000 012 Karla Isle``)."""
    if not _HOUSE_NUMBER_AFTER.match(text, end):
        return [end]
    cut = text.rfind(" ", start, end)
    return [end, cut] if cut > start else [end]


def _bar(number: str, before: str, text: str, end: int) -> Bar | None:
    """What libphonenumber must find ``number`` to be a phone number: ``possible`` (the
    right length), ``valid`` for a bare run of digits with nothing saying it is a phone
    (a number in use in a region's plan), or None: it is something else."""
    digits = sum(c.isdigit() for c in number)
    if not 8 <= digits <= 17 or _NOT_A_PHONE.search(before) or _AFTER_PRICE.match(text, end):
        return None
    if _DATE.fullmatch(number) or _THOUSANDS.fullmatch(number) or _CARD_SHAPED.fullmatch(number):
        return None
    if digits > 13 and not number.startswith(("+", "00")):
        return None  # longer than any national number: a card, an account
    groups = _GROUPS.findall(number.replace("(0)", ""))  # +44 (0)20: the trunk 0 aside
    lone = [i for i, g in enumerate(groups) if len(g) == 1]
    if any(i >= 2 or (i == 1 and not number.startswith("+")) for i in lone):
        return None  # an ISBN, a version string: phone numbers are not written 3-16-1
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
