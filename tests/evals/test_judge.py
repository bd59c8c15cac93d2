"""The judge scorer against the simulator: a scripted grade replaces a free-text field's
word-F1 score, and the case's score is the weighted mean again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bff.testing.server import SimulatorServer
from tests.evals.eval_helpers import answer, clear_environment, loaded, run_eval, sim_config
from tests.evals.eval_helpers import write_dataset as write

EXPECTED = {
    "headline": "Refund not received after cancelling",
    "sentiment": "negative",
    "category": "billing",
    "urgent": True,
    "key_points": ["Customer cancelled in May", "Refund still missing"],
}
GOT = EXPECTED | {"headline": "Money back is late", "key_points": ["Cancelled in May, no refund"]}
RUBRIC = "Score 1 when the answer says the same thing as the reference, in any words."


def test_a_judge_grades_free_text_fields(
    tmp_path: Path, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_environment(monkeypatch)
    dataset = write(tmp_path / "t.jsonl", [
        {"id": "t1", "input": {"text": "I cancelled in May and I still have no refund!"},
         "expected": EXPECTED},
    ])  # fmt: skip
    (tmp_path / "rubric.md").write_text(RUBRIC + "\n", encoding="utf-8")
    sim.simulator.add(answer(GOT), model="gpt-4o")
    sim.simulator.add(
        answer({"score": 0.9, "reason": "Same meaning."}),
        answer({"score": 0.6, "reason": "Merges the two points."}),
        model="gpt-4o-mini",
    )
    out = tmp_path / "run.json"
    argv = ["--judge", "sim/gpt-4o-mini", "--rubric", str(tmp_path / "rubric.md")]
    assert run_eval("summarizeTicket", dataset, out, sim_config(tmp_path, sim), *argv) == 0

    run = loaded(out)
    (case,) = run.cases
    assert run.judge == "sim/gpt-4o-mini"
    assert {name: grade.score for name, grade in case.judge.items()} == {
        "headline": 0.9, "key_points": 0.6,
    }  # fmt: skip
    assert case.judge["key_points"].reason == "Merges the two points."
    assert case.fields == {
        "headline": 0.9, "sentiment": 1.0, "category": 1.0, "urgent": 1.0, "key_points": 0.6,
    }  # fmt: skip
    # Weights of summarizeTicket: headline 1, sentiment 1, category 1.5, urgent 1.5, points 1.
    assert case.score == pytest.approx((0.9 + 1 + 1.5 + 1.5 + 0.6) / 6)

    judged = [r for r in sim.simulator.requests if r.model == "gpt-4o-mini"]
    assert len(judged) == 2
    asked = judged[1].body["messages"][-1]["content"]
    assert RUBRIC in asked and "Field: key_points" in asked
    assert "- Refund still missing" in asked and "- Cancelled in May, no refund" in asked
    assert json.loads(out.read_text())["cases"][0]["judge"]["headline"]["reason"] == (
        "Same meaning."
    )
