"""RUN.json: what one eval run did, case by case, and its aggregates (``"format": 1``).

Written by ``bff eval``, read by ``bff eval compare`` and ``bff eval report``, and by
the drift monitor (``BFF_DRIFT_BASELINE_FILE`` reads ``aggregates.overall.
validation_failure_rate``). A file that is missing, not JSON or not of this format is a
``RunFileError`` with a message fit to print.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from bff.run import ErrorCode

FORMAT: Literal[1] = 1
PASS = 1.0 - 1e-9
"""A case passes when its score is 1 (within rounding)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListFigures(_Model):
    """Precision, recall and F1 of one list field."""

    precision: float = Field(ge=0, le=1)
    recall: float = Field(ge=0, le=1)
    f1: float = Field(ge=0, le=1)


class JudgeGrade(_Model):
    """A judge model's grade of one free-text field against the rubric."""

    score: float = Field(ge=0, le=1)
    reason: str


class CaseResult(_Model):
    """One case (one repeat of it): what it asked, what it expected, what it got."""

    id: str
    repeat: int = Field(1, ge=1)
    tags: tuple[str, ...] = ()
    input: JsonValue = None
    expected: JsonValue = None
    """The expected output, or None when an error code is expected."""
    expected_error: ErrorCode | None = None
    output: JsonValue = None
    """The output the client got (the safe response's too), or None on an error."""
    error: ErrorCode | None = None
    error_message: str | None = None
    outcome: str
    """``ok``, the fallback that answered (``model``, ``safe_response``), or the error code."""
    route: str = ""
    score: float = Field(ge=0, le=1)
    fields: dict[str, float] = {}
    lists: dict[str, ListFigures] = {}
    judge: dict[str, JudgeGrade] = {}
    attempts: int = 0
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    """Provider calls the run made."""
    verdicts: int = 0
    """Of those, the calls that reached a verdict on their output (valid, or failed
    validation): the drift monitor's samples. Provider errors and tool rounds are not."""
    validation_failures: int = 0
    """Of those, the calls whose output failed validation."""

    @property
    def passed(self) -> bool:
        return self.score >= PASS

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class TagFigures(_Model):
    cases: int
    passed: int
    score: float


class Overall(_Model):
    cases: int
    passed: int
    score: float
    """The mean case score (0 when there are no cases)."""
    provider_calls: int
    verdicts: int
    """Provider calls that reached a verdict on their output (the drift monitor's samples)."""
    validation_failures: int
    validation_failure_rate: float = Field(ge=0, le=1)
    """Validation failures over verdicts, as the drift monitor counts its window: the drift
    baseline."""
    latency_p50_ms: float
    latency_p95_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    outcomes: dict[str, int]


class Aggregates(_Model):
    overall: Overall
    fields: dict[str, float]
    """Mean score of each field over the cases that have it."""
    lists: dict[str, ListFigures]
    tags: dict[str, TagFigures]


class TaskInfo(_Model):
    name: str
    schema_sha256: str
    """SHA-256 of the canonical JSON of the task's output schema."""


class DatasetInfo(_Model):
    path: str
    sha256: str
    cases: int
    """Cases in the file (before a tag filter)."""


class RunSettings(_Model):
    """The settings that shape results."""

    max_attempts: int
    fallback_models: tuple[str, ...]
    request_timeout_s: float
    first_token_timeout_s: float
    connect_timeout_s: float
    read_timeout_s: float
    temperature: float | None
    max_tokens: int
    max_tokens_cap: int
    output_mode: str


class RunFile(_Model):
    format: Literal[1] = FORMAT
    task: TaskInfo
    route: str
    settings: RunSettings
    dataset: DatasetInfo
    repeat: int = Field(1, ge=1)
    concurrency: int = Field(1, ge=1)
    tags: tuple[str, ...] = ()
    """The tag filter (empty: every case)."""
    judge: str | None = None
    """The judge's route, when free-text fields were graded by one."""
    started_at: datetime
    finished_at: datetime
    interrupted: bool = False
    cases: tuple[CaseResult, ...]
    aggregates: Aggregates


class RunFileError(ValueError):
    """A run file that cannot be used; the message names the file and what is wrong."""


def schema_sha256(schema: dict[str, Any]) -> str:
    """SHA-256 of a JSON schema's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def write_run(path: Path, run: RunFile) -> None:
    """Write ``run`` to ``path`` (through a temporary file, so a reader never sees half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(run.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def load_run(path: Path) -> RunFile:
    """Read a run file; raises RunFileError saying what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such run file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise RunFileError(f"{path}: cannot read the run file ({reason})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(raw, dict) or "format" not in raw:
        raise RunFileError(f"{path}: not a run file of `bff eval` (no format)")
    if raw["format"] != FORMAT:
        raise RunFileError(f"{path}: run file format {raw['format']!r}; this bff reads {FORMAT}")
    try:
        return RunFile.model_validate(raw)
    except ValidationError as exc:
        raise RunFileError(f"{path}: not a valid run file: {_first_problems(exc)}") from None


def _first_problems(exc: ValidationError, most: int = 3) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
        for error in exc.errors()[:most]
    ]
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
