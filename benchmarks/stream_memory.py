"""Memory per open SSE stream: the BFF's /chat/stream, the bare relay and the LiteLLM proxy.

The simulator (``bff simulate``), the BFF (``bff serve``, no limits), the bare relay
(``benchmarks/bare_relay.py``) and the LiteLLM proxy (from the peers' virtualenv) run as
their own processes on loopback; this process is the client. The simulator is scripted to
send each reply's first chunks and then hold it (a ``hold_after_chunks`` step), so a stream
stays open, past its first token, until the round lets it go. A round starts each relay in
turn (in a rotating order) afresh: memory a Python process has once taken stays with it,
and later streams reuse it, so only a fresh process shows what streams cost. It runs
``WARM_STREAMS`` streams through the relay (what the first requests set up once), reads its
resident memory (VmRSS) with no stream open, opens ``STREAMS`` streams, waits until every
one has had its first token and the relay is idle, and reads it again. It prints each
relay's memory with no stream open and the memory each open stream adds, as ranges over
the rounds, and the BFF's ratio to each.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks._clients import clients
from benchmarks._ranges import figure, span
from benchmarks._servers import (
    PEERS_MISSING,
    Server,
    bare_relay,
    bench_env,
    bff,
    litellm_proxy,
    peers_python,
    quiet,
    rss_kb,
    simulator,
)
from benchmarks._streams import Reader, direct, relayed
from benchmarks.sse_relay import CONTENT

STREAMS = 200
WARM_STREAMS = 10
ROUNDS = 3
TARGET_KB = 64  # the BFF's, per open stream
RELAYS = {"bff": "llm-bff", "bare": "bare", "litellm": "LiteLLM"}


@dataclass(frozen=True)
class Relay:
    read: Reader
    url: str
    pid: int


@dataclass(frozen=True)
class Round:
    base_kb: int  # with no stream open
    per_stream_kb: float


Start = Callable[[ExitStack], Relay]


async def _held_kb(relay: Relay, sim: httpx.AsyncClient, streams: int) -> int:
    """Open ``streams`` streams through ``relay``; its memory once every one has had its
    first token and the relay is idle. Then the streams are let go, and read to their end."""
    # The role frame and two content chunks, then each reply waits at the gate.
    step = {"content": CONTENT, "hold_after_chunks": 3, "repeat": streams}
    (await sim.post("/reset")).raise_for_status()
    (await sim.post("/script", json={"steps": [step]})).raise_for_status()
    first = 0
    everyone = asyncio.Event()

    def on_first() -> None:
        nonlocal first
        first += 1
        if first == streams:
            everyone.set()

    async with AsyncExitStack() as stack:
        pool = await clients(stack, streams)
        tasks = [asyncio.create_task(relay.read(client, relay.url, on_first)) for client in pool]
        waiting = asyncio.create_task(everyone.wait())
        await asyncio.wait([waiting, *tasks], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if not everyone.is_set():  # a stream ended early, or they took too long
            waiting.cancel()
            await asyncio.gather(*tasks)
            raise RuntimeError(f"only {first} of {streams} streams had their first token")
        await quiet(relay.pid)
        held_kb = rss_kb(relay.pid)
        (await sim.post("/release", json={})).raise_for_status()
        await asyncio.gather(*tasks)
    return held_kb


async def _measure(relay: Relay, sim: str) -> Round:
    async with httpx.AsyncClient(base_url=sim, timeout=60) as control:
        await _held_kb(relay, control, WARM_STREAMS)  # what the first streams set up once
        await quiet(relay.pid)
        base_kb = rss_kb(relay.pid)
        held_kb = await _held_kb(relay, control, STREAMS)
    return Round(base_kb, (held_kb - base_kb) / STREAMS)


def _round(start: Start, sim: str) -> Round:
    """One round on a relay started for it (and stopped after it)."""
    with ExitStack() as stack:
        return asyncio.run(_measure(start(stack), sim))


def _relays(env: dict[str, str], config: Path, upstream: str, folder: str) -> dict[str, Start]:
    """How to start each relay: the BFF, the bare relay, and LiteLLM if the peers are
    installed."""
    starts: dict[str, Start] = {
        "bff": lambda stack: _relay(relayed, "/chat/stream", bff(stack, env, config)),
        "bare": lambda stack: _relay(relayed, "/chat/stream", bare_relay(stack, env, upstream)),
    }
    peers = peers_python()
    if peers is not None:
        starts["litellm"] = lambda stack: _relay(
            direct,
            "/v1/chat/completions",
            litellm_proxy(stack, peers, env, upstream, folder),
        )
    return starts


def _relay(read: Reader, route: str, server: Server) -> Relay:
    return Relay(read, server.url + route, server.pid)


def _print(rounds: dict[str, list[Round]], litellm: str) -> None:
    print(
        f"\nstream_memory: resident memory (VmRSS) of each relay with no stream open, and what "
        f"each of {STREAMS} open streams adds once past its first token; ranges min..max "
        f"over {ROUNDS} interleaved rounds, each on fresh processes; 'bare' is "
        f"benchmarks/bare_relay.py, 'LiteLLM' {litellm}; ratio = llm-bff's KB per stream "
        "over the relay's, round by round (below 1: llm-bff takes less)"
    )
    print(f"{'':>8} {'base MB':>11} {'KB/stream':>11} {'median':>7} {'ratio':>11}")
    own = [r.per_stream_kb for r in rounds["bff"]]
    for name, label in RELAYS.items():
        if name not in rounds:
            print(f"{label:>8} {'n/a':>11} {'n/a':>11} {'n/a':>7} {'n/a':>11}")
            continue
        per_stream = [r.per_stream_kb for r in rounds[name]]
        pairs = zip(own, per_stream, strict=True)
        ratio = "" if name == "bff" else span(o / p if p else math.inf for o, p in pairs)
        print(
            f"{label:>8} {span(r.base_kb / 1024 for r in rounds[name]):>11} "
            f"{span(per_stream):>11} {figure(statistics.median(per_stream)):>7} {ratio:>11}"
        )
    median = statistics.median(own)
    verdict = "met" if median < TARGET_KB else "missed"
    print(f"target: llm-bff under {TARGET_KB} KB per open stream: {verdict} ({figure(median)} KB)")


def main() -> None:
    env = bench_env()
    with tempfile.TemporaryDirectory() as folder, ExitStack() as servers:
        sim, config = simulator(servers, env, folder)
        starts = _relays(env, config, f"{sim.url}/v1", folder)
        rounds: dict[str, list[Round]] = {name: [] for name in starts}
        order = list(starts)
        for _ in range(ROUNDS):
            for name in order:
                rounds[name].append(_round(starts[name], f"{sim.url}/_sim"))
            order.append(order.pop(0))
    litellm = "the LiteLLM proxy (one worker)" if "litellm" in rounds else PEERS_MISSING
    _print(rounds, litellm)


if __name__ == "__main__":
    main()
