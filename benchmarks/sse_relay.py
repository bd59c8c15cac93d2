"""SSE chat relay overhead: the BFF's /chat/stream versus reading the simulator directly.

The simulator (``bff simulate``), the BFF (``bff serve``, routed to it) and a
bare relay on the same libraries (``benchmarks/bare_relay.py``: the floor any
relay built on uvicorn, sse-starlette and the openai SDK starts from) run as
their own processes on loopback; this process is the client. Every reply is
100 chunks. For 1, 20 and 100 concurrent streams it reports the median time to
first token and to the end of the stream read directly, and what the BFF and
the bare relay add to each, at two paces: a chunk every 10 ms (100 tokens a
second, a fast model) and a chunk every millisecond (a stress pace that keeps
both cores of the reference machine busy).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path

import httpx

from bff.faults import chunk_text
from bff.testing.server import free_port

CONCURRENCY = (1, 20, 100)
ROUNDS = 5
SAMPLES = 30  # at least this many streams per figure
PACES_S = (0.01, 0.001)
CONTENT = ("lorem ipsum dolor sit amet " * 20)[:398]  # 100 chunks of 2 to 6 characters
MESSAGES = [{"role": "user", "content": "Say something."}]

Reader = Callable[[httpx.AsyncClient, str], Awaitable[tuple[float, float]]]


@contextmanager
def _process(argv: list[str], ready: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(ready, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{argv} did not start")
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def simulator(stack: ExitStack, env: dict[str, str], folder: str) -> tuple[int, Path]:
    """Start ``bff simulate`` on a free port for the block; its port, and a config file
    in ``folder`` that routes ``sim/gpt-4o-mini`` to it."""
    sim_port = free_port()
    upstream = f"http://127.0.0.1:{sim_port}/v1"
    config = Path(folder) / "bench.toml"
    config.write_text(f'model = "sim/gpt-4o-mini"\n[endpoints.sim]\nbase_url = "{upstream}"\n')
    argv = [sys.executable, "-m", "bff.cli", "simulate", "--port", str(sim_port)]
    stack.enter_context(_process(argv, f"{upstream}/models", env))
    return sim_port, config


async def _direct(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    started = time.perf_counter()
    first = 0.0
    async with client.stream("POST", url, json=body, headers={"authorization": "Bearer k"}) as r:
        async for line in r.aiter_lines():
            if (
                not first
                and line.startswith("data:")
                and '"content":"' in line
                and '"content":""' not in line
            ):
                first = time.perf_counter() - started
    return first, time.perf_counter() - started


async def _relayed(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    started = time.perf_counter()
    first = 0.0
    last = ""
    # Read to the end, as the direct path does: a response left unread costs its
    # connection, and the next stream would pay for a new one.
    async with client.stream("POST", url, json={"messages": MESSAGES}) as r:
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                last = line
            if not first and line == "event: token":
                first = time.perf_counter() - started
    if last != "event: done":  # a refused or failed stream would read as a fast one
        raise RuntimeError(f"a relayed stream did not end with done ({r.status_code}, {last!r})")
    return first, time.perf_counter() - started


async def _measure(
    paths: dict[str, tuple[Reader, str]], concurrency: int
) -> dict[str, tuple[float, float]]:
    """Median time to first token and to the end, per path. The paths take turns round
    by round (in a rotating order), so a slow spell on the machine hits them alike."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(httpx.AsyncClient(timeout=60, limits=limits))
            for name in paths
        }
        for name, (run, url) in paths.items():
            await run(clients[name], url)  # warm the connection pool and the servers
        ttft: dict[str, list[float]] = {name: [] for name in paths}
        total: dict[str, list[float]] = {name: [] for name in paths}
        order = list(paths)
        for _ in range(max(ROUNDS, SAMPLES // concurrency)):
            for name in order:
                run, url = paths[name]
                results = await asyncio.gather(
                    *(run(clients[name], url) for _ in range(concurrency))
                )
                ttft[name] += [r[0] for r in results]
                total[name] += [r[1] for r in results]
            order.append(order.pop(0))
    return {name: (statistics.median(ttft[name]), statistics.median(total[name])) for name in paths}


def main() -> None:
    assert len(chunk_text(CONTENT)) == 100
    sim_port, bff_port, bare_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "OPENAI_"))}
    upstream = f"http://127.0.0.1:{sim_port}/v1"
    with tempfile.TemporaryDirectory() as folder, ExitStack() as servers:
        config = Path(folder) / "bench.toml"
        # No request rate or concurrency limit: the relay is measured, not the limits.
        config.write_text(
            'model = "sim/gpt-4o-mini"\nrate_limit = "none"\nmax_concurrent_runs = 100000\n'
            f'[endpoints.sim]\nbase_url = "{upstream}"\n'
        )
        python = [sys.executable, "-m"]
        sim_argv = [*python, "bff.cli", "simulate", "--port", str(sim_port)]
        bff_argv = [*python, "bff.cli", "serve", "--port", str(bff_port), "--config", str(config)]
        bare_argv = [*python, "benchmarks.bare_relay", "--port", str(bare_port)]
        bare_argv += ["--upstream", upstream]
        servers.enter_context(_process(sim_argv, f"{upstream}/models", env))
        bff_env = {**env, "BFF_LOG_LEVEL": "warning"}
        servers.enter_context(_process(bff_argv, f"http://127.0.0.1:{bff_port}/healthz", bff_env))
        servers.enter_context(_process(bare_argv, f"http://127.0.0.1:{bare_port}/healthz", env))
        paths: dict[str, tuple[Reader, str]] = {
            "direct": (_direct, f"{upstream}/chat/completions"),
            "bff": (_relayed, f"http://127.0.0.1:{bff_port}/chat/stream"),
            "bare": (_relayed, f"http://127.0.0.1:{bare_port}/chat/stream"),
        }
        print(
            f"\nsse_relay: 100-chunk replies; median per stream, at least {SAMPLES} streams "
            f"and {ROUNDS} rounds per figure (ms); 'bare' is benchmarks/bare_relay.py"
        )
        print(
            f"{'pace':>6} {'streams':>8} {'TTFT direct':>12} {'+BFF':>7} {'+bare':>7} "
            f"{'total direct':>13} {'+BFF':>7} {'+bare':>7}"
        )
        for pace in PACES_S:
            step = {"content": CONTENT, "chunk_delay_s": pace, "repeat": 100_000}
            httpx.post(f"http://127.0.0.1:{sim_port}/_sim/reset").raise_for_status()
            script = f"http://127.0.0.1:{sim_port}/_sim/script"
            httpx.post(script, json={"steps": [step]}).raise_for_status()
            for concurrency in CONCURRENCY:
                medians = asyncio.run(_measure(paths, concurrency))
                (d_first, d_total), bff, bare = medians["direct"], medians["bff"], medians["bare"]
                print(
                    f"{pace * 1e3:>4.0f}ms {concurrency:>8} {d_first * 1e3:>12.2f} "
                    f"{(bff[0] - d_first) * 1e3:>7.2f} {(bare[0] - d_first) * 1e3:>7.2f} "
                    f"{d_total * 1e3:>13.1f} {(bff[1] / d_total - 1) * 100:>6.1f}% "
                    f"{(bare[1] / d_total - 1) * 100:>6.1f}%"
                )


if __name__ == "__main__":
    main()
