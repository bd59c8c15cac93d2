"""SSE chat relay overhead: the BFF's /chat/stream, a bare relay and the LiteLLM proxy versus
reading the simulator directly, and the CPU each relay spends per stream.

The simulator (``bff simulate``), the BFF (``bff serve``, routed to it), a bare relay on the
same libraries (``benchmarks/bare_relay.py``: the floor any relay built on uvicorn,
sse-starlette and the openai SDK starts from) and the LiteLLM proxy (its
``/v1/chat/completions``, from the peers' virtualenv) run as their own processes on
loopback; this process is the client. Every reply is 100 chunks. For 1, 20 and 100
concurrent streams it reports, per round, the median time to first token and to the end of
the stream read directly and what each relay adds to them, and each relay's CPU per stream
(its process's CPU over the round's streams, until it is idle again: work a relay leaves
for after a stream counts, and does not slow the next path's round); ranges are over the
rounds. Two paces: a chunk every 10 ms (100 tokens a second, a fast model) and a chunk
every millisecond (a stress pace that keeps both cores of the reference machine busy).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass

import httpx

from benchmarks._clients import clients
from benchmarks._ranges import span
from benchmarks._servers import (
    PEERS_MISSING,
    bare_relay,
    bench_env,
    bff,
    cpu_s,
    litellm_proxy,
    peers_python,
    quiet,
    simulator,
)
from benchmarks._streams import Reader, direct, relayed
from bff.faults import chunk_text

CONCURRENCY = (1, 20, 100)
MOST = max(CONCURRENCY)
ROUNDS = 5
SAMPLES = 30  # at least this many streams per path and figure, over the rounds
PACES_S = (0.01, 0.001)
CONTENT = ("lorem ipsum dolor sit amet " * 20)[:398]  # 100 chunks of 2 to 6 characters
RELAYS = {"bff": "BFF", "bare": "bare", "litellm": "LiteLLM"}
# LiteLLM's rounds at 100 streams take about 5 s (the others' 1): it runs only this many there.
LITELLM_ROUNDS_AT_MOST = 3


@dataclass(frozen=True)
class StreamPath:
    read: Reader
    url: str
    pid: int  # the server read: its CPU is the path's cost


@dataclass(frozen=True)
class Round:
    ttft_s: float  # the round's median stream's
    total_s: float
    cpu_s: float  # the server's, per stream


async def _round(path: StreamPath, pool: list[httpx.AsyncClient], batches: int) -> Round:
    before = cpu_s(path.pid)
    results: list[tuple[float, float]] = []
    for _ in range(batches):
        results += await asyncio.gather(*(path.read(client, path.url) for client in pool))
    await quiet(path.pid)
    return Round(
        statistics.median(r[0] for r in results),
        statistics.median(r[1] for r in results),
        (cpu_s(path.pid) - before) / len(results),
    )


async def _measure(paths: dict[str, StreamPath], concurrency: int) -> dict[str, list[Round]]:
    """Each path's rounds. The paths take turns round by round (in a rotating order), so a
    slow spell on the machine hits them alike."""
    batches = math.ceil(SAMPLES / ROUNDS / concurrency)
    async with AsyncExitStack() as stack:
        pools = {name: await clients(stack, concurrency) for name in paths}
        for name, path in paths.items():  # warm the connections and the servers
            await asyncio.gather(*(path.read(client, path.url) for client in pools[name]))
            await quiet(path.pid)
        rounds: dict[str, list[Round]] = {name: [] for name in paths}
        order = list(paths)
        for index in range(ROUNDS):
            for name in order:
                if name == "litellm" and concurrency == MOST and index >= LITELLM_ROUNDS_AT_MOST:
                    continue
                rounds[name].append(await _round(paths[name], pools[name], batches))
            order.append(order.pop(0))
    return rounds


def _added(rounds: dict[str, list[Round]], name: str, figure: str) -> str:
    """What relay ``name`` adds to the direct path, round by round: to the time to first
    token (ms), or to the whole stream (%)."""
    if name not in rounds:
        return "n/a"
    pairs = list(zip(rounds[name], rounds["direct"], strict=False))  # LiteLLM's may be fewer
    if figure == "ttft":
        return span((r.ttft_s - d.ttft_s) * 1e3 for r, d in pairs)
    return span((r.total_s / d.total_s - 1) * 100 for r, d in pairs) + "%"


def _print(results: list[tuple[float, int, dict[str, list[Round]]]], litellm: str) -> None:
    print(
        f"\nsse_relay: 100-chunk replies; ranges min..max over {ROUNDS} interleaved rounds of "
        f"at least {math.ceil(SAMPLES / ROUNDS)} streams per path, each round's median stream "
        "(ms); +X is what relay X adds to reading the simulator directly; 'bare' is "
        f"benchmarks/bare_relay.py, 'LiteLLM' {litellm}"
    )
    relays = "".join(f" {'+' + label:>12}" for label in RELAYS.values())
    print(f"{'pace':>6} {'streams':>7} {'TTFT direct':>12}{relays} {'total direct':>12}{relays}")
    for pace, concurrency, rounds in results:
        direct_rounds = rounds["direct"]
        ttft = "".join(f" {_added(rounds, name, 'ttft'):>12}" for name in RELAYS)
        total = "".join(f" {_added(rounds, name, 'total'):>12}" for name in RELAYS)
        print(
            f"{pace * 1e3:>4.0f}ms {concurrency:>7} "
            f"{span(r.ttft_s * 1e3 for r in direct_rounds):>12}{ttft} "
            f"{span(r.total_s * 1e3 for r in direct_rounds):>12}{total}"
        )
    print("relay CPU per 100-chunk stream (ms: its process's CPU over each round's streams)")
    print(f"{'pace':>6} {'streams':>7}{''.join(f' {label:>12}' for label in RELAYS.values())}")
    for pace, concurrency, rounds in results:
        cpu = "".join(
            f" {span(r.cpu_s * 1e3 for r in rounds[name]) if name in rounds else 'n/a':>12}"
            for name in RELAYS
        )
        print(f"{pace * 1e3:>4.0f}ms {concurrency:>7}{cpu}")


def main() -> None:
    assert len(chunk_text(CONTENT)) == 100
    env = bench_env()
    peers = peers_python()
    with tempfile.TemporaryDirectory() as folder, ExitStack() as servers:
        sim, config = simulator(servers, env, folder)
        upstream = f"{sim.url}/v1"
        relay, bare = bff(servers, env, config), bare_relay(servers, env, upstream)
        paths = {
            "direct": StreamPath(direct, f"{upstream}/chat/completions", sim.pid),
            "bff": StreamPath(relayed, f"{relay.url}/chat/stream", relay.pid),
            "bare": StreamPath(relayed, f"{bare.url}/chat/stream", bare.pid),
        }
        litellm = PEERS_MISSING
        if peers is not None:
            proxy = litellm_proxy(servers, peers, env, upstream, folder)
            paths["litellm"] = StreamPath(direct, f"{proxy.url}/v1/chat/completions", proxy.pid)
            litellm = (
                f"the LiteLLM proxy (one worker; {LITELLM_ROUNDS_AT_MOST} rounds at {MOST} "
                "streams, where each of its rounds takes several times the others')"
            )
        results = []
        for pace in PACES_S:
            step = {"content": CONTENT, "chunk_delay_s": pace, "repeat": 100_000}
            httpx.post(f"{sim.url}/_sim/reset").raise_for_status()
            httpx.post(f"{sim.url}/_sim/script", json={"steps": [step]}).raise_for_status()
            for concurrency in CONCURRENCY:
                results.append((pace, concurrency, asyncio.run(_measure(paths, concurrency))))
    _print(results, litellm)


if __name__ == "__main__":
    main()
