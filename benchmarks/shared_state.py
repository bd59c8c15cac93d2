"""What sharing state on Redis costs: the mutation and the chat relay with
``BFF_REDIS_URL`` set versus unset, in the same run.

A simulator (``bff simulate``, answering at once), a real ``redis-server`` and two
``bff serve`` processes on loopback: "local" keeps its state in the process,
"redis" shares it on Redis. Both require an API key, check a request rate, a
concurrency limit and a daily token budget on every request (set high enough that
nothing is refused), so each shared part is on the path: the rate and the run
lease, the budget's reserve and settle, the breakers, the drift window, and for
chat the resumable stream's events. At one client it reports the median latency
of each (what Redis adds per request; target under 1 ms); at 50 in flight, the
throughput (what Redis loses; target under 10%). Rounds alternate between the two
servers so a slow spell on the machine hits both alike.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import uvloop

from benchmarks._servers import bench_env, cpu_s, running, simulator
from bff.api.operations import load_operations
from bff.shared.link import RedisLink
from bff.testing.server import free_port

KEY = "bench-key-0123456789abcdef"
HEADERS = {"authorization": f"Bearer {KEY}"}
OPERATIONS = Path(__file__).resolve().parents[1] / "graphql" / "operations"
TEXT = "Please call Bob today about the outage. Review the Q3 budget next week. Buy milk."
CHAT = {"messages": [{"role": "user", "content": "Say something."}]}
CONTENT = ("lorem ipsum dolor sit amet " * 8)[:160]  # about 40 chunks
ROUNDS = 5
SEQUENTIAL = 60  # requests per latency round, one at a time
BURST_S = 2.0  # seconds per throughput round
IN_FLIGHT = 50

Request = Callable[[httpx.AsyncClient, str], Awaitable[None]]


@contextmanager
def _redis() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", folder]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            raise RuntimeError("redis-server did not start")
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.kill()
            process.wait(timeout=10)


DOCUMENT = load_operations(OPERATIONS)["ExtractActionPlan"].document


async def _mutation(client: httpx.AsyncClient, base: str) -> None:
    body = {"query": DOCUMENT, "variables": {"text": TEXT}}
    answer = await client.post(f"{base}/graphql", json=body, headers=HEADERS)
    payload = answer.json()["data"]["extractActionPlan"]
    if payload["__typename"] != "ActionPlanResult":
        raise RuntimeError(f"a mutation failed: {payload}")


async def _chat(client: httpx.AsyncClient, base: str) -> None:
    last = ""
    async with client.stream("POST", f"{base}/chat/stream", json=CHAT, headers=HEADERS) as r:
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                last = line
    if last != "event: done":
        raise RuntimeError(f"a chat did not end with done ({r.status_code}, {last!r})")


async def _latency(request: Request, base: str) -> list[float]:
    async with httpx.AsyncClient(timeout=30) as client:
        await request(client, base)  # warm the connection
        times = []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            await request(client, base)
            times.append(time.perf_counter() - started)
        return times


async def _throughput(request: Request, base: str) -> float:
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(request(client, base) for _ in range(IN_FLIGHT)))  # warm
        done = 0
        started = time.perf_counter()
        deadline = started + BURST_S

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await request(client, base)
                done += 1

        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return done / (time.perf_counter() - started)


def _compare(name: str, request: Request, servers: dict[str, tuple[str, int]]) -> None:
    """Rounds of one-client latency (with the BFF's CPU per request), then throughput."""
    latency: dict[str, list[float]] = {server: [] for server in servers}
    cpu_ms: dict[str, list[float]] = {server: [] for server in servers}
    rates: dict[str, list[float]] = {server: [] for server in servers}
    added: list[float] = []
    lost: list[float] = []
    order = list(servers)
    for _ in range(ROUNDS):
        medians: dict[str, float] = {}
        burst: dict[str, float] = {}
        for server in order:
            base, pid = servers[server]
            before = cpu_s(pid)
            times = asyncio.run(_latency(request, base))
            cpu_ms[server].append((cpu_s(pid) - before) / (SEQUENTIAL + 1) * 1e3)
            medians[server] = statistics.median(times)
            latency[server] += times
            burst[server] = asyncio.run(_throughput(request, base))
            rates[server].append(burst[server])
        added.append((medians["redis"] - medians["local"]) * 1e3)
        lost.append(1 - burst["redis"] / burst["local"])
        order.reverse()
    print(
        f"{name:>9} {statistics.median(latency['local']) * 1e3:>9.2f} "
        f"{statistics.median(latency['redis']) * 1e3:>9.2f} "
        f"{min(added):>6.2f} to {max(added):<5.2f} "
        f"{statistics.median(cpu_ms['local']):>6.2f} {statistics.median(cpu_ms['redis']):>6.2f} "
        f"{statistics.median(rates['local']):>9.0f} {statistics.median(rates['redis']):>9.0f} "
        f"{min(lost) * 100:>6.1f}% to {max(lost) * 100:.1f}%"
    )


async def _round_trip_us(url: str, count: int = 2000) -> float:
    """The floor: one trivial Lua script through the BFF's Redis link, in microseconds."""
    link = RedisLink(url)
    script = "return redis.call('INCR', KEYS[1])"
    try:
        for _ in range(100):
            await link.run(script, [link.key("bench")], [])
        started = time.perf_counter()
        for _ in range(count):
            await link.run(script, [link.key("bench")], [])
        return (time.perf_counter() - started) / count * 1e6
    finally:
        await link.aclose()


def main() -> None:
    env = bench_env()
    env |= {
        "BFF_LOG_LEVEL": "warning",
        "BFF_API_KEYS": KEY,
        "BFF_RATE_LIMIT": "100000000/minute",
        "BFF_MAX_CONCURRENT_RUNS": "100000",
        "BFF_CLIENT_DAILY_TOKENS": "1000000000000",
    }
    servers: dict[str, tuple[str, int]] = {}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        sim, config = simulator(stack, env, folder)
        python = [sys.executable, "-m", "bff.cli"]
        redis_url = stack.enter_context(_redis())
        for name, extra in {"local": {}, "redis": {"BFF_REDIS_URL": redis_url}}.items():
            port = free_port()
            argv = [*python, "serve", "--port", str(port), "--config", str(config)]
            process = stack.enter_context(
                running(argv, f"http://127.0.0.1:{port}/healthz", env | extra)
            )
            servers[name] = (f"http://127.0.0.1:{port}", process.pid)
        print(
            f"\nshared_state: BFF_REDIS_URL unset ('local') versus set ('redis'); {ROUNDS} "
            f"rounds, alternating; latency at 1 client (median ms, {SEQUENTIAL} requests a "
            f"round), throughput at {IN_FLIGHT} in flight (req/s, {BURST_S:g} s a round)"
        )
        print(
            f"{'':>9} {'local ms':>9} {'redis ms':>9} {'added ms/round':>15} "
            f"{'CPU ms/req':>13} {'local/s':>9} {'redis/s':>9} {'lost/round':>16}"
        )
        _compare("mutation", _mutation, servers)
        step = {"content": CONTENT, "repeat": 1_000_000}
        httpx.post(f"{sim.url}/_sim/script", json={"steps": [step]})
        _compare("chat", _chat, servers)
        floor = []
        for _ in range(3):
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                floor.append(runner.run(_round_trip_us(redis_url)))
    print(
        f"floor: one Redis round trip (a Lua script through the BFF's link, on uvloop) "
        f"{min(floor):.0f}-{max(floor):.0f} us; a mutation and a chat each await 6 (rate, "
        "run lease and its release, breakers, budget reserve and settle); a chat also "
        "stores its stream (two scripts its client does not wait for)"
    )
    print("targets: under 1 ms added at 1 client, under 10% throughput lost at 50 in flight")


if __name__ == "__main__":
    main()
