"""SSE chat relay overhead: the BFF's /chat/stream versus reading the simulator directly.

The simulator (``bff simulate``) and the BFF (``bff serve``, routed to it)
run as their own processes on loopback; this process is the client. Every
reply is 100 chunks. For 1, 20 and 100 concurrent streams it reports the
median time to first token and to the end of the stream, for the direct path
and through the BFF, and what the BFF adds, at two paces: a chunk every 10 ms
(100 tokens a second, a fast model) and a chunk every millisecond (a stress
pace that keeps both cores of the reference machine busy).
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bff.demo.model import chunk_text
from bff.testing.server import free_port

CONCURRENCY = (1, 20, 100)
ROUNDS = 5
SAMPLES = 30  # at least this many streams per figure
PACES_S = (0.01, 0.001)
CONTENT = ("lorem ipsum dolor sit amet " * 20)[:398]  # 100 chunks of 2 to 6 characters
MESSAGES = [{"role": "user", "content": "Say something."}]


@contextmanager
def _process(argv: list[str], ready: str, env: dict[str, str]) -> Iterator[None]:
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
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


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
    async with client.stream("POST", url, json={"messages": MESSAGES}) as r:
        async for line in r.aiter_lines():
            if not first and line == "event: token":
                first = time.perf_counter() - started
            elif line == "event: done":
                break
    return first, time.perf_counter() - started


async def _measure(kind: str, url: str, concurrency: int) -> tuple[float, float]:
    run = _direct if kind == "direct" else _relayed
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await run(client, url)  # warm the connection pool and both servers
        ttft: list[float] = []
        total: list[float] = []
        for _ in range(max(ROUNDS, SAMPLES // concurrency)):
            results = await asyncio.gather(*(run(client, url) for _ in range(concurrency)))
            ttft += [r[0] for r in results]
            total += [r[1] for r in results]
    return statistics.median(ttft), statistics.median(total)


def main() -> None:
    assert len(chunk_text(CONTENT)) == 100
    sim_port, bff_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "OPENAI_"))}
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "bench.toml"
        config.write_text(
            'model = "sim/gpt-4o-mini"\n[endpoints.sim]\n'
            f'base_url = "http://127.0.0.1:{sim_port}/v1"\n'
        )
        sim_argv = [sys.executable, "-m", "bff.cli", "simulate", "--port", str(sim_port)]
        bff_argv = [sys.executable, "-m", "bff.cli", "serve", "--port", str(bff_port)]
        bff_argv += ["--config", str(config)]
        bff_env = {**env, "BFF_LOG_LEVEL": "warning"}
        with (
            _process(sim_argv, f"http://127.0.0.1:{sim_port}/v1/models", env),
            _process(
                bff_argv,
                f"http://127.0.0.1:{bff_port}/healthz",
                bff_env,
            ),
        ):
            direct_url = f"http://127.0.0.1:{sim_port}/v1/chat/completions"
            relay_url = f"http://127.0.0.1:{bff_port}/chat/stream"
            print(
                f"\nsse_relay: 100-chunk replies; median per stream, at least {SAMPLES} "
                f"streams and {ROUNDS} rounds per figure (ms)"
            )
            print(
                f"{'pace':>6} {'streams':>8} {'TTFT direct':>12} {'TTFT BFF':>9} {'added':>7} "
                f"{'total direct':>13} {'total BFF':>10} {'added':>8}"
            )
            for pace in PACES_S:
                step = {"content": CONTENT, "chunk_delay_s": pace, "repeat": 100_000}
                sim_url = f"http://127.0.0.1:{sim_port}/_sim"
                httpx.post(f"{sim_url}/reset").raise_for_status()
                httpx.post(f"{sim_url}/script", json={"steps": [step]}).raise_for_status()
                for concurrency in CONCURRENCY:
                    d_first, d_total = asyncio.run(_measure("direct", direct_url, concurrency))
                    b_first, b_total = asyncio.run(_measure("bff", relay_url, concurrency))
                    print(
                        f"{pace * 1e3:>4.0f}ms {concurrency:>8} {d_first * 1e3:>12.2f} "
                        f"{b_first * 1e3:>9.2f} {(b_first - d_first) * 1e3:>7.2f} "
                        f"{d_total * 1e3:>13.1f} {b_total * 1e3:>10.1f} "
                        f"{(b_total / d_total - 1) * 100:>7.1f}%"
                    )


if __name__ == "__main__":
    main()
