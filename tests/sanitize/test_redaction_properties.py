"""Properties of the redactor over text that mixes anything: arbitrary unicode, PII
values of every kind, and placeholders a user typed themselves."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bff.pii import BUILT_IN_KINDS, Redactor, build_scanner
from bff.pii.recognizer import PLACEHOLDER
from bff.testing.pii_corpus import samples
from tests.sanitize.helpers import PII, WORDS

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
SCANNER = build_scanner()

# The kinds without a strategy of their own take generated values from the corpus.
VALUES: dict[str, st.SearchStrategy[str]] = {
    **PII,
    **{
        kind: st.sampled_from(sorted({s.value for s in samples(kind, 36, seed=5)}))
        for kind in ("NAME", "ADDRESS")
    },
}
VALUES["PHONE"] = st.one_of(
    PII["PHONE"], st.sampled_from(sorted({s.value for s in samples("PHONE", 36, seed=5)}))
)
TYPED = st.builds(
    lambda kind, n: f"[{kind}_{n}]",
    st.sampled_from([*BUILT_IN_KINDS, "EMPLOYEE_ID"]),
    st.integers(1, 3),
)
PART = st.one_of(st.text(max_size=12), WORDS, TYPED, *VALUES.values())


@st.composite
def mixed(draw: st.DrawFn) -> str:
    """Arbitrary text, values and typed placeholders, joined in any way."""
    parts = draw(st.lists(PART, max_size=8))
    return "".join(part + draw(st.sampled_from(["", " ", ", ", ". ", "\n"])) for part in parts)


@PROPERTIES
@given(mixed())
def test_restore_undoes_redact(text: str) -> None:
    redactor = Redactor(SCANNER)
    assert redactor.restore(redactor.redact(text)) == text


@PROPERTIES
@given(mixed())
def test_redacting_twice_changes_nothing(text: str) -> None:
    redactor = Redactor(SCANNER)
    once = redactor.redact(text)
    counts = dict(redactor.counts)
    assert redactor.redact(once) == once
    assert redactor.counts == counts
    fresh = Redactor(SCANNER)
    assert fresh.redact(once) == once
    assert not fresh.counts


@PROPERTIES
@given(st.lists(mixed(), min_size=1, max_size=3))
def test_a_typed_placeholder_is_never_handed_out(texts: list[str]) -> None:
    """The texts of one request (a chat's messages), redacted in turn: a placeholder the
    user typed in any of them stays the user's own text."""
    redactor = Redactor(SCANNER)
    redactor.reserve(texts)  # as chat and tasks do with every text of a request
    redacted = [redactor.redact(text) for text in texts]
    typed = {m.group(0) for text in texts for m in PLACEHOLDER.finditer(text)}
    for placeholder in typed:
        assert redactor.restore(placeholder) == placeholder
    assert [redactor.restore(text) for text in redacted] == texts


def test_a_typed_placeholder_keeps_its_meaning() -> None:
    redactor = Redactor(SCANNER)
    text = "Is [EMAIL_1] a template? Mail ann@example.com, not [EMAIL_2]."
    redacted = redactor.redact(text)
    assert redacted == "Is [EMAIL_1] a template? Mail [EMAIL_3], not [EMAIL_2]."
    assert (
        redactor.restore("[EMAIL_1] [EMAIL_2] [EMAIL_3]") == "[EMAIL_1] [EMAIL_2] ann@example.com"
    )
    assert redactor.counts == {"EMAIL": 1}


@st.composite
def switched(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]], str]:
    """(kinds on, (kind, value) pairs, the text holding them)."""
    on = draw(st.lists(st.sampled_from(BUILT_IN_KINDS), unique=True, max_size=len(BUILT_IN_KINDS)))
    kinds = draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=6))
    pairs = [(kind, draw(VALUES[kind])) for kind in kinds]
    parts = [draw(WORDS)]
    for _, value in pairs:
        parts += [value, draw(WORDS)]
    return on, pairs, ", ".join(parts) + "."


@PROPERTIES
@given(switched())
def test_a_kind_switched_off_passes_unchanged(
    sample: tuple[list[str], list[tuple[str, str]], str],
) -> None:
    on, pairs, text = sample
    redactor = Redactor(build_scanner(kinds=on))
    redacted = redactor.redact(text)
    assert set(redactor.counts) <= set(on)
    # A value of a kind switched off may hold one of a kind that is on (``12 Karla Isle``
    # holds a name, a JWT's digits a card number): that part still goes. Any other stays.
    on_only = build_scanner(kinds=on)
    for kind, value in pairs:
        if kind not in on and not on_only.find(value):
            assert value in redacted, (kind, value)
    assert redactor.restore(redacted) == text
