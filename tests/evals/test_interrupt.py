"""Ctrl-C during `bff eval`: the finished cases are written, marked interrupted, exit 130."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from bff.testing.server import SimulatorServer
from tests.evals.eval_helpers import ROUTE, answer, loaded, plan, sim_config, write_dataset
from tests.processes import BFF, clean_env


def _default_sigint() -> None:
    # A child started from a shell's background job inherits SIGINT ignored; Ctrl-C is
    # what this test sends, so the child gets Python's usual handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_the_finished_cases(tmp_path: Path, sim: SimulatorServer) -> None:
    cases = [
        {"id": f"c{n}", "input": {"text": f"Call Bob about item {n}."},
         "expected": plan(("call", 1, f"Call Bob about item {n}"))}
        for n in range(1, 7)
    ]  # fmt: skip
    dataset = write_dataset(tmp_path / "plans.jsonl", cases)
    config = sim_config(tmp_path, sim)
    sim.simulator.add(
        answer(plan(("call", 1, "Call Bob about item 1"))),
        answer(plan(("call", 1, "Call Bob about item 2"))),
        answer(plan(("call", 2, "Call Bob about item 3"))),  # one step off: within tolerance
        {**answer(plan(("call", 1, "Call Bob about item 4"))), "hold_after_chunks": 2},
    )
    out = tmp_path / "run.json"
    argv = [*BFF, "eval", "extractActionPlan", "--route", ROUTE, "--dataset", str(dataset),
            "--out", str(out), "--config", str(config), "--concurrency", "1"]  # fmt: skip
    process = subprocess.Popen(
        argv,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        sim.simulator.wait_until_held(1, timeout=60)  # cases 1-3 done, case 4 streaming
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "bff eval: interrupted after 3 cases" in stderr
    run = loaded(out)
    assert run.interrupted is True
    assert [(c.id, c.score) for c in run.cases] == [("c1", 1.0), ("c2", 1.0), ("c3", 1.0)]
    assert run.aggregates.overall.cases == 3
    assert "interrupted: only the cases that finished are counted" in stdout
    assert json.loads(out.read_text())["interrupted"] is True
    requests = sim.simulator.wait_until_settled()
    assert len(requests) == 4 and requests[3].hung_up  # the held stream was closed
