"""Golden datasets: the loader refuses every kind of bad line with its number, and the
committed datasets load, cover the spread they promise, and never expect PII back."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bff.demo.countries import CountryBrief, table
from bff.demo.tasks import BRIEF_COUNTRY, EXTRACT_ACTION_PLAN, reference_tasks
from bff.evals.dataset import Case, Dataset, DatasetError, default_dataset, load_dataset
from bff.exceptions import InputRejectedError
from bff.pii import Redactor, build_scanner
from bff.run import ErrorCode
from bff.task_io import checked_input
from bff.tasks import Task
from tests.evals.eval_helpers import AWAITING_DATASETS, evaluated_tasks

GOOD = {"id": "a", "input": {"text": "Call Bob today."}, "expected": {"actions": []}}
FAMILIES = ("easy", "hard", "long", "pii", "injection", "markup", "empty", "error")
LANGUAGES = ("lang:de", "lang:fr", "lang:es")
PLACEHOLDER = re.compile(r"\[[A-Z]+_\d+\]")


def _write(path: Path, *lines: Any) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _error(path: Path) -> DatasetError:
    with pytest.raises(DatasetError) as caught:
        load_dataset(EXTRACT_ACTION_PLAN, path)
    return caught.value


def _case(**changes: Any) -> dict[str, Any]:
    case = {**GOOD, **changes}
    return {key: value for key, value in case.items() if value is not None}


BAD_LINES = [
    ('{"id": "b", ', "invalid JSON: Expecting property name enclosed in double quotes (column 13)"),
    ('{"id": "b", "id": "c"}', "invalid JSON: duplicate key 'id'"),
    ('{"id": NaN}', "invalid JSON: NaN is not a JSON number"),
    ("[1, 2]", "a case must be a JSON object, not an array"),
    ('"text"', "a case must be a JSON object, not a string"),
    (_case(expected=None), "missing key: expected"),
    ({"id": "b"}, "missing keys: expected, input"),
    (_case(id="b", expectd={}), "unknown key: expectd"),
    (_case(id=""), "id: must be a non-empty string"),
    (_case(id=7), "id: must be a non-empty string"),
    (_case(id="b", input={"text": ""}), "input: text: String should have at least 1 character"),
    (
        _case(id="b", input={"txt": "x"}),
        "input: text: Field required; txt: Extra inputs are not permitted",
    ),
    (
        _case(
            id="b", expected={"actions": [{"action_type": "call", "priority": 6, "summary": ""}]}
        ),
        "expected: actions[0].priority: Input should be less than or equal to 5",
    ),
    (
        _case(id="b", expected="REFUSE"),
        "expected: unknown error code 'REFUSE' (one of INPUT_REJECTED, ",
    ),
    (_case(id="b", expected=3), "expected: must be an object or an error code name, not a number"),
    (
        _case(id="b", expected=["REFUSED"]),
        "expected: must be an object or an error code name, not an array",
    ),
    (_case(id="b", tags="easy"), "tags: must be a list of non-empty strings"),
    (_case(id="b", tags=["easy", ""]), "tags: must be a list of non-empty strings"),
    (_case(id="b", notes=["x"]), "notes: must be a string, not an array"),
    (GOOD, "duplicate id 'a' (first on line 1)"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_bad_line_is_refused_with_its_number(tmp_path: Path, line: Any, message: str) -> None:
    path = _write(tmp_path / "x.jsonl", GOOD, "", line)
    error = _error(path)
    assert (error.path, error.line) == (path, 3)
    assert error.reason.startswith(message)
    assert str(error) == f"{path}:3: {error.reason}"


def test_the_message_names_the_file_as_given_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evals").mkdir()
    _write(tmp_path / "evals" / "x.jsonl", "", "", _case(expected={"actions": "none"}))
    error = _error(Path("evals/x.jsonl"))
    assert str(error) == "evals/x.jsonl:3: expected: actions: Input should be a valid list"
    assert str(_error(tmp_path / "evals" / "x.jsonl")).startswith("evals/x.jsonl:3: ")


def test_empty_unreadable_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert (_error(empty).line, _error(empty).reason) == (None, "the dataset has no cases")
    assert str(_error(empty)) == f"{empty}: the dataset has no cases"
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n\t\n", encoding="utf-8")
    assert _error(blank).reason == "the dataset has no cases"
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(GOOD).encode() + b'\n{"id": "caf\xe9"}\n')
    assert (_error(latin).line, _error(latin).reason) == (2, "the file is not UTF-8 (byte 0xe9)")
    missing = _error(tmp_path / "missing.jsonl")
    assert missing.line is None and missing.reason.startswith("cannot read the file: ")


def test_a_good_file_loads_with_its_hash_lines_and_error_codes(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    lines = [
        json.dumps(GOOD),
        "",
        json.dumps(_case(id="b", expected="INPUT_REJECTED", tags=["error"], notes="why")),
        json.dumps(_case(id="c", expected="REFUSED", notes=None)),
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())  # a BOM and CRLF too
    dataset = load_dataset(EXTRACT_ACTION_PLAN, path)
    assert dataset.task == "extractActionPlan" and dataset.path == path
    assert dataset.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    first, second, third = dataset.cases
    assert (first.id, first.line, first.tags, first.notes) == ("a", 1, (), None)
    assert first.input == EXTRACT_ACTION_PLAN.input_model(text="Call Bob today.")
    assert first.expected == EXTRACT_ACTION_PLAN.output_model(actions=[])
    assert (second.expected, second.line, second.tags, second.notes) == (
        ErrorCode.INPUT_REJECTED,
        3,
        ("error",),
        "why",
    )
    assert third.expected is ErrorCode.REFUSED


def test_only_the_tasks_awaiting_datasets_have_none() -> None:
    missing = {t.name for t in reference_tasks() if not default_dataset(t.name).is_file()}
    assert missing == AWAITING_DATASETS


def test_the_default_dataset_is_the_repository_s_else_the_current_directory_s() -> None:
    for task in evaluated_tasks():
        path = default_dataset(task.name)
        assert path.is_absolute() and path.is_file() and path.name == f"{task.name}.jsonl"
    assert default_dataset("myOwnTask") == Path("evals/myOwnTask.jsonl")


# --- the committed datasets ------------------------------------------------------------

DATASETS = {task.name: load_dataset(task, default_dataset(task.name)) for task in evaluated_tasks()}


def _cases() -> list[tuple[str, Case]]:
    return [(name, case) for name, dataset in DATASETS.items() for case in dataset.cases]


def _text(case: Case) -> str:
    """The case's input text: every reference task takes one string (``text``,
    ``question``)."""
    (value,) = case.input.model_dump().values()
    assert isinstance(value, str)
    return value


def _longest_input(task: Task[Any, Any]) -> int:
    """The longest text the task takes: its input limit, or its input field's own cap."""
    (field,) = task.input_model.model_fields.values()
    caps = [m.max_length for m in field.metadata if getattr(m, "max_length", None)]
    return min([task.max_input_chars, *caps])


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=list(DATASETS))
def test_each_committed_dataset_is_large_and_covers_the_spread(dataset: Dataset) -> None:
    assert len(dataset.cases) >= 50
    assert len({case.id for case in dataset.cases}) == len(dataset.cases)
    tags = {tag for case in dataset.cases for tag in case.tags}
    assert set(FAMILIES + LANGUAGES) <= tags
    codes = {case.expected for case in dataset.cases if isinstance(case.expected, ErrorCode)}
    assert {ErrorCode.INPUT_REJECTED, ErrorCode.REFUSED} <= codes
    longest = max(len(_text(case)) for case in dataset.cases)
    task = {t.name: t for t in reference_tasks()}[dataset.task]
    assert longest > 0.85 * _longest_input(task)


@pytest.mark.parametrize(("task", "case"), _cases(), ids=lambda v: getattr(v, "id", v))
def test_error_cases_are_tagged_and_reachable(task: str, case: Case) -> None:
    assert ("error" in case.tags) == isinstance(case.expected, ErrorCode)
    registry = {t.name: t for t in reference_tasks()}
    if case.expected is ErrorCode.INPUT_REJECTED:
        with pytest.raises(InputRejectedError):
            checked_input(registry[task], case.input)
    else:
        checked_input(registry[task], case.input)  # the BFF takes it to a model


def _pii(text: str) -> list[str]:
    """The values the project's own redactor finds in ``text``."""
    redactor = Redactor(build_scanner())
    return [redactor.restore(p) for p in set(PLACEHOLDER.findall(redactor.redact(text)))]


@pytest.mark.parametrize(("task", "case"), _cases(), ids=lambda v: getattr(v, "id", v))
def test_pii_is_tagged_and_never_expected_back(task: str, case: Case) -> None:
    values = _pii(_text(case))
    # "pii-false-positive": the redactor takes words of a case without PII for PII (place
    # names for people's names); the dataset says so rather than hide it (docs/pii.md).
    assert bool(values) == ("pii" in case.tags or "pii-false-positive" in case.tags)
    if values and not isinstance(case.expected, ErrorCode):
        dumped = [
            case.expected.model_dump_json(),
            json.dumps(case.expected.model_dump(mode="json"), ensure_ascii=False),
        ]
        assert [v for v in values if any(v in text for text in dumped)] == []


def test_country_facts_are_the_bundled_table_s() -> None:
    for case in DATASETS[BRIEF_COUNTRY.name].cases:
        if not isinstance(case.expected, CountryBrief):
            continue
        brief = case.expected
        facts = (brief.country, brief.capital, brief.currency, brief.calling_code)
        if brief.country is None:
            assert facts == (None, None, None, None), case.id
            continue
        row = table()[brief.country.lower()]
        assert facts == (row["name"], row["capital"], row["currency"], row["calling_code"])
