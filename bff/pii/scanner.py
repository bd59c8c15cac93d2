"""The recognizers a deployment runs, in priority order, and the kinds it redacts.

``build_scanner`` puts the built-in recognizers in order (the structured
identifiers, then street addresses, phone numbers and person names: a longer,
more specific finding claims its text before a looser one, and the phone
recognizer reads the text with the values found before it blanked), keeps the kinds
switched on (``BFF_PII_KINDS``), and appends a team's own recognizers
(``BFF_PII_RECOGNIZERS``) after them. A kind that is switched off is never
redacted, whichever recognizer finds it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from bff.pii.addresses import AddressRecognizer
from bff.pii.names import NameRecognizer
from bff.pii.phones import DEFAULT_REGIONS, PhoneRecognizer
from bff.pii.recognizer import PLACEHOLDER, Finding, Recognizer, resolved
from bff.pii.structured import STRUCTURED

BUILT_IN_KINDS: tuple[str, ...] = (
    "JWT", "SECRET", "EMAIL", "IBAN", "CARD", "SSN", "IP", "PHONE", "ADDRESS", "NAME",
)  # fmt: skip


class Scanner:
    """Finds the PII of a text with its recognizers; see the module docstring."""

    def __init__(self, recognizers: Sequence[Recognizer], off: Collection[str] = ()) -> None:
        self.recognizers = tuple(recognizers)
        self.off = frozenset(off)
        """Kinds switched off: dropped whoever reports them."""

    @property
    def kinds(self) -> frozenset[str]:
        """Every kind this scanner may report."""
        every = frozenset().union(*(r.kinds for r in self.recognizers))
        return every - self.off

    def find(self, text: str) -> list[Finding]:
        """The values to redact in ``text``, sorted and not overlapping. A recognizer
        that asks for it (``blanks_found``) reads the text with the values found before
        it blanked out, so that its own run is not glued to one of them (and reads a
        text redacted before the same way as the original)."""
        found: list[list[Finding]] = []
        for recognizer in self.recognizers:
            seen = _blanked(text, found) if getattr(recognizer, "blanks_found", False) else text
            found.append([f for f in recognizer.find(seen) if f.kind not in self.off])
        return resolved(found)


def build_scanner(
    kinds: Iterable[str] = BUILT_IN_KINDS,
    phone_regions: Sequence[str] = DEFAULT_REGIONS,
    extra: Sequence[Recognizer] = (),
) -> Scanner:
    """The built-in recognizers of ``kinds`` (each one of BUILT_IN_KINDS), then ``extra``."""
    on = set(kinds)
    unknown = on - set(BUILT_IN_KINDS)
    if unknown:
        raise ValueError(f"unknown PII kind(s): {', '.join(sorted(unknown))}")
    built_in: list[Recognizer] = [r for r in STRUCTURED if r.kind in on]
    if "ADDRESS" in on:
        built_in.append(AddressRecognizer())
    if "PHONE" in on:
        built_in.append(PhoneRecognizer(phone_regions))
    if "NAME" in on:
        built_in.append(NameRecognizer())
    return Scanner([*built_in, *extra], off=set(BUILT_IN_KINDS) - on)


def _blanked(text: str, found: Sequence[Sequence[Finding]]) -> str:
    """``text`` with every finding so far, and every placeholder (a value found by an
    earlier pass), replaced by underscores: places stay the same, and what was glued to
    a value (a word character) stays glued to something."""
    spans = [(f.start, f.end) for group in found for f in group]
    if "[" in text:
        spans += [m.span() for m in PLACEHOLDER.finditer(text)]
    spans.sort()
    if not spans:
        return text
    parts: list[str] = []
    at = 0
    for start, end in spans:
        if start >= at:
            parts += (text[at:start], "_" * (end - start))
            at = end
    return "".join(parts) + text[at:]
