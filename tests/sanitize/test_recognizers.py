"""Each kind through the scanner a deployment builds: what it finds, exactly where, and
the look-alikes it leaves alone."""

from __future__ import annotations

import pytest

from bff.pii import Scanner, build_scanner
from bff.pii.addresses import _INTRODUCERS, _STEMS
from bff.pii.phones import PhoneRecognizer

SCANNER = build_scanner()

Found = list[tuple[str, str]]


def found(text: str, scanner: Scanner = SCANNER) -> Found:
    """(the exact text, kind) of each finding."""
    return [(text[f.start : f.end], f.kind) for f in scanner.find(text)]


def _cases(kind: str, rows: list[tuple[str, str]]) -> list[tuple[str, Found]]:
    """(sentence, one finding of ``kind``) for (sentence, value) rows."""
    return [(text, [(value, kind)]) for text, value in rows]


PHONES = _cases(
    "PHONE",
    [
        ("Call me on +33 (0)2 49 77 77 41 after 5pm.", "+33 (0)2 49 77 77 41"),
        ("The London desk is +44 20 7946 0958.", "+44 20 7946 0958"),
        ("Reach me at +1-537-640-6812x41586 any time", "+1-537-640-6812x41586"),
        ("Office: (0161) 4960066, ask for the desk", "(0161) 4960066"),
        ("Mon portable : 04 15 39 15 00", "04 15 39 15 00"),
        ("Rufen Sie 030 1234567 an", "030 1234567"),
        ("Call (212) 555-0142 before noon.", "(212) 555-0142"),
        ("Extension: (212) 555-0142 x2972 works", "(212) 555-0142 x2972"),
        ("Durchwahl 030 1234567 ext. 12 bitte", "030 1234567 ext. 12"),
        ("Missed call from 001-967-761-2220x2972, no voicemail", "001-967-761-2220x2972"),
        ("Tel: 3420837783", "3420837783"),
        # A bare run that is a valid number somewhere is redacted even with no phone word
        # before it: over-redaction is the safe side (docs/pii.md).
        ("The result was 4815162342 again.", "4815162342"),
    ],
)
NOT_PHONES = [
    "Where is order 1234567890?",
    "Meine Bestellung 12345678 ist nicht angekommen.",
    "Please pay invoice INV-2024-00123 by Friday.",
    "Ticket #48213 is closed.",
    "It started on 2024-01-15 at noon.",
    "It started on 12/03/2024 at noon.",
    "Es begann am 15.01.2024 um zwölf.",
    "Upgrade from 1.2.3 first.",
    "Windows build 10.0.19045.2965 crashes.",
    "Pinned to v2.14.1 since March.",
    "The plan costs $1,234.56 a year.",
    "Der Plan kostet 1.234,56 € im Jahr.",
    "We passed 12 500 000 users.",
    "GET /api/orders 502 30043 ms",
    "ISBN 978-3-16-148410-0 is out of print.",
    "The result was 123456789012345 again.",  # 15 digits: longer than a national number
]

NAMES = [
    ("Diane Grondin will pick it up at the front desk.", [("Diane Grondin", "NAME")]),
    ("Thanks, Luc", [("Luc", "NAME")]),
    ("Sehr geehrte Frau Müller, danke für Ihre Nachricht.", [("Müller", "NAME")]),
    ("Hi, my name is Xavier Quennehen and I need help.", [("Xavier Quennehen", "NAME")]),
    ("Mme Lefèvre a appelé ce matin.", [("Lefèvre", "NAME")]),
    ("Bonjour Mme Lefèvre, voici le devis.", [("Lefèvre", "NAME")]),
    (
        "Luc Lemaire <luc.lemaire@example.com>",
        [("Luc Lemaire", "NAME"), ("luc.lemaire@example.com", "EMAIL")],
    ),
    ("Vera del Bolaños called twice.", [("Vera del Bolaños", "NAME")]),
]
NOT_NAMES = [
    "Open Settings and choose Accounts.",
    "Hi Team, the export failed again.",
    "Contact Support if it happens again.",
    "Thu 07:52 backup started",
    "Fri 09:15 build finished",
    "The Fernbook Sync app logs me out every day.",
    "We moved the office to New York last year.",
    "Yesterday the printer broke. Today it works. Monday works for me.",
]

ADDRESSES = _cases(
    "ADDRESS",
    [
        (
            "The parcel went to 786 Timothy Summit Suite 625 by mistake.",
            "786 Timothy Summit Suite 625",
        ),
        (
            "Write to 1600 Pennsylvania Avenue NW, Washington, DC 20500",
            "1600 Pennsylvania Avenue NW, Washington, DC 20500",
        ),
        ("I moved to Flat 37, Bennett Mall in May.", "Flat 37, Bennett Mall"),
        ("Le colis est au 49, avenue Renaud depuis lundi.", "49, avenue Renaud"),
        (
            "Livraison au 12 bis rue de la Paix, 75002 Paris demain.",
            "12 bis rue de la Paix, 75002 Paris",
        ),
        ("Wir wohnen jetzt in der Heckerallee 30/66 im dritten Stock.", "Heckerallee 30/66"),
        (
            "Bitte an Karl-Marx-Straße 12, 10115 Berlin liefern.",
            "Karl-Marx-Straße 12, 10115 Berlin",
        ),
        ("Das Büro ist Am Markt 3 neben der Kirche.", "Am Markt 3"),
        ("El piso está en Calle de Alcalá 12, 3ºB desde enero.", "Calle de Alcalá 12, 3ºB"),
        ("Consegna in Via Roma, 12 Piano 3 entro venerdì.", "Via Roma, 12 Piano 3"),
        ("Hello, my address is Maple Cottage 12, Ballina. Thanks", "Maple Cottage 12, Ballina"),
    ],
)
NOT_ADDRESSES = [
    "Im Jahr 2020 war alles anders.",
    "It works on Windows 10 and 11.",
    "The proxy returned 502 Bad Gateway again.",
    "Chrome 120 crashes on start.",
    "Sign up and get 3 Free Days.",
    "We met on King Street yesterday.",
]

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIzNDU2"
STRUCTURED = [
    ("Mail ann.x@corp.example.com today.", "ann.x@corp.example.com", "EMAIL"),
    ("Card 4111 1111 1111 1111 was charged.", "4111 1111 1111 1111", "CARD"),
    ("Card 4111-1111-1111-1111 was charged.", "4111-1111-1111-1111", "CARD"),
    # A 12-digit Maestro number (IIN 50, Luhn check digit 9): cards run from 12 digits.
    ("My Maestro card 5018 0000 0009 expired.", "5018 0000 0009", "CARD"),
    ("My Maestro card 501800000009 expired.", "501800000009", "CARD"),
    ("IBAN DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00", "IBAN"),
    ("IBAN GB82WEST12345698765432 please", "GB82WEST12345698765432", "IBAN"),
    ("SSN 123-45-6789 on file", "123-45-6789", "SSN"),
    ("Blocked 203.0.113.7 twice", "203.0.113.7", "IP"),
    ("From 2001:db8:85a3::8a2e:370:7334 again", "2001:db8:85a3::8a2e:370:7334", "IP"),
    ("key sk-proj-A1b2C3d4A1b2C3d4A1b2C3d4A1b2C3d4 leaked", "sk-proj-" + "A1b2C3d4" * 4, "SECRET"),
    ("token ghp_" + "a1B2" * 9 + " leaked", "ghp_" + "a1B2" * 9, "SECRET"),
    ("AWS AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE", "SECRET"),
    (f"Bearer {JWT}", JWT, "JWT"),
]
NOT_STRUCTURED = [
    "Card 4111 1111 1111 1112 was declined.",  # 16 digits failing Luhn
    "Paid with 4111111111111112 yesterday.",
    "The host 192.168.1.256 is invalid.",
    "Ping 192.168.1.256 failed.",
    "Your order 501800000007 has shipped.",  # 12 digits failing Luhn
    "Reference 123456789012 in the letter.",
    "Time 10:30:15 and ratio 3:2.",
    "Write to support at example dot com.",
    "IBAN DE89 3704 0044 0532 0130 02 is mistyped.",  # fails mod 97 (and Luhn)
    "SSN 000-12-3456 is not issued.",
]


@pytest.mark.parametrize(("text", "expected"), [*PHONES, *NAMES, *ADDRESSES])
def test_found_exactly(text: str, expected: Found) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(("text", "value", "kind"), STRUCTURED)
def test_structured_kinds(text: str, value: str, kind: str) -> None:
    assert found(text) == [(value, kind)]


@pytest.mark.parametrize("text", [*NOT_PHONES, *NOT_NAMES, *NOT_ADDRESSES, *NOT_STRUCTURED])
def test_near_misses_are_not_pii(text: str) -> None:
    assert found(text) == []


def test_national_formats_follow_the_configured_regions() -> None:
    us_only = build_scanner(phone_regions=["US"])
    uk_national = "Office: (0161) 4960066, ask for the desk"
    assert found(uk_national) == [("(0161) 4960066", "PHONE")]  # GB is a default region
    assert found(uk_national, us_only) == []
    international = "Office: +44 161 496 0066, ask for the desk"
    assert found(international, us_only) == [("+44 161 496 0066", "PHONE")]
    assert found("Call (212) 555-0142 today", us_only) == [("(212) 555-0142", "PHONE")]


def test_one_recognizer_alone() -> None:
    recognizer = PhoneRecognizer(["FR"])
    text = "Tel 04 15 39 15 00 ou +44 20 7946 0958"
    spans = [(text[f.start : f.end], f.kind) for f in recognizer.find(text)]
    assert spans == [("04 15 39 15 00", "PHONE"), ("+44 20 7946 0958", "PHONE")]
    assert recognizer.kinds == {"PHONE"}


def test_a_kind_switched_off_is_never_reported() -> None:
    text = "Diane Grondin, +44 20 7946 0958, ann@example.com"
    assert found(text, build_scanner(kinds=["EMAIL"])) == [("ann@example.com", "EMAIL")]
    assert {f.kind for f in SCANNER.find(text)} == {"NAME", "PHONE", "EMAIL"}
    with pytest.raises(ValueError, match="unknown PII kind"):
        build_scanner(kinds=["EMAIL", "PASSPORT"])


def test_every_phrase_that_introduces_an_address_is_looked_for() -> None:
    """The address recognizer looks for its phrases only in a text holding one of its
    stems: a phrase with no stem would never be found."""
    assert [p for p in _INTRODUCERS if not any(stem in p for stem in _STEMS)] == []
    text = "Envíalo a Calle Mayor 5, Madrid."
    assert found(text) == [("Calle Mayor 5, Madrid", "ADDRESS")]
