"""A task's input on its way in and its output on its way out: control characters and
size limits, PII redaction before the provider sees anything, and restoration."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from bff.context.snippets import Snippet
from bff.exceptions import InputRejectedError
from bff.pii import Redactor, Scanner
from bff.providers._types import Message
from bff.sanitize import clean_text, map_strings, strings
from bff.tasks import Task
from bff.tokens import estimate_tokens
from bff.vocabulary import format_errors


def checked_input(task: Task[Any, Any], data: BaseModel) -> BaseModel:
    """The input with control characters stripped; raises InputRejectedError for an
    input over ``max_input_chars``."""
    values = map_strings(data.model_dump(mode="json"), clean_text)
    chars = sum(map(len, strings(values)))
    if chars > task.max_input_chars:
        raise InputRejectedError(
            f"the input is {chars} characters; max_input_chars is {task.max_input_chars}"
        )
    try:
        checked: BaseModel = task.input_model.model_validate(values)
    except ValidationError as exc:  # stripping control characters broke a constraint
        raise InputRejectedError("; ".join(format_errors(exc))) from None
    return checked


def redacted_input(task: Task[Any, Any], data: BaseModel, redactor: Redactor) -> BaseModel:
    """The input with PII replaced by placeholders: nothing sensitive leaves for a provider."""
    dumped = data.model_dump(mode="json")
    redactor.reserve(strings(dumped))
    values = map_strings(dumped, redactor.redact)
    try:
        redacted: BaseModel = task.input_model.model_validate(values)
    except ValidationError:
        # A placeholder broke a constraint of the input model: send the redacted text
        # anyway, unvalidated; the originals still never leave.
        redacted = task.input_model.model_construct(**values)
    return redacted


def restored(task: Task[Any, Any], output: BaseModel, redactor: Redactor) -> BaseModel:
    """The output with the originals put back, when the task asks and it still validates."""
    if not task.restore_pii or not redactor.counts:
        return output
    try:
        restored: BaseModel = task.output_model.model_validate_json(
            redactor.restore(output.model_dump_json())
        )
    except ValidationError:
        return output
    return restored


@dataclass(frozen=True, slots=True)
class Prepared:
    """A task's input made ready for a provider: checked, redacted, in messages."""

    data: BaseModel
    redacted: BaseModel
    redactor: Redactor
    messages: tuple[Message, ...]
    snippets: tuple[Snippet, ...] = ()
    """The snippets the messages quote (as retrieved; the messages carry them redacted)."""


def prepared_input(task: Task[Any, Any], data: BaseModel, pii: Scanner) -> Prepared:
    """The input checked, redacted (the PII ``pii`` finds) and turned into the task's
    messages; raises InputRejectedError when it breaks a limit (characters, or the
    prompt's tokens)."""
    data = checked_input(task, data)
    redactor = Redactor(pii)
    redacted = redacted_input(task, data, redactor)
    return Prepared(data, redacted, redactor, _within_limit(task, task.messages(redacted)))


def with_context(task: Task[Any, Any], prepared: Prepared, snippets: Sequence[Snippet]) -> Prepared:
    """``prepared`` with its messages quoting ``snippets``, their PII redacted like the
    input's (the same placeholders); raises InputRejectedError over max_input_tokens."""
    redact = prepared.redactor.redact
    quoted = [dataclasses.replace(s, title=redact(s.title), text=redact(s.text)) for s in snippets]
    messages = _within_limit(task, task.messages(prepared.redacted, quoted))
    return dataclasses.replace(prepared, messages=messages, snippets=tuple(snippets))


def _within_limit(task: Task[Any, Any], messages: tuple[Message, ...]) -> tuple[Message, ...]:
    prompt_tokens = sum(estimate_tokens(m.content or "") for m in messages)
    if prompt_tokens > task.max_input_tokens:
        limit = task.max_input_tokens
        raise InputRejectedError(
            f"the prompt is about {prompt_tokens} tokens; max_input_tokens is {limit}"
        )
    return messages
