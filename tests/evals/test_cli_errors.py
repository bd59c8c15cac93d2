"""What `bff eval` says when it cannot run: one clean line on stderr, exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bff.cli import main
from tests.evals.eval_helpers import clear_environment, plan, write_dataset
from tests.processes import BFF, clean_env

GOOD = {"id": "a", "input": {"text": "Call Bob today."},
        "expected": plan(("call", 1, "Call Bob today"))}  # fmt: skip


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_environment(monkeypatch)


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    return err


def test_unknown_task_lists_the_known_ones_in_a_real_process() -> None:
    result = subprocess.run(
        [*BFF, "eval", "nope", "--route", "demo/heuristic"],
        env=clean_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "bff eval: unknown task 'nope' (known: extractActionPlan, summarizeTicket, "
        "briefCountry, answerFromDocs)\n"
    )


def test_bad_dataset_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text(json.dumps(GOOD) + "\n" + '{"id": "b", "input": \n', encoding="utf-8")
    argv = ["eval", "extractActionPlan", "--route", "demo/heuristic", "--dataset", str(dataset)]
    assert main(argv) == 2
    err = _err(capsys)
    assert err.startswith(f"bff eval: {dataset}:2: invalid JSON:") and err.count("\n") == 1

    write_dataset(dataset, [GOOD, {**GOOD, "id": "b", "expected": {"actions": "none"}}])
    assert main(argv) == 2
    assert _err(capsys).startswith(f"bff eval: {dataset}:2: expected:")

    assert main([*argv[:-1], str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: cannot read the file" in _err(capsys)


def test_bad_route_and_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_dataset(tmp_path / "d.jsonl", [GOOD])
    argv = ["eval", "extractActionPlan", "--dataset", str(dataset)]
    assert main([*argv, "--route", "nowhere/model"]) == 2
    assert _err(capsys).startswith("bff: invalid setting --route: unknown provider 'nowhere'")
    assert main([*argv, "--route", "demo/heuristic", "--config", "/nonexistent.toml"]) == 2
    assert _err(capsys) == (
        "bff: invalid setting --config: cannot read /nonexistent.toml: No such file or directory\n"
    )
    assert main([*argv, "--route", "demo/heuristic", "--tag", "nope"]) == 2
    assert _err(capsys) == f"bff eval: no case of {dataset} has the tag nope\n"
    assert main([*argv, "--route", "demo/heuristic", "--judge", "demo/heuristic"]) == 2
    assert _err(capsys) == "bff eval: --judge needs --rubric FILE\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such run file"),
        ("{not json", "not JSON (Expecting property name enclosed in double quotes, line 1)"),
        ('{"cases": []}', "not a run file of `bff eval` (no format)"),
        ('{"format": 7}', "run file format 7; this bff reads 1"),
        ('{"format": 1, "route": 3}', "not a valid run file: task: Field required"),
    ],
)
def test_bad_run_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    for argv in (["compare", str(bad), str(bad)], ["report", str(bad)]):
        assert main(["eval", *argv]) == 2
        err = _err(capsys)
        assert err.startswith(f"bff eval: {bad}: {message}") and err.count("\n") == 1, err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["eval"], ["eval", "extractActionPlan"], ["eval", "compare", "one.json"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        assert "usage: bff eval" in capsys.readouterr().err
