"""The servers the benchmarks measure, each its own process on loopback, and what they use.

``simulator`` (``bff simulate``), ``bff`` (``bff serve`` with no limits), ``bare_relay``
(``benchmarks/bare_relay.py``) and the peers, which run in their own virtualenv
(``make bench`` builds ``.venv-peers``; ``BFF_BENCH_PEERS_PYTHON`` names another python):
``instructor_app`` (``benchmarks/peers/instructor_app.py``) and ``litellm_proxy``. Each runs
for the block of the ``ExitStack`` it is started on. ``cpu_s`` and ``rss_kb`` read a
process's use from /proc; ``quiet`` waits until it is idle.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bff.testing.server import free_port

ROOT = Path(__file__).resolve().parents[1]
PEERS_MISSING = "not installed (make bench installs them)"


@dataclass(frozen=True)
class Server:
    url: str  # its base URL
    pid: int


def bench_env() -> dict[str, str]:
    """This environment without BFF and OpenAI settings: a server gets only what it is given."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "OPENAI_"))}


@contextmanager
def running(argv: list[str], ready: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` for the block, once ``ready`` answers 200."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
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


def _serve(stack: ExitStack, argv: list[str], port: int, ready: str, env: dict[str, str]) -> Server:
    url = f"http://127.0.0.1:{port}"
    return Server(url, stack.enter_context(running(argv, url + ready, env)).pid)


def simulator(stack: ExitStack, env: dict[str, str], folder: str) -> tuple[Server, Path]:
    """Start ``bff simulate`` on a free port for the block; it, and a config file in
    ``folder`` that routes ``sim/gpt-4o-mini`` to it."""
    port = free_port()
    argv = [sys.executable, "-m", "bff.cli", "simulate", "--port", str(port)]
    sim = _serve(stack, argv, port, "/v1/models", env)
    config = Path(folder) / "bench.toml"
    config.write_text(f'model = "sim/gpt-4o-mini"\n[endpoints.sim]\nbase_url = "{sim.url}/v1"\n')
    return sim, config


def bff(stack: ExitStack, env: dict[str, str], config: Path) -> Server:
    """``bff serve`` routed by ``config``, with no request rate or concurrency limit: the
    path is measured, not the limits."""
    port = free_port()
    argv = [sys.executable, "-m", "bff.cli", "serve", "--port", str(port), "--config", str(config)]
    unlimited = {
        "BFF_LOG_LEVEL": "warning",
        "BFF_RATE_LIMIT": "none",
        "BFF_MAX_CONCURRENT_RUNS": "100000",
    }
    return _serve(stack, argv, port, "/healthz", env | unlimited)


def bare_relay(stack: ExitStack, env: dict[str, str], upstream: str) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.bare_relay", "--port", str(port)]
    return _serve(stack, [*argv, "--upstream", upstream], port, "/healthz", env)


def peers_python() -> Path | None:
    """The peers' python, or None when they are not installed."""
    python = Path(
        os.environ.get("BFF_BENCH_PEERS_PYTHON") or ROOT / ".venv-peers" / "bin" / "python"
    )
    return python if python.exists() else None


def instructor_app(stack: ExitStack, python: Path, env: dict[str, str], upstream: str) -> Server:
    port = free_port()
    script = ROOT / "benchmarks" / "peers" / "instructor_app.py"
    argv = [str(python), str(script), "--port", str(port), "--upstream", upstream]
    return _serve(stack, argv, port, "/healthz", env)


def litellm_proxy(
    stack: ExitStack, python: Path, env: dict[str, str], upstream: str, folder: str
) -> Server:
    """The LiteLLM proxy, one uvicorn worker, serving ``gpt-4o-mini`` from ``upstream``.

    Kept offline and quiet: the bundled model cost map rather than the one it fetches from
    GitHub at start (its only call out: this version has no telemetry, ``--telemetry`` is a
    no-op), no database, warnings only. Like the BFF in these benchmarks it takes anonymous
    callers (no master key).
    """
    port = free_port()
    config = Path(folder) / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {upstream}\n"
        "      api_key: bench\n"
        "general_settings:\n"
        "  dangerously_permit_weak_or_unset_master_key: true\n"
    )
    offline = {
        k: v for k, v in env.items() if not k.startswith(("LITELLM_", "DATABASE_", "DIRECT_URL"))
    }
    offline |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "WARNING"}
    argv = [str(python.parent / "litellm"), "--config", str(config), "--port", str(port)]
    # One worker, and idle connections kept as long as the BFF keeps them (75 s, not 5).
    argv += ["--num_workers", "1", "--keepalive_timeout", "75"]
    return _serve(stack, argv, port, "/health/liveliness", offline)


def cpu_s(pid: int) -> float:
    """User and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def quiet(pid: int, timeout_s: float = 10.0) -> None:
    """Wait until a process uses at most a tick of CPU in 0.2 s (for at most ``timeout_s``):
    the work requests leave behind them (logs, callbacks) is done, and counted in its CPU,
    not in the next round's."""
    deadline = time.monotonic() + timeout_s
    used = cpu_s(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        used, before = cpu_s(pid), used
        if used - before <= 1 / os.sysconf("SC_CLK_TCK"):
            return


def rss_kb(pid: int) -> int:
    """A process's resident memory now, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")
