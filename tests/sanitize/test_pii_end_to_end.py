"""The generated corpus through the BFF over loopback, by chat (SSE) and by task
(GraphQL): no value, nor a word of one, reaches the simulator; each run counts its
redactions by kind, and so does /metrics."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from bff.testing.pii_corpus import Sample, samples
from bff.testing.script import RequestRecord
from bff.testing.server import SimulatorServer
from tests.api.helpers import mutate
from tests.conftest import BffFactory
from tests.observe.helpers import Scrape, eventually
from tests.sanitize.helpers import assert_nothing_sent, chat, words

KINDS = ("PHONE", "NAME", "ADDRESS", "EMAIL", "CARD", "IBAN", "SSN", "IP", "SECRET", "JWT")
PER_KIND = 20
PER_REQUEST = 40  # four values of each kind


def _batches(seed: int) -> list[list[Sample]]:
    """Every kind's samples, interleaved, in requests of PER_REQUEST sentences."""
    corpus = {kind: samples(kind, PER_KIND, seed=seed) for kind in KINDS}
    mixed = [corpus[kind][i] for i in range(PER_KIND) for kind in KINDS]
    return [mixed[i : i + PER_REQUEST] for i in range(0, len(mixed), PER_REQUEST)]


def _template(sample: Sample) -> str:
    return sample.text[: sample.start] + " " + sample.text[sample.end :]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from (key, *_strings(item))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _text(requests: list[RequestRecord]) -> str:
    """Every string of the request bodies, decoded, one a line."""
    return "\n".join(s for r in requests for s in _strings(r.body))


def _leaks(requests: list[RequestRecord], sent: list[Sample], allowed: set[str]) -> list[str]:
    """Each value, or word of a value, that is in the bodies: words that are also in
    a template of the corpus or in a request without PII (the system prompt) aside."""
    bodies = _text(requests)
    allowed = allowed | {w for s in sent for w in words(_template(s))}
    leaks = []
    for sample in sent:
        parts = [sample.value, *sorted(words(sample.value) - allowed)]
        leaks += [
            f"{sample.kind} {part!r} of {sample.value!r} ({sample.locale})"
            for part in parts
            if re.search(rf"(?<!\w){re.escape(part)}(?!\w)", bodies)
        ]
    return leaks


Run = Callable[[str, str], dict[str, int]]


def _by_chat(url: str, text: str) -> dict[str, int]:
    redactions: dict[str, int] = chat(url, text)["redactions"]
    return redactions


def _by_task(url: str, text: str) -> dict[str, int]:
    result = mutate(url, "ExtractActionPlan", text=text)["extractActionPlan"]
    assert result["__typename"] == "ActionPlanResult", result
    return {row["kind"]: row["count"] for row in result["meta"]["redactions"]}


@pytest.mark.parametrize(("run", "seed"), [(_by_chat, 31), (_by_task, 37)], ids=["chat", "task"])
def test_the_corpus_never_reaches_the_provider(
    bff: BffFactory, sim: SimulatorServer, run: Run, seed: int
) -> None:
    url = bff().url
    assert run(url, "Hello there, please plan the week.") == {}
    allowed = words(_text(sim.simulator.requests))
    totals: Counter[str] = Counter()
    sent: list[Sample] = []
    for batch in _batches(seed):
        redactions = run(url, "\n".join(sample.text for sample in batch))
        missing = {s.kind for s in batch} - set(redactions)
        assert not missing, f"no {sorted(missing)} counted in {redactions}"
        totals.update(redactions)
        sent += batch
    assert len(sent) == PER_KIND * len(KINDS)
    assert _leaks(sim.simulator.requests, sent, allowed) == []
    assert_nothing_sent(sim.simulator.requests, [s.value for s in sent])

    def counted() -> dict[str, float]:
        scrape = Scrape(url)
        return {kind: scrape.value("bff_redactions_total", kind=kind) for kind in totals}

    eventually(lambda: counted() == totals)
    assert Scrape.value_of(url, "bff_redactions_total") == sum(totals.values())
