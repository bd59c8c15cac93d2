"""What the sanitize tests share: strategies for PII values, the corpus, and checks of
what reached the simulator."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any

import httpx
from hypothesis import strategies as st

from bff.testing.script import RequestRecord
from tests.api.helpers import sse_events

LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LOWER + LOWER.upper() + "0123456789"


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


@st.composite
def card(draw: st.DrawFn) -> str:
    body = "4" + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=14, max_size=14)))
    number = body + _luhn_digit(body)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


@st.composite
def iban(draw: st.DrawFn) -> str:
    bban = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=18, max_size=18)))
    numeric = "".join(str(int(c, 36)) for c in bban + "DE00")
    check = 98 - int(numeric) % 97
    return f"DE{check:02d}{bban}"


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


PII: dict[str, st.SearchStrategy[str]] = {
    "EMAIL": st.builds(
        lambda a, b: f"{a}.x@{b}.example.com",
        st.text(LOWER, min_size=1),
        st.text(LOWER, min_size=1),
    ),
    "PHONE": st.one_of(
        st.builds(lambda d: f"+44 20 7946 {d}", _digits(4)),
        st.builds(lambda a, b: f"(212) {a}-{b}", _digits(3), _digits(4)),
        st.builds(lambda a, b: f"415-{a}-{b}", _digits(3), _digits(4)),
    ),
    "CARD": card(),
    "IBAN": iban(),
    "SSN": st.builds(
        lambda a, b, c: f"{a}-{b}-{c}",
        st.integers(100, 665).map(str),
        st.integers(10, 99).map(str),
        st.integers(1000, 9999).map(str),
    ),
    "IP": st.one_of(
        st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", *[st.integers(1, 254)] * 4),
        st.integers(2**64, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    ),
    "SECRET": st.one_of(
        st.text(ALNUM, min_size=32, max_size=40).map(lambda t: "sk-proj-" + t),
        st.text(ALNUM, min_size=36, max_size=36).map(lambda t: "ghp_" + t),
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16).map(
            lambda t: "AKIA" + t
        ),
    ),
    "JWT": st.builds(
        lambda a, b, c: f"eyJ{a}.eyJ{b}.{c}",
        st.text(ALNUM, min_size=8, max_size=20),
        st.text(ALNUM, min_size=8, max_size=20),
        st.text(ALNUM, min_size=16, max_size=30),
    ),
}
WORDS = st.lists(st.text(LOWER, min_size=1, max_size=8), min_size=0, max_size=6).map(" ".join)


@st.composite
def texts_with_pii(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    kinds = draw(st.lists(st.sampled_from(sorted(PII)), min_size=1, max_size=8))
    values = {f"{kind}:{i}": draw(PII[kind]) for i, kind in enumerate(kinds)}
    parts = [draw(WORDS)]
    for value in values.values():
        parts += [value, draw(WORDS)]
    return ", ".join(parts) + ".", values


def assert_nothing_sent(requests: list[RequestRecord], values: Iterable[str]) -> None:
    """No value of ``values`` is in the bodies the simulator received, plain or
    JSON-escaped."""
    sent = json.dumps([r.body for r in requests])
    assert requests
    for value in values:
        assert value not in sent
        assert json.dumps(value)[1:-1] not in sent


def chat(url: str, text: str) -> dict[str, Any]:
    """The ``done`` event of a one-message chat over SSE."""
    body = {"messages": [{"role": "user", "content": text}]}
    response = httpx.post(f"{url}/chat/stream", json=body, timeout=30)
    assert response.status_code == 200, response.text
    done = [data for event, _, data in sse_events(response.text) if event == "done"]
    assert len(done) == 1, response.text
    return done[0]


WORD = re.compile(r"\w{4,}")
"""A word of 4+ letters or digits: a part of a value that would still identify someone."""


def words(text: str) -> set[str]:
    return set(WORD.findall(text))
