"""SIGTERM while 20 SSE streams are open: each ends with a terminal event, nothing hangs."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from bff.testing.server import SimulatorServer, free_port
from tests.api.helpers import operation
from tests.processes import BFF, clean_env, running

STREAMS = 20


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("chunk_delay", "ending"), [(0.05, "error"), (0.005, "done")])
def test_sigterm_during_open_streams(
    sim: SimulatorServer, tmp_path: Path, chunk_delay: float, ending: str
) -> None:
    """Slow streams (5 s) cannot finish in the drain window and end with CANCELLED;
    fast ones (0.5 s) finish normally."""
    sim.simulator.add({"chunk_delay_s": chunk_delay, "repeat": STREAMS})
    config = tmp_path / "bff.toml"
    config.write_text(
        'model = "sim/gpt-4o"\nshutdown_timeout_s = 3\nmax_concurrent_runs = 50\n'
        f'[endpoints.sim]\nbase_url = "{sim.base_url}"\n'
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    endings: list[str | None] = [None] * STREAMS
    started = threading.Barrier(STREAMS + 1, timeout=30)

    def stream(i: int) -> None:
        body = {"messages": [{"role": "user", "content": f"Question number {i} about tides"}]}
        last = None
        first = True
        with httpx.stream("POST", f"{url}/chat/stream", json=body, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("event: "):
                    last = line[7:]
                    if first:
                        first = False
                        started.wait()
                elif line.startswith("data: ") and last == "error":
                    assert json.loads(line[6:])["code"] == "CANCELLED"
        endings[i] = last

    argv = [*BFF, "serve", "--port", str(port), "--config", str(config)]
    with running(argv, ready_url=f"{url}/healthz", env=clean_env()) as process:
        threads = [threading.Thread(target=stream, args=(i,)) for i in range(STREAMS)]
        for thread in threads:
            thread.start()
        started.wait()
        process.send_signal(signal.SIGTERM)
        # Nothing hangs: the streams end (cut at the 1.5 s drain window, or done) and the
        # server exits. The waits bound a hang, far past the few seconds this takes.
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads)
        process.wait(timeout=30)
    assert endings == [ending] * STREAMS


@pytest.mark.timeout(60)
def test_sigterm_during_a_slow_mutation_answers_503(sim: SimulatorServer, tmp_path: Path) -> None:
    """A mutation whose upstream will not finish (it is held mid-answer until the test
    ends) gets the drain window, then a 503, and its upstream is closed."""
    sim.simulator.add({"hold_after_chunks": 6})
    config = tmp_path / "bff.toml"
    config.write_text(
        'model = "sim/gpt-4o"\nshutdown_timeout_s = 3\n'
        f'[endpoints.sim]\nbase_url = "{sim.base_url}"\n'
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    query = operation("ExtractActionPlan")
    answer: list[httpx.Response] = []

    def mutate() -> None:
        body = {"query": query, "variables": {"text": "Call Bob today."}}
        answer.append(httpx.post(f"{url}/graphql", json=body, timeout=30))

    argv = [*BFF, "serve", "--port", str(port), "--config", str(config)]
    with running(argv, ready_url=f"{url}/healthz", env=clean_env()) as process:
        thread = threading.Thread(target=mutate)
        thread.start()
        sim.simulator.wait_until_held()  # the run is mid-answer
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        thread.join(timeout=30)  # a hang guard: the answer comes after the 1.5 s window
        process.wait(timeout=30)
        waited = time.monotonic() - signalled
    (response,) = answer
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"errors": [{"message": "the server is shutting down; try again"}]}
    # Not cut at once: the run had its drain window (1.5 s). A lower bound on elapsed time
    # holds however busy the machine is; what ended the run is the 503 above, as the
    # upstream was never going to finish.
    assert waited > 1.0
    (record,) = sim.simulator.wait_until_settled()
    assert record.hung_up
