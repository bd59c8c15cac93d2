"""`bff eval` over the loopback simulator with scripted answers, some deliberately wrong:
the exact scores in RUN.json, then `bff eval compare` on runs that differ on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bff.cli import main
from bff.demo.action_plan import extract_action_plan
from bff.evals.compare import compare
from bff.run import ErrorCode
from bff.testing.server import SimulatorServer
from tests.evals.eval_helpers import (
    MALFORMED,
    TASKS_SPEC,
    answer,
    clear_environment,
    loaded,
    plan,
    run_eval,
    sim_config,
    write_dataset,
)

SAFE_TEXT = "Book the venue and pay the caterer by Friday."
CASES = [
    {"id": "c1", "input": {"text": "Call Bob today."},
     "expected": plan(("call", 1, "Call Bob today")), "tags": ["easy"]},
    {"id": "c2", "input": {"text": "Email Ann the report by Friday."},
     "expected": plan(("email", 2, "Email Ann the report")), "tags": ["easy"]},
    {"id": "c3", "input": {"text": "Nothing to do here."}, "expected": plan(), "tags": ["empty"]},
    {"id": "c4", "input": {"text": SAFE_TEXT},
     "expected": extract_action_plan(SAFE_TEXT).model_dump(mode="json"), "tags": ["hard"]},
    {"id": "c5", "input": {"text": "Call Bob and email Ann."},
     "expected": plan(("call", 1, "Call Bob"), ("email", 2, "Email Ann")), "tags": ["hard"]},
]  # fmt: skip


def script_base(sim: SimulatorServer) -> None:
    """c1 right; c2's priority two steps off; c3 malformed once, then right; c4 malformed
    three times (VALIDATION_FAILED; with --safe-response, the safe response answers); c5
    one action of two."""
    sim.simulator.add(
        answer(plan(("call", 1, "Call Bob today"))),
        answer(plan(("email", 4, "Email Ann the report"))),
        MALFORMED,
        answer(plan()),
        MALFORMED, MALFORMED, MALFORMED,
        answer(plan(("call", 1, "Call Bob"))),
    )  # fmt: skip


def script_new(sim: SimulatorServer) -> None:
    """As the base, except that c1 is now wrong (priority 3) and c2 right."""
    sim.simulator.add(
        answer(plan(("call", 3, "Call Bob today"))),
        answer(plan(("email", 2, "Email Ann the report"))),
        answer(plan()),
        MALFORMED, MALFORMED, MALFORMED,
        answer(plan(("call", 1, "Call Bob"))),
    )  # fmt: skip


@pytest.fixture
def setup(
    tmp_path: Path, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    clear_environment(monkeypatch)
    return write_dataset(tmp_path / "plans.jsonl", CASES), sim_config(tmp_path, sim)


@pytest.mark.parametrize(
    ("flags", "c4_score", "c4_outcome"),
    [((), 0.0, "VALIDATION_FAILED"), (("--safe-response",), 1.0, "safe_response")],
)
def test_scores_each_case_exactly(
    setup: tuple[Path, Path],
    sim: SimulatorServer,
    tmp_path: Path,
    flags: tuple[str, ...],
    c4_score: float,
    c4_outcome: str,
) -> None:
    dataset, config = setup
    script_base(sim)
    assert run_eval("extractActionPlan", dataset, tmp_path / "base.json", config, *flags) == 0
    run = loaded(tmp_path / "base.json")
    assert [c.id for c in run.cases] == ["c1", "c2", "c3", "c4", "c5"]
    assert [c.score for c in run.cases] == pytest.approx([1, 2 / 3, 1, c4_score, 2 / 3])
    assert [c.outcome for c in run.cases] == ["ok", "ok", "ok", c4_outcome, "ok"]
    assert [c.attempts for c in run.cases] == [1, 1, 2, 3, 1]
    assert [c.validation_failures for c in run.cases] == [0, 0, 1, 3, 0]
    c5 = run.cases[4].lists["actions"]
    assert (c5.precision, c5.recall, c5.f1) == pytest.approx((1.0, 0.5, 2 / 3))
    assert run.cases[1].output == plan(("email", 4, "Email Ann the report"))
    overall = run.aggregates.overall
    assert (overall.cases, overall.passed) == (5, 2 + int(c4_score))
    assert overall.score == pytest.approx((1 + 2 / 3 + 1 + c4_score + 2 / 3) / 5)
    assert (overall.provider_calls, overall.verdicts, overall.validation_failures) == (8, 8, 4)
    assert overall.validation_failure_rate == 0.5
    assert overall.outcomes == {"ok": 4, c4_outcome: 1}
    assert run.aggregates.tags["easy"].score == pytest.approx((1 + 2 / 3) / 2)
    assert run.aggregates.tags["hard"].passed == int(c4_score)
    assert run.route == "sim/gpt-4o" and run.task.name == "extractActionPlan"
    assert run.settings.max_attempts == 3 and not run.interrupted
    assert run.dataset.cases == 5 and len(run.dataset.sha256) == 64
    assert all(c.prompt_tokens > 0 and c.latency_ms > 0 for c in run.cases)


def test_compare_flags_exactly_the_regressions(
    setup: tuple[Path, Path], sim: SimulatorServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    dataset, config = setup
    base, again, new = tmp_path / "base.json", tmp_path / "again.json", tmp_path / "new.json"
    script_base(sim)
    assert run_eval("extractActionPlan", dataset, base, config) == 0
    script_base(sim)
    assert run_eval("extractActionPlan", dataset, again, config) == 0
    script_new(sim)
    assert run_eval("extractActionPlan", dataset, new, config) == 0
    capsys.readouterr()

    assert main(["eval", "compare", str(base), str(again)]) == 0
    assert capsys.readouterr().out.strip().endswith("no regression")

    assert main(["eval", "compare", str(base), str(new), "--max-drop", "1"]) == 1
    out = capsys.readouterr().out
    comparison = compare(loaded(base), loaded(new))
    assert [c.id for c in comparison.broken] == ["c1"]
    assert [c.id for c in comparison.cases if c.status == "regressed"] == ["c1"]
    assert [c.id for c in comparison.cases if c.status == "improved"] == ["c2"]
    assert comparison.base_score == pytest.approx(comparison.new_score)  # one up, one down
    assert "c1  1.000 -> 0.667" in out and "FAILS NOW" in out
    assert "improved  c2  0.667 -> 1.000" in out
    assert "REGRESSION: 1 passing cases now fail: c1" in out


def test_compare_fails_on_a_drop_over_the_threshold(
    setup: tuple[Path, Path], sim: SimulatorServer, tmp_path: Path
) -> None:
    dataset, config = setup
    base, worse = tmp_path / "base.json", tmp_path / "worse.json"
    script_base(sim)
    assert run_eval("extractActionPlan", dataset, base, config) == 0
    sim.simulator.add(  # c2 entirely wrong now: 2/3 -> 0, and no passing case breaks
        answer(plan(("call", 1, "Call Bob today"))),
        answer(plan(("call", 5, "Ring someone"))),
        answer(plan()),
        MALFORMED, MALFORMED, MALFORMED,
        answer(plan(("call", 1, "Call Bob"))),
    )  # fmt: skip
    assert run_eval("extractActionPlan", dataset, worse, config) == 0
    comparison = compare(loaded(base), loaded(worse))
    assert comparison.broken == []
    assert comparison.base_score - comparison.new_score == pytest.approx(2 / 3 / 5)
    assert main(["eval", "compare", str(base), str(worse), "--max-drop", "0.1"]) == 1
    assert main(["eval", "compare", str(base), str(worse), "--max-drop", "0.2"]) == 0


def test_compare_refuses_other_datasets_schemas_and_tasks(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, config = setup
    base = tmp_path / "base.json"
    assert run_eval("extractActionPlan", dataset, base, config, route="demo/heuristic") == 0
    other = write_dataset(tmp_path / "other.jsonl", CASES[:3])
    assert run_eval("extractActionPlan", other, tmp_path / "o.json", config,
                    route="demo/heuristic") == 0  # fmt: skip
    capsys.readouterr()
    assert main(["eval", "compare", str(base), str(tmp_path / "o.json")]) == 2
    assert "the runs used different datasets" in capsys.readouterr().err

    raw = json.loads(base.read_text())
    raw["task"]["schema_sha256"] = "0" * 64
    (tmp_path / "schema.json").write_text(json.dumps(raw))
    assert main(["eval", "compare", str(base), str(tmp_path / "schema.json")]) == 2
    assert "the output schema of extractActionPlan changed" in capsys.readouterr().err

    raw["task"]["name"] = "summarizeTicket"
    (tmp_path / "task.json").write_text(json.dumps(raw))
    assert main(["eval", "compare", str(base), str(tmp_path / "task.json")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "bff eval: the runs are of different tasks: extractActionPlan and summarizeTicket\n"
    )


def test_expected_error_codes_and_failed_runs(
    setup: tuple[Path, Path], sim: SimulatorServer, tmp_path: Path
) -> None:
    _, config = setup
    dataset = write_dataset(tmp_path / "reviews.jsonl", [
        {"id": "r1", "input": {"text": "asdf"}, "expected": "VALIDATION_FAILED"},
        {"id": "r2", "input": {"text": "Great food."},
         "expected": {"stars": 5, "verdict": "Great food"}},
        {"id": "r3", "input": {"text": "Cold soup."}, "expected": "VALIDATION_FAILED"},
    ])  # fmt: skip
    sim.simulator.add(
        MALFORMED, MALFORMED, MALFORMED,
        MALFORMED, MALFORMED, MALFORMED,
        answer({"stars": 2, "verdict": "Cold soup"}),
    )  # fmt: skip
    out = tmp_path / "reviews.json"
    assert run_eval("rateReview", dataset, out, config, "--tasks", TASKS_SPEC) == 0
    run = loaded(out)
    assert [c.score for c in run.cases] == [1.0, 0.0, 0.0]
    assert [c.outcome for c in run.cases] == ["VALIDATION_FAILED", "VALIDATION_FAILED", "ok"]
    assert run.cases[0].expected_error is ErrorCode.VALIDATION_FAILED
    assert run.cases[1].fields == {"stars": 0.0, "verdict": 0.0}
    assert run.cases[1].error is ErrorCode.VALIDATION_FAILED and run.cases[1].output is None
    assert run.cases[2].output == {"stars": 2, "verdict": "Cold soup"}
    assert run.aggregates.overall.validation_failure_rate == pytest.approx(6 / 7)


def test_repeat_and_tags(setup: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, config = setup
    out = tmp_path / "hard.json"
    argv = ["--tag", "hard", "--tag", "empty", "--repeat", "2"]
    assert run_eval("extractActionPlan", dataset, out, config, *argv, route="demo/heuristic") == 0
    run = loaded(out)
    assert [(c.id, c.repeat) for c in run.cases] == [
        ("c3", 1), ("c3", 2), ("c4", 1), ("c4", 2), ("c5", 1), ("c5", 2),
    ]  # fmt: skip
    assert run.repeat == 2 and run.tags == ("hard", "empty")
    assert run.cases[0].score == run.cases[1].score == 1.0
