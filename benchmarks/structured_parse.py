"""Incremental parse + streaming checks + validation, against the floor and re-parsing.

Documents of about 2 KB, 20 KB and 200 KB of action-plan JSON, cut into
4-character chunks like real tokens:

(a)  the incremental path: ``JsonStreamParser`` fed the chunks as a network
     read delivers them when the stream is backlogged (a 64 KB read carries
     about 256 SSE frames of ~250 bytes, so 256 chunks per feed), with the
     streaming checks, per-item and final validation;
(a1) the same, one chunk per feed: a live stream whose tokens arrive one by one;
(b)  the floor: one ``json.loads`` + ``model_validate`` of the finished text;
(c)  re-parsing the accumulated buffer on every chunk with jiter's partial
     mode, then validating against a partial model (what Instructor does);
(d)  the same with partial-json-parser.

Re-parsing is quadratic: (c) and (d) run while they take under a minute,
the rest of the table says "skipped". "last token" is the time from feeding
the final chunk to holding the validated object. "SDK decode" is the CPU the
openai SDK spends turning the same chunks, as SSE frames, into chunk objects:
work the provider does not do, shown for scale.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import jiter
import partial_json_parser
from pydantic import BaseModel, ConfigDict, Field

from benchmarks.provider_decode import frames, sdk_decode
from bff.demo.action_plan import UserAction
from bff.streaming.parser import JsonStreamParser
from bff.streaming.schema import compile_model

TARGETS = (2_000, 20_000, 200_000)
CHUNK = 4
READ = 256
BUDGET_S = 60


class Plan(BaseModel):
    """An action plan without the 20-item cap, so documents can grow."""

    model_config = ConfigDict(extra="forbid")
    actions: list[UserAction]


class PartialAction(BaseModel):
    action_type: str | None = None
    priority: int | None = None
    summary: str | None = None


class PartialPlan(BaseModel):
    actions: list[PartialAction] = Field(default_factory=list)


def document(target: int) -> str:
    actions = []
    text = ""
    while len(text) < target:
        i = len(actions)
        actions.append(
            {
                "action_type": ("call", "email", "review", "schedule")[i % 4],
                "priority": i % 5 + 1,
                "summary": f"Follow up with customer {i} about the renewal of the support contract",
            }
        )
        text = json.dumps({"actions": actions})
    return text


def _timed(run: Callable[[], object], budget: float = 2.0) -> float:
    """Best time of many runs within about ``budget`` seconds (the least disturbed one)."""
    best = float("inf")
    spent = 0.0
    runs = 0
    while runs < 5 or (spent < budget and runs < 2000):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        best = min(best, elapsed)
        spent += elapsed
        runs += 1
    return best


def incremental(chunks: list[str], per_feed: int) -> BaseModel:
    parser = JsonStreamParser(ROOT)
    for start in range(0, len(chunks), per_feed):
        parser.feed("".join(chunks[start : start + per_feed]))
    return parser.close()


def last_token(chunks: list[str]) -> float:
    best = float("inf")
    for _ in range(20):
        parser = JsonStreamParser(ROOT)
        parser.feed("".join(chunks[:-1]))
        started = time.perf_counter()
        parser.feed(chunks[-1])
        parser.close()
        best = min(best, time.perf_counter() - started)
    return best


def floor(text: str) -> BaseModel:
    return Plan.model_validate(json.loads(text))


def reparse_jiter(chunks: list[str]) -> None:
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        PartialPlan.model_validate(
            jiter.from_json(buffer.encode(), partial_mode="trailing-strings")
        )


def reparse_pjp(chunks: list[str]) -> None:
    buffer = ""
    for chunk in chunks:
        buffer += chunk
        PartialPlan.model_validate(partial_json_parser.loads(buffer))


ROOT = compile_model(Plan)


def main() -> None:
    print("\nstructured_parse: one document, cut into 4-character chunks (ms; ratio to the floor)")
    header = (
        f"{'size':>8} {'chunks':>7} {'(b) floor':>10} {'(a) incr.':>15} {'(a1) 1/feed':>15} "
        f"{'(c) jiter':>18} {'(d) pjp':>18} {'a per KB':>9} {'last token':>11} {'SDK decode':>11}"
    )
    print(header)
    previous: dict[str, float] = {}
    asyncio.run(sdk_decode(frames(["warm-up"]), rounds=3))
    # A second of the smallest case first, so the first figure is not a cold start.
    warm = document(TARGETS[0])
    warm_chunks = [warm[i : i + CHUNK] for i in range(0, len(warm), CHUNK)]
    _timed(lambda: (floor(warm), incremental(warm_chunks, READ)), budget=1.0)
    for target in TARGETS:
        text = document(target)
        chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
        assert incremental(chunks, READ) == floor(text)
        b = _timed(lambda text=text: floor(text))
        a = _timed(lambda chunks=chunks: incremental(chunks, READ))
        a1 = _timed(lambda chunks=chunks: incremental(chunks, 1))
        cells = []
        for name, run in (("c", reparse_jiter), ("d", reparse_pjp)):
            # Quadratic: a tenfold larger document costs about a hundredfold.
            if previous.get(name, 0.0) * 100 > BUDGET_S:
                cells.append(f"{'skipped':>18}")
                continue
            started = time.perf_counter()
            run(chunks)
            cost = previous[name] = time.perf_counter() - started
            cells.append(f"{cost * 1e3:>9.1f} {cost / b:>7.0f}x")
        per_kb = a / (len(text) / 1024) * 1e6
        print(
            f"{len(text):>8} {len(chunks):>7} {b * 1e3:>10.3f} "
            f"{a * 1e3:>8.3f} {a / b:>5.2f}x {a1 * 1e3:>8.3f} {a1 / b:>5.2f}x "
            f"{cells[0]} {cells[1]} {per_kb:>7.1f}us {last_token(chunks) * 1e3:>9.3f}ms "
            f"{asyncio.run(sdk_decode(frames(chunks), rounds=1)) * 1e3:>9.1f}ms"
        )


if __name__ == "__main__":
    main()
