"""An eval run as the drift monitor's baseline: `--drift-baseline` prints the setting line,
and `BFF_DRIFT_BASELINE_FILE` makes the run's validation-failure rate the expected rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bff.api.runtime import Runtime
from bff.cli import main
from bff.config import Settings
from bff.demo.tasks import reference_tasks
from bff.exceptions import ConfigError
from bff.testing.server import SimulatorServer
from tests.evals.eval_helpers import (
    MALFORMED,
    answer,
    clear_environment,
    plan,
    run_eval,
    sim_config,
    write_dataset,
)


@pytest.fixture
def baseline(
    tmp_path: Path, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Path:  # fmt: skip
    """A run whose provider calls failed validation once in three."""
    clear_environment(monkeypatch)
    dataset = write_dataset(tmp_path / "d.jsonl", [
        {"id": "a", "input": {"text": "Call Bob today."},
         "expected": plan(("call", 1, "Call Bob today"))},
        {"id": "b", "input": {"text": "Nothing."}, "expected": plan()},
    ])  # fmt: skip
    sim.simulator.add(MALFORMED, answer(plan(("call", 1, "Call Bob today"))), answer(plan()))
    out = tmp_path / "run.json"
    assert run_eval("extractActionPlan", dataset, out, sim_config(tmp_path, sim),
                    "--drift-baseline") == 0  # fmt: skip
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "BFF_DRIFT_EXPECTED_RATE=0.333333"
    return out


def test_the_baseline_file_sets_the_expected_rate(
    baseline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BFF_DRIFT_BASELINE_FILE", str(baseline))
    settings = Settings()
    assert settings.drift_policy.expected_rate == pytest.approx(1 / 3)
    # The printed line means the same baseline as the file.
    printed = Settings(drift_baseline_file=None, drift_expected_rate=0.333333)
    assert printed.drift_policy.expected_rate == pytest.approx(settings.drift_policy.expected_rate)
    # The app's monitor judges drift against it from the first sample.
    monitor = Runtime(settings, reference_tasks()).observability.drift
    monitor.record("extractActionPlan", "demo/heuristic", failed=False)
    (status,) = monitor.statuses()
    assert status.baseline == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ("{oops", "{path} is not JSON"),
        ('{"format": 1, "aggregates": {"overall": {}}}',
         "{path} is not a `bff eval` run file (format 1) with a validation-failure rate"),
        ('{"format": 1, "aggregates": []}',
         "{path} is not a `bff eval` run file (format 1) with a validation-failure rate"),
    ],
)  # fmt: skip
def test_a_bad_baseline_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    content: str | None, message: str,
) -> None:  # fmt: skip
    clear_environment(monkeypatch)
    path = tmp_path / "base.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        Settings(drift_baseline_file=path)
    assert raised.value.problems == [("BFF_DRIFT_BASELINE_FILE", message.format(path=path))]
    monkeypatch.setenv("BFF_DRIFT_BASELINE_FILE", str(path))
    assert main(["serve", "--port", "1"]) == 2
    assert capsys.readouterr().err == (
        f"bff: invalid setting BFF_DRIFT_BASELINE_FILE: {message.format(path=path)}\n"
    )


def test_not_with_an_expected_rate(baseline: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings(drift_baseline_file=baseline, drift_expected_rate=0.1)
    assert raised.value.problems == [
        ("BFF_DRIFT_BASELINE_FILE",
         "set BFF_DRIFT_BASELINE_FILE or BFF_DRIFT_EXPECTED_RATE, not both"),
    ]  # fmt: skip
