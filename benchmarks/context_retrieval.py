"""Retrieval over the embedded context index (``bff.context``): build and update times and
search latency, on the bundled demo handbook and on a generated corpus of 10,000 pages.

"no-op" is an update that finds nothing changed; "1 edit" one after a page was edited
(its chunks rewritten and the term counts recounted). The generated pages are drawn from
a seeded vocabulary with Zipf-like word frequencies (a few words are everywhere, most are
rare, as in real text), each page a title and a few sections of paragraphs, so that the
chunker sees headings and paragraph breaks. Queries are drawn the same way, 2 to 6 words
with two question words mixed in. ``search`` is the index's own query (8 candidates:
what ``FtsRetriever`` asks for at top_k 4); ``retrieve`` is ``FtsRetriever.retrieve`` in
an event loop, the worker-thread hop and the budget included. Latencies are p50 and p99
over the queries of a round, as ranges over the rounds. Target: retrieval under 5 ms p99
on the 10,000-page corpus.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks._ranges import figure, span
from bff.context import DEMO_CORPUS, ContextBudget, FtsIndex, FtsRetriever

PAGES = 10_000
QUERIES = 1_000
ROUNDS = 3
SEED = 18
TARGET_MS = 5.0
BUDGET = ContextBudget(top_k=4, max_tokens=1500)
QUESTION_WORDS = "how what when why which can does is the a of for to in my our".split()


def _vocabulary(rng: random.Random, size: int = 6_000) -> list[str]:
    syllables = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + ["ar", "en", "ol"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choices(syllables, k=rng.randint(1, 4))))
    return sorted(words)


class _Words:
    """Words drawn with weight 1/rank (Zipf), from a shuffled vocabulary."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = _vocabulary(rng)
        rng.shuffle(self.words)
        self.cumulative = list(itertools.accumulate(1 / rank for rank in range(1, 6_001)))

    def draw(self, count: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=count)


def _page(words: _Words) -> str:
    rng = words.rng
    parts = [f"# {' '.join(words.draw(3)).capitalize()}"]
    for _ in range(rng.randint(2, 4)):
        parts.append(f"## {' '.join(words.draw(rng.randint(1, 4))).capitalize()}")
        for _ in range(rng.randint(1, 2)):
            sentences = (
                " ".join(words.draw(rng.randint(6, 14))).capitalize() + "."
                for _ in range(rng.randint(2, 5))
            )
            parts.append(" ".join(sentences))
    return "\n\n".join(parts) + "\n"


def generate_corpus(folder: Path, pages: int = PAGES, seed: int = SEED) -> None:
    """``pages`` Markdown files, 100 per sub-folder, the same for the same seed."""
    words = _Words(random.Random(seed))
    for number in range(pages):
        path = folder / f"section-{number // 100:03d}" / f"page-{number:05d}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(_page(words), encoding="utf-8")


def _queries(seed: int) -> list[str]:
    words = _Words(random.Random(seed))  # the corpus's vocabulary and frequencies
    rng = random.Random(seed + 1)
    return [
        " ".join([*rng.sample(QUESTION_WORDS, 2), *words.draw(rng.randint(2, 6))]) + "?"
        for _ in range(QUERIES)
    ]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1e3, cuts[98] * 1e3


def _timed(call: Callable[[str], object], queries: list[str]) -> tuple[float, float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        call(query)
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


async def _retrieve_round(retriever: FtsRetriever, queries: list[str]) -> tuple[float, float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        await retriever.retrieve(query, BUDGET)
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


def _measure(label: str, corpus: Path, index_file: Path, queries: list[str]) -> str:
    pages = sum(1 for _ in corpus.rglob("*.md"))
    megabytes = sum(p.stat().st_size for p in corpus.rglob("*.md")) / 1e6
    with FtsIndex(index_file) as index:
        started = time.perf_counter()
        report = index.update(corpus)
        build = time.perf_counter() - started
        started = time.perf_counter()
        again = index.update(corpus)
        update = time.perf_counter() - started
        assert again.read == 0 and again.unchanged == pages, again
        edited = min(corpus.rglob("*.md"))
        edited.write_text(edited.read_text(encoding="utf-8") + "\nOne more line.\n")
        started = time.perf_counter()
        assert index.update(corpus).changed == 1
        edit = time.perf_counter() - started
        search = [
            _timed(lambda q: index.search(q, BUDGET.top_k * 2), queries) for _ in range(ROUNDS)
        ]
        retriever = FtsRetriever(index)
        retrieve = [asyncio.run(_retrieve_round(retriever, queries)) for _ in range(ROUNDS)]
    return (
        f"{label:>18} {pages:>6} {report.chunks:>7} {megabytes:>6.2f} {figure(build):>8} "
        f"{figure(update * 1e3):>10} {figure(edit * 1e3):>10} {span(p for p, _ in search):>11} "
        f"{span(p for _, p in search):>11} {span(p for p, _ in retrieve):>11} "
        f"{span(p for _, p in retrieve):>11}"
    )


def _demo_queries() -> list[str]:
    """Questions a reader of the handbook asks, repeated to the round's length."""
    asked = [
        "How long do I have to ask for a refund on an annual plan?",
        "What is the API rate limit on the Business plan?",
        "Which identity providers work with SAML single sign-on?",
        "How long are deleted pages kept in the trash?",
        "How quickly is the status page updated during a SEV1 incident?",
        "How do I verify a webhook signature?",
        "Can I pay by bank transfer?",
        "What happens when a payment fails?",
        "Where is our data stored for an EU workspace?",
        "How many guests can a Team workspace have?",
    ]
    return list(itertools.islice(itertools.cycle(asked), QUERIES))


def main() -> None:
    print(
        "\ncontext_retrieval (`.venv/bin/python -m benchmarks context_retrieval`): "
        f"SQLite {sqlite3.sqlite_version} FTS5 (BM25), {QUERIES} queries per round, "
        f"{ROUNDS} rounds (ranges min..max), top_k {BUDGET.top_k}, "
        f"{BUDGET.max_tokens} tokens"
    )
    print(
        f"{'corpus':>18} {'pages':>6} {'chunks':>7} {'MB':>6} {'build s':>8} {'no-op ms':>10} "
        f"{'1 edit ms':>10} {'search p50':>11} {'search p99':>11} {'retr. p50':>11} "
        f"{'retr. p99':>11}   (latencies in ms)"
    )
    queries = _queries(SEED)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        demo = shutil.copytree(DEMO_CORPUS, work / "demo")  # a copy: one page gets edited
        print(_measure("demo handbook", demo, work / "demo.sqlite3", _demo_queries()))
        generated = work / "generated"
        generated.mkdir()
        started = time.perf_counter()
        generate_corpus(generated)
        made = time.perf_counter() - started
        print(_measure(f"generated {PAGES:,}", generated, work / "big.sqlite3", queries))
    print(f"(generating the {PAGES:,} pages took {made:.1f} s; target: retrieval under "
          f"{TARGET_MS:g} ms p99 on them)")  # fmt: skip


if __name__ == "__main__":
    main()
