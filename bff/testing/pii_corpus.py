"""A seeded corpus of PII inside everyday sentences, and prose that holds none.

``samples(kind)`` puts generated values (Faker, six locales) into sentences the way
people write them in chat and support tickets: sometimes announced ("My name is ..."),
often not ("... will pick it up at the front desk"), at the start, in the middle or at
the end before punctuation. Ordinary prose to measure false positives on is
``bff.testing.pii_prose``. Test support only: Faker is imported when samples are made.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bff.testing.pii_templates import TEMPLATES

if TYPE_CHECKING:
    from faker import Faker

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT")
STRUCTURED = ("EMAIL", "CARD", "IBAN", "SSN", "IP", "SECRET", "JWT")
KINDS = (*STRUCTURED, "PHONE", "NAME", "ADDRESS")
SSN_LOCALES = ("en_US",)  # Faker's ``ssn()`` is the US number only in en_US


@dataclass(frozen=True)
class Sample:
    """A sentence with one PII value in it, at ``text[start:end]``."""

    text: str
    start: int
    end: int
    kind: str
    value: str
    locale: str


_Make = Callable[["Faker", str, int], str]


def _address(faker: Faker, locale: str, variant: int) -> str:
    """The street alone, or the line a letter carries in ``locale`` (postcode, city)."""
    street = ", ".join(part.strip() for part in faker.street_address().splitlines())
    if variant % 2 == 0:
        return street
    if locale == "en_US":
        return f"{street}, {faker.city()}, {faker.state_abbr()} {faker.postcode()}"
    if locale == "en_GB":
        return f"{street}, {faker.city()} {faker.postcode()}"
    if locale == "it_IT":
        return f"{street}, {faker.postcode()} {_italian_city(faker)} ({faker.state_abbr()})"
    return f"{street}, {faker.postcode()} {faker.city()}"


def _italian_city(faker: Faker) -> str:
    """A city of it_IT, the same for the same seed: Faker's own ``city()`` draws from a
    list built from a set, whose order changes from one interpreter to the next."""
    return str(faker.random_element(_italian_cities()))


@functools.cache
def _italian_cities() -> list[str]:
    from faker.providers.address.it_IT import Provider

    return sorted(Provider.cities)


def _card(faker: Faker, locale: str, variant: int) -> str:
    number = faker.credit_card_number()
    if variant % 2 == 0:
        return number
    groups = (4, 6, 5) if len(number) == 15 else (4,) * ((len(number) + 3) // 4)
    parts, at = [], 0
    for size in groups:
        parts.append(number[at : at + size])
        at += size
    return " ".join(part for part in parts if part)


def _iban(faker: Faker, locale: str, variant: int) -> str:
    iban = faker.iban()
    if variant % 2 == 0:
        return iban
    return " ".join(iban[at : at + 4] for at in range(0, len(iban), 4))  # as printed


def _secret(faker: Faker, locale: str, variant: int) -> str:
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    alnum = upper + upper.lower() + "0123456789"
    draw = faker.random.choices
    if variant % 3 == 0:
        return "AKIA" + "".join(draw(upper + "234567", k=16))  # an AWS access key id
    if variant % 3 == 1:
        return "sk-" + "".join(draw(alnum, k=48))  # OpenAI, the older form
    return "sk-proj-" + "".join(draw(alnum + "_-", k=156))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _jwt(faker: Faker, locale: str, variant: int) -> str:
    """A real HS256 JWT: base64url header and claims, signed with a random key."""
    issued = faker.random.randint(1_600_000_000, 1_800_000_000)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": faker.uuid4(), "iat": issued, "exp": issued + 3600, "scope": "read"}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    key = bytes(faker.random.getrandbits(8) for _ in range(32))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


VALUES: dict[str, _Make] = {
    "PHONE": lambda faker, locale, variant: faker.phone_number(),
    "NAME": lambda faker, locale, variant: f"{faker.first_name()} {faker.last_name()}",
    "ADDRESS": _address,
    "EMAIL": lambda faker, locale, variant: faker.free_email() if variant % 2 else faker.email(),
    "CARD": _card,
    "IBAN": _iban,
    "SSN": lambda faker, locale, variant: faker.ssn(),
    "IP": lambda faker, locale, variant: faker.ipv6() if variant % 2 else faker.ipv4(),
    "SECRET": _secret,
    "JWT": _jwt,
}


def samples(kind: str, count: int = 200, seed: int = 19) -> list[Sample]:
    """``count`` sentences holding a ``kind`` value each, spread evenly over the locales
    (SSN: en_US only); the same for the same seed."""
    from faker import Faker

    if kind not in VALUES:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    locales = SSN_LOCALES if kind == "SSN" else LOCALES
    fakers: dict[str, Faker] = {}
    for locale in locales:
        fakers[locale] = Faker(locale)
        fakers[locale].seed_instance(f"{seed}:{kind}:{locale}")
    choose = random.Random(f"{seed}:{kind}").choice
    made: list[Sample] = []
    for index in range(count):
        locale = locales[index % len(locales)]
        value = VALUES[kind](fakers[locale], locale, index // len(locales)).strip()
        before, after = choose(TEMPLATES[kind][locale[:2]]).split("{}")
        text = before + value + after
        made.append(Sample(text, len(before), len(before) + len(value), kind, value, locale))
    return made
