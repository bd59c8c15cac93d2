"""Golden datasets: JSON Lines files of cases, each an input and the output (or the
error code) a run of the task should end with.

One case a line (blank lines are skipped)::

    {"id": "call-bob", "input": {"text": "Call Bob today."},
     "expected": {"actions": [...]}, "tags": ["easy"], "notes": "..."}

``expected`` is an object the task's output model validates, or the name of an
``ErrorCode`` such as ``"INPUT_REJECTED"``. Anything else is a ``DatasetError``
naming the file and the line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bff.run import ErrorCode
from bff.tasks import Task
from bff.vocabulary import format_errors

_REPOSITORY = Path(__file__).resolve().parents[2]
_REQUIRED = frozenset({"id", "input", "expected"})
_KEYS = _REQUIRED | {"tags", "notes"}


@dataclass(frozen=True)
class Case:
    """One golden case: the input, and the output or error code a run should end with."""

    id: str
    input: BaseModel
    expected: BaseModel | ErrorCode
    tags: tuple[str, ...]
    notes: str | None
    line: int


@dataclass(frozen=True)
class Dataset:
    """A task's cases, the file they came from and the SHA-256 of its bytes."""

    task: str
    path: Path
    cases: tuple[Case, ...]
    sha256: str


class DatasetError(ValueError):
    """A dataset that cannot be used: the file, the line (None for the whole file) and why."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = _display(path) if line is None else f"{_display(path)}:{line}"
        super().__init__(f"{where}: {message}")


def default_dataset(task_name: str) -> Path:
    """``evals/<task_name>.jsonl`` of the repository, else of the current directory."""
    bundled = _REPOSITORY / "evals" / f"{task_name}.jsonl"
    return bundled if bundled.is_file() else Path("evals") / f"{task_name}.jsonl"


def load_dataset(task: Task[Any, Any], path: Path) -> Dataset:
    """The cases of ``path``, each checked against the task's models; raises
    DatasetError at the first problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(path, None, f"cannot read the file: {exc.strerror or exc}") from None
    cases: list[Case] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(_decode(path, data).split("\n"), start=1):
        if not line.strip():
            continue
        case = _case(task, path, number, line)
        if case.id in first_line:
            message = f"duplicate id {case.id!r} (first on line {first_line[case.id]})"
            raise DatasetError(path, number, message)
        first_line[case.id] = number
        cases.append(case)
    if not cases:
        raise DatasetError(path, None, "the dataset has no cases")
    return Dataset(task.name, path, tuple(cases), hashlib.sha256(data).hexdigest())


def _display(path: Path) -> str:
    """``path`` relative to the current directory when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _decode(path: Path, data: bytes) -> str:
    """The file's text (a leading byte-order mark dropped); refuses what is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise DatasetError(path, line, f"the file is not UTF-8 (byte 0x{byte:02x})") from None


def _case(task: Task[Any, Any], path: Path, number: int, line: str) -> Case:
    """One line made into a case; raises DatasetError naming the line."""
    try:
        raw = json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError as exc:
        detail = f"{exc.msg} (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else exc
        raise DatasetError(path, number, f"invalid JSON: {detail}") from None
    try:
        return _fields(task, raw, number)
    except ValueError as exc:
        raise DatasetError(path, number, str(exc)) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"duplicate key {key!r}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _fields(task: Task[Any, Any], raw: Any, number: int) -> Case:
    """The case's fields checked one by one; raises ValueError with the message to show."""
    if not isinstance(raw, dict):
        raise ValueError(f"a case must be a JSON object, not {_json_kind(raw)}")
    missing = sorted(_REQUIRED - raw.keys())
    if missing:
        raise ValueError(f"missing key{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    unknown = sorted(raw.keys() - _KEYS)
    if unknown:
        raise ValueError(f"unknown key{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    case_id = raw["id"]
    if not isinstance(case_id, str) or not case_id.strip():
        raise ValueError("id: must be a non-empty string")
    return Case(
        id=case_id,
        input=_validated("input", task.input_model, raw["input"]),
        expected=_expected(task, raw["expected"]),
        tags=_tags(raw.get("tags", [])),
        notes=_notes(raw.get("notes")),
        line=number,
    )


def _validated(key: str, model: type[BaseModel], value: Any) -> BaseModel:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ValueError(f"{key}: {'; '.join(format_errors(exc))}") from None


def _expected(task: Task[Any, Any], value: Any) -> BaseModel | ErrorCode:
    """The output ``value`` describes, or the error code it names."""
    if isinstance(value, str):
        code = ErrorCode.__members__.get(value)
        if code is None:
            names = ", ".join(ErrorCode.__members__)
            raise ValueError(f"expected: unknown error code {value!r} (one of {names})")
        return code
    if not isinstance(value, dict):
        raise ValueError(
            f"expected: must be an object or an error code name, not {_json_kind(value)}"
        )
    return _validated("expected", task.output_model, value)


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise ValueError("tags: must be a list of non-empty strings")
    return tuple(value)


def _notes(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"notes: must be a string, not {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    """What ``value`` is, in JSON's words: an array, a string, a number..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    kinds = {dict: "an object", list: "an array", str: "a string", int: "a number"}
    return kinds.get(type(value), "a number")
