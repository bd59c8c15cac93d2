"""Start real server processes for tests and stop them, whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

BFF = [sys.executable, "-m", "bff.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BFF_", "OPENAI_"))}
    env.update(extra)
    return env


@contextmanager
def running(
    argv: Sequence[str],
    *,
    ready_url: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30,
    log: Path | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """Run ``argv`` in its own process group until ``ready_url`` answers 200; its output
    goes to ``process.stdout``, or to the file ``log``."""
    with ExitStack() as files:
        out = files.enter_context(log.open("w")) if log is not None else subprocess.PIPE
        process = subprocess.Popen(
            argv,
            env=dict(env) if env is not None else clean_env(),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output = log.read_text() if log is not None else process.stdout.read()  # type: ignore[union-attr]
                raise AssertionError(f"{argv} exited early:\n{output}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{ready_url} did not answer within {timeout}s")
            time.sleep(0.02)  # a process start: nothing to wait on but its port
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
